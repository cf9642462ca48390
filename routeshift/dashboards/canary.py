"""The per-Canary dashboard: what one rollout is doing, and why.

It answers, for the Canary picked in the ``namespace``/``canary`` variables: where is it
(phase, step, weights over time, with promote/rollback markers), what does analysis see
(each metric's value against its bounds, the verdicts), and what is the traffic doing
per backend, stable next to canary (request rate, observed share, 5xx ratio, p50/p99).

Backends come from ``routeshift_canary_weight``'s ``backend`` label, which names the
Service exactly as the proxy's ``backend`` label does; that shared name is what lets the
gateway panels show only this Canary's stable and canary backends.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builders

from routeshift.dashboards import panels, promql, variables
from routeshift.dashboards.panels import Query

UID = "routeshift-canary"
TITLE = "Routeshift / Canary"

CANARY = 'namespace="$namespace", name="$canary"'
BACKENDS = 'namespace="$namespace", backend=~"$backend"'
REQUESTS = f"routeshift_gateway_requests_total{{{BACKENDS}}}"
BUCKETS = f"routeshift_gateway_request_duration_seconds_bucket{{{BACKENDS}}}"

#: routeshift_rollouts_total's ``result`` values (rollouts/model.py) and how each is marked.
ROLLOUT_MARKERS = (
    ("Promoted", "succeeded", "green"),
    ("Rolled back", "failed", "red"),
    ("Aborted", "aborted", "purple"),
    ("Undone", "undone", "orange"),
)


def _variables() -> list[builders.QueryVariable | builders.DatasourceVariable]:
    return [
        variables.datasource(),
        variables.label_values("namespace", "Namespace", "routeshift_canary_phase", "namespace"),
        variables.label_values("canary", "Canary", 'routeshift_canary_phase{namespace="$namespace"}', "name"),
        variables.label_values(
            "backend", "Backend", f"routeshift_canary_weight{{{CANARY}}}", "backend", multi=True, hidden=True,
            description="The Services this Canary shifts traffic between."),
        variables.label_values(
            "metric", "Analysis metric", f"routeshift_analysis_value{{{CANARY}}}", "metric", multi=True,
            description="One value-against-bounds panel per analysis metric."),
    ]


def _annotations() -> list[builders.AnnotationQuery]:
    return [
        builders.AnnotationQuery().name(name).datasource(panels.DATASOURCE).enable(True).icon_color(colour).expr(
            promql.events(f'routeshift_rollouts_total{{{CANARY}, result="{result}"}}', "result"))
        for name, result, colour in ROLLOUT_MARKERS
    ]


def _rollout_row(dashboard: builders.Dashboard) -> builders.Dashboard:
    return (
        dashboard.with_row(panels.row("Rollout"))
        .with_panel(panels.single(
            "Phase", "The phase the Canary is in now (Flagger's names).",
            Query(f"max by (phase) (routeshift_canary_phase{{{CANARY}}}) == 1", "{{phase}}"), show="name"))
        .with_panel(panels.single(
            "Step", "Index of the current step of the strategy.",
            Query(f"max(routeshift_canary_step{{{CANARY}}})", "step")))
        .with_panel(panels.single(
            "Weights now", "Weight the route gives each backend now, in percent.",
            Query(f"max by (backend) (routeshift_canary_weight{{{CANARY}}})", "{{backend}}"), unit="percent",
            width=12))
        .with_panel(panels.graph(
            "Weight over time", "Route weight per backend as set by the controller; markers show promotions, "
            "rollbacks and undos.",
            [Query(f"max by (backend) (routeshift_canary_weight{{{CANARY}}})", "{{backend}}")],
            unit="percent", minimum=0, maximum=100, width=16))
        .with_panel(panels.graph(
            "Step over time", "The strategy step; a flat line while Progressing means the step is held.",
            [Query(f"max(routeshift_canary_step{{{CANARY}}})", "step")], unit="none", minimum=0, width=8))
        .with_panel(panels.timeline(
            "Phase over time", "Which phase the Canary was in, over the dashboard's range.",
            Query(f"max by (phase) (routeshift_canary_phase{{{CANARY}}})", "{{phase}}"), on_text="current"))
    )


def _analysis_row(dashboard: builders.Dashboard) -> builders.Dashboard:
    verdicts = f"routeshift_analysis_verdicts_total{{{CANARY}}}"
    metric = f'{CANARY}, metric=~"$metric"'
    return (
        dashboard.with_row(panels.row("Analysis"))
        .with_panel(panels.bars_by_series(
            "Verdicts in range", "Verdicts of all metrics over the dashboard's time range.",
            Query(promql.increase(verdicts, "verdict"), "{{verdict}}"),
            colours=panels.VERDICT_COLOURS, width=8))
        .with_panel(panels.graph(
            "Verdicts over time", "Verdicts per metric and interval.",
            [Query(promql.increase(verdicts, "metric, verdict", "$__rate_interval"), "{{metric}} {{verdict}}")],
            unit="short", bars=True, stacked=True, width=16))
        .with_panel(panels.graph(
            "$metric", "The metric's measured value each interval, with the thresholdRange bounds it is judged "
            "against (dashed).",
            [Query(f"max by (metric) (routeshift_analysis_value{{{metric}}})", "value"),
             Query(f"max by (bound) (routeshift_analysis_threshold{{{metric}}})", "{{bound}} bound")],
            unit="short", width=8, dashed=".* bound$", repeat="metric"))
    )


def _gateway_row(dashboard: builders.Dashboard) -> builders.Dashboard:
    rate = f"sum by (backend) (rate({REQUESTS}[$__rate_interval]))"
    errors = f'sum by (backend) (rate(routeshift_gateway_requests_total{{{BACKENDS}, code=~"5.."}}[$__rate_interval]))'
    return (
        dashboard.with_row(panels.row("Gateway traffic per backend"))
        .with_panel(panels.graph(
            "Request rate", "Requests per second the gateway sent to each backend.",
            [Query(rate, "{{backend}}")], unit="reqps"))
        .with_panel(panels.graph(
            "Observed traffic share", "Each backend's share of the requests; it should track the weights above.",
            [Query(f"100 * {rate} / ignoring (backend) group_left sum({rate})", "{{backend}}")],
            unit="percent", minimum=0, maximum=100))
        # "or rate * 0": a backend without any 5xx yet shows 0, not a gap that reads as "no data".
        .with_panel(panels.graph(
            "Error ratio (5xx)", "Share of each backend's responses that were 5xx.",
            [Query(f"({errors} or {rate} * 0) / {rate}", "{{backend}}")], unit="percentunit", minimum=0))
        .with_panel(panels.graph(
            "Latency p50 / p99", "Request duration quantiles per backend, from the proxy's histogram.",
            [Query(f"histogram_quantile(0.5, sum by (backend, le) (rate({BUCKETS}[$__rate_interval])))",
                   "{{backend}} p50"),
             Query(f"histogram_quantile(0.99, sum by (backend, le) (rate({BUCKETS}[$__rate_interval])))",
                   "{{backend}} p99")],
            unit="s", dashed=".* p50$"))
    )


def build() -> builders.Dashboard:
    dashboard = (
        builders.Dashboard(TITLE).uid(UID).tags(["routeshift"]).description(
            "One Canary: phase, steps and weights, analysis against its bounds, and gateway traffic per backend.")
        .time("now-3h", "now").refresh("30s").timezone("browser").editable()
        .variables(_variables()).annotations(_annotations())
        .link(panels.related_dashboards())
    )
    return _gateway_row(_analysis_row(_rollout_row(dashboard)))
