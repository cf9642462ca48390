"""The controller overview: is Routeshift healthy, and how are rollouts going overall.

Where the per-Canary dashboard explains one rollout, this one is for whoever runs the
controller: replicas up, Canaries in flight and by phase, rollouts by result and how
long they take, analysis verdicts, reconcile errors and the gateway's traffic per route.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builders

from rollouts import model
from routeshift.dashboards import panels, promql, variables
from routeshift.dashboards.panels import Query

UID = "routeshift-controller"
TITLE = "Routeshift / Controller overview"

NAMESPACES = 'namespace=~"$namespace"'
#: Phases in which a rollout runs and owns its route's weights, as a PromQL regex.
ACTIVE_PHASES = "|".join(sorted(phase.value for phase in model.ACTIVE_PHASES))
RESULT_COLOURS = {"succeeded": "green", "failed": "red", "aborted": "purple", "undone": "orange"}
DURATION = "routeshift_rollout_duration_seconds_bucket"
ROLLOUTS = f"routeshift_rollouts_total{{{NAMESPACES}}}"


def _health_row(dashboard: builders.Dashboard) -> builders.Dashboard:
    return (
        dashboard.with_row(panels.row("Health"))
        .with_panel(panels.single(
            "Controllers up", "Scraped controller instances that answer; the chart runs one.",
            Query('sum(up{job="routeshift-controller"})', "up"), height=8))
        .with_panel(panels.single(
            "Canaries in flight", "Canaries whose rollout is running now.",
            Query(f'count(max by (namespace, name) (routeshift_canary_phase{{{NAMESPACES}, '
                  f'phase=~"{ACTIVE_PHASES}"}}) == 1) or vector(0)', "in flight"), height=8))
        .with_panel(panels.bars_by_series(
            "Canaries by phase", "How many Canaries are in each phase now.",
            Query(f"count by (phase) (routeshift_canary_phase{{{NAMESPACES}}} == 1)", "{{phase}}"), width=12))
        .with_panel(panels.graph(
            "Reconcile errors", "Failed reconciliations per second, per Canary; anything lasting is worth a look.",
            [Query(f"sum by (namespace, name) (rate(routeshift_reconcile_errors_total{{{NAMESPACES}}}"
                   "[$__rate_interval]))", "{{namespace}}/{{name}}")],
            unit="ops", width=24))
    )


def _rollouts_row(dashboard: builders.Dashboard) -> builders.Dashboard:
    rollouts = ROLLOUTS
    durations = f"{DURATION}{{{NAMESPACES}}}"
    return (
        dashboard.with_row(panels.row("Rollouts"))
        .with_panel(panels.bars_by_series(
            "Rollouts by result", "Finished rollouts over the dashboard's range.",
            Query(promql.increase(rollouts, "result"), "{{result}}"),
            colours=RESULT_COLOURS, width=8))
        .with_panel(panels.graph(
            "Rollouts over time", "Finished rollouts per interval, by result.",
            [Query(promql.increase(rollouts, "result", "$__rate_interval"), "{{result}}")],
            unit="short", bars=True, stacked=True, colours=RESULT_COLOURS, width=8))
        .with_panel(panels.bars_by_series(
            "Rollout duration", "Quantiles of rollout duration over the dashboard's range.",
            Query(" or ".join(
                f'label_replace({promql.quantile_over_range(durations, q)}, "quantile", "{label}", "", "")'
                for q, label in (("0.5", "p50"), ("0.9", "p90"), ("0.99", "p99"))), "{{quantile}}"),
            unit="s", width=8))
    )


def _traffic_row(dashboard: builders.Dashboard) -> builders.Dashboard:
    verdicts = f"routeshift_analysis_verdicts_total{{{NAMESPACES}}}"
    requests = f"routeshift_gateway_requests_total{{{NAMESPACES}}}"
    return (
        dashboard.with_row(panels.row("Analysis and traffic"))
        .with_panel(panels.graph(
            "Analysis verdicts", "Verdicts per second across all Canaries; Error means the measurement failed.",
            [Query(f"sum by (verdict) (rate({verdicts}[$__rate_interval]))", "{{verdict}}")],
            unit="ops", stacked=True, colours=panels.VERDICT_COLOURS))
        .with_panel(panels.graph(
            "Gateway requests per route", "Requests per second through the Routeshift gateway proxy, per HTTPRoute.",
            [Query(f"sum by (namespace, route) (rate({requests}[$__rate_interval]))", "{{namespace}}/{{route}}")],
            unit="reqps"))
    )


def build() -> builders.Dashboard:
    dashboard = (
        builders.Dashboard(TITLE).uid(UID).tags(["routeshift"]).description(
            "The Routeshift controller: health, Canaries by phase, rollouts by result and duration, verdicts.")
        .time("now-24h", "now").refresh("1m").timezone("browser").editable()
        .variables([
            variables.datasource(),
            variables.label_values("namespace", "Namespace", "routeshift_canary_phase", "namespace", multi=True),
        ])
        .link(panels.related_dashboards())
        .annotation(builders.AnnotationQuery().name("Rollouts finished").datasource(panels.DATASOURCE).enable(True)
                    .icon_color("blue").expr(promql.events(ROLLOUTS, "namespace, name, result")))
    )
    return _traffic_row(_rollouts_row(_health_row(dashboard)))
