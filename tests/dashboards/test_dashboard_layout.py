"""Dashboards are well-formed for Grafana: grid, ids, datasource, variables and units.

Grafana does not reject a panel that hangs off the 24-column grid or one that silently
queries the default datasource; these checks stand in for opening it by eye.
"""

import json

import pytest

from routeshift.dashboards import render

DASHBOARDS = {name: json.loads(text) for name, text in render.rendered().items()}


@pytest.fixture(params=sorted(DASHBOARDS))
def dashboard(request):
    return DASHBOARDS[request.param]


def _cells(panel):
    grid = panel["gridPos"]
    return {(x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])}


def test_panels_fit_the_grid_without_overlapping(dashboard):
    taken: set[tuple[int, int]] = set()
    for panel in render.panels_of(dashboard):
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        cells = _cells(panel)
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells


def test_panel_ids_are_unique_and_positive(dashboard):
    ids = [panel["id"] for panel in render.panels_of(dashboard)]
    assert len(ids) == len(set(ids)) and min(ids) >= 1


def test_every_query_goes_to_the_datasource_variable(dashboard):
    names = {variable["name"] for variable in dashboard["templating"]["list"]}
    assert "datasource" in names
    for panel in render.panels_of(dashboard):
        for target in panel.get("targets", []):
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert target["refId"], panel["title"]
    for annotation in dashboard.get("annotations", {}).get("list", []):
        assert annotation["datasource"]["uid"] == "${datasource}"


def test_uid_and_tag_let_dashboards_link_to_each_other(dashboard):
    assert dashboard["uid"] in render.DASHBOARDS
    assert "routeshift" in dashboard["tags"]
    assert dashboard["links"][0]["tags"] == ["routeshift"]


def test_canary_dashboard_marks_promotions_and_rollbacks():
    annotations = {a["name"]: a for a in DASHBOARDS["routeshift-canary.json"]["annotations"]["list"]}
    assert {"Promoted", "Rolled back", "Undone"} <= set(annotations)
    assert 'result="succeeded"' in annotations["Promoted"]["expr"]
    assert 'result="failed"' in annotations["Rolled back"]["expr"]


def test_analysis_panel_repeats_per_metric_and_shows_bounds():
    panel = next(p for p in render.panels_of(DASHBOARDS["routeshift-canary.json"]) if p.get("repeat") == "metric")
    exprs = [target["expr"] for target in panel["targets"]]
    assert any("routeshift_analysis_value" in expr for expr in exprs)
    assert any("routeshift_analysis_threshold" in expr for expr in exprs)
