"""Dashboard template variables: which Prometheus, which Canary, which backends and metrics.

Variables are resolved by Grafana from the controller's own metrics (``label_values``),
so a dashboard needs no configuration beyond a Prometheus datasource. The test suite
turns every ``label_values(selector, label)`` query into PromQL and runs it, and
substitutes these names in panel queries, so the names here are the ones that matter.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.models import dashboard as models

from routeshift.dashboards.panels import DATASOURCE

_ALL = models.VariableOption(selected=True, text="All", value="$__all")


def datasource() -> builders.DatasourceVariable:
    return builders.DatasourceVariable("datasource").label("Prometheus").type("prometheus")


def label_values(name: str, label: str, selector: str, metric_label: str, *, multi: bool = False,
                 hidden: bool = False, description: str = "") -> builders.QueryVariable:
    """A variable listing the values of ``metric_label`` on the series matching ``selector``.

    Multi-valued variables default to All, which Grafana expands to a ``(a|b)`` regex:
    queries must match them with ``=~``.
    """
    variable = (builders.QueryVariable(name).label(label).description(description).datasource(DATASOURCE)
                .query(f"label_values({selector}, {metric_label})")
                .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(models.VariableSort.ALPHABETICAL_ASC))
    if multi:
        variable = variable.multi(True).include_all(True).current(_ALL)
    if hidden:
        variable = variable.hide(models.VariableHide.HIDE_VARIABLE)
    return variable
