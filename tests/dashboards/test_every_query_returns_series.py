"""Every query of every dashboard runs on a real Prometheus and returns series.

No Grafana can be installed here, so the test does what Grafana would: substitute the
template variables as Grafana does (single values as-is, multi-value "All" as an
``(a|b)`` regex, repeated panels once per value, ``$__rate_interval`` and friends as
durations) and run each panel target, annotation and variable query over the backfilled
window. A query that errors, names a metric or label outside the contract, or finds
nothing fails the test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from routeshift.dashboards import render

CHART_DASHBOARDS = Path(render.REPO_ROOT) / "charts" / "routeshift" / "dashboards"

#: DESIGN.md §3 and §5, plus two more controller series the dashboards and alerts use
#: (routeshift_reconcile_errors_total, routeshift_analysis_threshold).
CONTRACT_METRICS = {
    "routeshift_canary_weight", "routeshift_canary_phase", "routeshift_canary_step", "routeshift_analysis_value",
    "routeshift_analysis_verdicts_total", "routeshift_rollouts_total", "routeshift_rollout_duration_seconds_bucket",
    "routeshift_gateway_requests_total", "routeshift_gateway_request_duration_seconds_bucket",
    "routeshift_reconcile_errors_total", "routeshift_analysis_threshold",
}

#: What Grafana would put in for the built-in interval variables on a 1h range, 15s scrapes.
BUILTINS = {"$__rate_interval": "1m", "$__interval": "30s", "$__range": "1h"}
LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")

#: Variable values per dashboard, as a viewer of the backfilled data would pick them.
SELECTIONS = {
    "routeshift-canary": {"namespace": ["shop"], "canary": ["checkout"],
                          "backend": ["checkout-primary", "checkout-canary"],
                          "metric": ["request-success-rate", "request-duration-p99"]},
    "routeshift-controller": {"namespace": ["shop", "payments"]},
}


def _dashboard(name: str) -> dict:
    return json.loads((CHART_DASHBOARDS / f"{name}.json").read_text())


def _substitute(expr: str, values: dict[str, list[str]], multi: set[str]) -> str:
    for builtin, duration in BUILTINS.items():
        expr = expr.replace(builtin, duration)
    # Longest names first so $canary never eats the start of a longer variable name.
    for name in sorted(values, key=len, reverse=True):
        chosen = values[name]
        value = f"({'|'.join(chosen)})" if name in multi and len(chosen) > 1 else chosen[0]
        expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
    assert "$" not in expr, f"unsubstituted variable in {expr!r}"
    return expr


def _queries(name: str) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every target, annotation and variable of one dashboard."""
    dashboard = _dashboard(name)
    variables = {v["name"]: v for v in dashboard["templating"]["list"] if v["type"] == "query"}
    multi = {name for name, variable in variables.items() if variable.get("multi")}
    selection = SELECTIONS[name]
    assert set(variables) == set(selection), "a variable was added or removed: update SELECTIONS"
    for variable in variables.values():
        match = LABEL_VALUES.match(variable["query"])
        assert match, f"variable {variable['name']}: not a label_values() query"
        expr = f"group by ({match['label']}) ({match['selector']})"
        yield f"variable {variable['name']}", _substitute(expr, selection, multi)
    for annotation in dashboard.get("annotations", {}).get("list", []):
        yield f"annotation {annotation['name']}", _substitute(annotation["expr"], selection, multi)
    for panel in render.panels_of(dashboard):
        repeat = panel.get("repeat")
        # Grafana clones a repeated panel per selected value, each seeing one value.
        for value in selection[repeat] if repeat else [None]:
            chosen = {**selection, repeat: [value]} if repeat else selection
            for target in panel.get("targets", []):
                where = f"panel {panel['title']!r}{f' ({value})' if value else ''} {target['refId']}"
                yield where, _substitute(target["expr"], chosen, multi)


CASES = [pytest.param(name, where, expr, id=f"{name}: {where}")
         for name in render.DASHBOARDS for where, expr in _queries(name)]


@pytest.mark.parametrize(("dashboard", "where", "expr"), CASES)
def test_query_returns_series(contract_data, dashboard, where, expr):
    names = set(re.findall(r"\b(routeshift_[a-z_]+)\b", expr))
    assert names <= CONTRACT_METRICS, f"{where}: metrics outside the contract: {names - CONTRACT_METRICS}"
    series = contract_data.prometheus.query_range(
        expr, start=contract_data.start + 600, end=contract_data.end, step=60)
    assert series, f"{where}: no series for {expr}"
    values = [float(value) for one in series for _, value in one["values"]]
    assert any(value == value for value in values), f"{where}: only NaN for {expr}"


def test_every_dashboard_has_queries():
    for name in render.DASHBOARDS:
        assert sum(1 for _ in _queries(name)) >= 10, name


def test_canary_queries_see_only_the_selected_canary(contract_data):
    """The per-Canary panels must not leak the other Canary's backends into the picture."""
    expr = _substitute(
        next(t["expr"] for p in render.panels_of(_dashboard("routeshift-canary"))
             if p.get("title") == "Request rate" for t in p["targets"]),
        SELECTIONS["routeshift-canary"], {"backend", "metric"})
    series = contract_data.prometheus.query(expr, at=contract_data.end)
    assert {one["metric"]["backend"] for one in series} == {"checkout-primary", "checkout-canary"}
