"""The few panel shapes our dashboards use, built with grafana-foundation-sdk.

Each dashboard module states *what* to chart (PromQL, legend, unit); this module owns
*how* Grafana draws it, so every panel gets the same datasource variable, legend and
colour conventions and a dashboard file reads as a list of questions it answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import bargauge, common, prometheus, stat, statetimeline, timeseries
from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models

#: Every query goes to the Prometheus the viewer picks in the ``datasource`` variable.
DATASOURCE = models.DataSourceRef(type_val="prometheus", uid="${datasource}")

#: Fixed colours for the Argo verdicts, so "Failed" is red on every panel.
VERDICT_COLOURS = {"Successful": "green", "Failed": "red", "Inconclusive": "yellow", "Error": "purple"}


@dataclass(frozen=True)
class Query:
    """One PromQL target: the expression and how its series are named in the legend."""

    expr: str
    legend: str
    instant: bool = False


def _targets(queries: Sequence[Query]) -> list[prometheus.Dataquery]:
    targets = []
    for index, query in enumerate(queries):
        target = prometheus.Dataquery().expr(query.expr).legend_format(query.legend).ref_id(chr(ord("A") + index))
        target = target.instant() if query.instant else target.range()
        targets.append(target.datasource(DATASOURCE))
    return targets


def _fixed_colour(colour: str) -> models.DynamicConfigValue:
    return models.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": colour})


def _legend() -> common.VizLegendOptions:
    return (common.VizLegendOptions().display_mode(common_models.LegendDisplayMode.TABLE)
            .placement(common_models.LegendPlacement.BOTTOM).show_legend(True).calcs(["lastNotNull", "max"]))


def graph(title: str, description: str, queries: Sequence[Query], *, unit: str, width: int = 12,
          height: int = 8, bars: bool = False, stacked: bool = False, minimum: float | None = None,
          maximum: float | None = None, colours: Mapping[str, str] | None = None, dashed: str | None = None,
          repeat: str | None = None) -> timeseries.Panel:
    """A time series panel; ``colours`` pins series by display name, ``dashed`` dashes series matching a regex."""
    panel = (timeseries.Panel().title(title).description(description).datasource(DATASOURCE)
             .targets(_targets(queries)).unit(unit).span(width).height(height).legend(_legend())
             .line_width(2).fill_opacity(10 if not bars else 80))
    if bars:
        panel = panel.draw_style(common_models.GraphDrawStyle.BARS)
    if stacked:
        panel = panel.stacking(common.StackingConfig().mode(common_models.StackingMode.NORMAL))
    if minimum is not None:
        panel = panel.min(minimum)
    if maximum is not None:
        panel = panel.max(maximum)
    for name, colour in (colours or {}).items():
        panel = panel.override_by_name(name, [_fixed_colour(colour)])
    if dashed is not None:
        panel = panel.override_by_regexp(dashed, [
            models.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}),
            models.DynamicConfigValue(id_val="custom.fillOpacity", value=0),
        ])
    if repeat is not None:
        panel = panel.repeat(repeat).repeat_direction("h").max_per_row(3)
    return panel


def single(title: str, description: str, query: Query, *, unit: str = "none", width: int = 6,
           height: int = 4, show: str = "value") -> stat.Panel:
    """A big number (``show="value"``) or the name of the series that is present (``show="name"``)."""
    mode = common_models.BigValueTextMode.NAME if show == "name" else common_models.BigValueTextMode.VALUE
    return (stat.Panel().title(title).description(description).datasource(DATASOURCE)
            .targets(_targets([query])).unit(unit).span(width).height(height)
            .text_mode(mode).graph_mode(common_models.BigValueGraphMode.NONE)
            .color_mode(common_models.BigValueColorMode.VALUE)
            .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False)))


def bars_by_series(title: str, description: str, query: Query, *, unit: str = "short", width: int = 6,
                   height: int = 8, colours: Mapping[str, str] | None = None) -> bargauge.Panel:
    """One horizontal bar per series, e.g. rollouts per result over the dashboard's range."""
    panel = (bargauge.Panel().title(title).description(description).datasource(DATASOURCE)
             .targets(_targets([query])).unit(unit).span(width).height(height)
             .orientation(common_models.VizOrientation.HORIZONTAL)
             .display_mode(common_models.BarGaugeDisplayMode.BASIC)
             .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False)))
    for name, colour in (colours or {}).items():
        panel = panel.override_by_name(name, [_fixed_colour(colour)])
    return panel


def timeline(title: str, description: str, query: Query, *, on_text: str, width: int = 24,
             height: int = 6) -> statetimeline.Panel:
    """One row per series; green while the series is 1 (e.g. the current phase)."""
    mapping = models.ValueMap(options={
        "1": models.ValueMappingResult(text=on_text, color="green", index=0),
        "0": models.ValueMappingResult(text=" ", color="transparent", index=1),
    })
    return (statetimeline.Panel().title(title).description(description).datasource(DATASOURCE)
            .targets(_targets([query])).span(width).height(height).mappings([mapping])
            .show_value(common_models.VisibilityMode.NEVER).merge_values(True))


def row(title: str) -> builders.Row:
    return builders.Row(title)


def related_dashboards() -> builders.DashboardLink:
    """A drop-down of the other Routeshift dashboards (all carry the ``routeshift`` tag)."""
    return (builders.DashboardLink("Routeshift").type(models.DashboardLinkType.DASHBOARDS).tags(["routeshift"])
            .as_dropdown(True).include_vars(False).keep_time(True))
