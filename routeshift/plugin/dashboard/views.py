"""What the dashboard shows of one Canary: a JSON document built from the served objects.

The page and the JSON API show the same document, so it is built once, here, from plain
data: the Canary as served and the HTTPRoutes it references (as the watches last saw
them). It answers what ``kubectl canary get`` answers, in data instead of text: phase and
step, the weights the controller intends and the split the routes really carry, each
metric's last value against its bound, why the rollout is holding, the decision log,
the revisions of a workload-form Canary, and which operations apply right now (the
plugin's own phase checks, so a button is greyed out for the same reason the command
would refuse). Nothing here depends on the clock (the time-bound ``undo`` is not offered),
so an unchanged object gives an unchanged document and the server pushes only real changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from routeshift.plugin import canaries, errors, rendering, requesting

Key = tuple[str, str]  # (namespace, name)

#: The operations the dashboard offers as buttons, in the order they are shown.
OPERATIONS = (requesting.Operation.PROMOTE, requesting.Operation.PROMOTE_FULL, requesting.Operation.PAUSE,
              requesting.Operation.RESUME, requesting.Operation.ABORT, requesting.Operation.RETRY)
# ``plan`` needs an annotation value; a view only asks whether the operation applies.
_PROBE_VALUE = "probe"


@dataclasses.dataclass(frozen=True)
class RouteScope:
    """Which HTTPRoutes the dashboard watches, and whether the first list has arrived."""

    namespace: str | None  # None: all namespaces
    listed: bool = False
    problem: str = ""  # why routes cannot be watched ("access denied (403)"), shown instead of splits

    def covers(self, namespace: str) -> bool:
        return self.namespace is None or self.namespace == namespace


def canary_view(raw: dict[str, Any], routes: Mapping[Key, dict[str, Any]], scope: RouteScope) -> dict[str, Any]:
    """The document for one Canary; ``routes`` are the watched HTTPRoutes by (namespace, name)."""
    canary = canaries.Canary(raw)
    weights = canary.weights
    return {
        "namespace": canary.namespace,
        "name": canary.name,
        "createdAt": canary.meta.get("creationTimestamp"),
        "generation": canary.generation,
        "observed": canary.observed,
        "phase": canary.phase,
        "hasStatus": canary.has_status,
        "message": canary.status.get("message") or "",
        "lastVerdict": canary.status.get("lastVerdict"),
        "result": canary.status.get("result"),
        "strategy": canary.strategy_name(),
        "step": _step(canary),
        "release": canary.shown_release,
        "specRelease": canary.release,
        "statusRelease": canary.status_release,
        "backends": {"stable": canary.backend("stable"), "canary": canary.backend("canary")},
        "weights": {"stable": weights[0], "canary": weights[1]} if weights else None,
        "weightOverride": canary.weight_override,
        "paused": canary.paused,
        "pausedReason": canary.paused_reason,
        "routes": [_route(canary, ref, routes, scope) for ref in _route_refs(canary)],
        "metrics": [_metric(m) for m in canary.latest_metrics()],
        "configuredMetrics": [m.get("name") for m in (canary.spec.get("analysis") or {}).get("metrics") or ()],
        "holds": canary.hold_reasons(),
        "conditions": [_condition(c) for c in canary.status.get("conditions") or ()],
        "decisions": [_decision(d) for d in canary.decisions],
        "workload": _workload(canary),
        "pendingOperations": canary.pending_operations(),
        "operations": operations(canary),
    }


def operations(canary: canaries.Canary) -> dict[str, dict[str, Any]]:
    """For each button: does it apply now, and if not, why (the plugin's refusal, word for word)."""
    found = {}
    for operation in OPERATIONS:
        try:
            change = requesting.plan(operation, canary, value=_PROBE_VALUE)
        except errors.PluginError as refusal:
            found[operation.value] = {"applies": False, "reason": str(refusal)}
            continue
        if change.patch is None:
            found[operation.value] = {"applies": False, "reason": f"{operation.value}: {change.expectation}"}
        else:
            found[operation.value] = {"applies": True, "reason": change.expectation}
    return found


def route_split(route: dict[str, Any], stable: str, canary: str) -> list[dict[str, Any]]:
    """Each rule of ``route`` that references both backends: its weights and the canary's share."""
    splits = []
    for stable_weight, canary_weight in rendering.route_weights(route, stable, canary):
        total = stable_weight + canary_weight
        splits.append({"stable": stable_weight, "canary": canary_weight,
                       "canaryPercent": round(100 * canary_weight / total, 1) if total else 0.0})
    return splits


# ---------------------------------------------------------------------- parts


def _step(canary: canaries.Canary) -> dict[str, Any]:
    plan = canary.plan()
    count = canary.step_count
    current = min(canary.step_index, count - 1) if canary.has_status and count else None
    return {"index": canary.step_index, "count": count, "label": canary.step_label() if canary.has_status else "-",
            "plan": plan if len(plan) == count else [], "current": current}


def _route_refs(canary: canaries.Canary) -> list[Key]:
    refs = []
    for ref in [canary.spec.get("routeRef")] + list(canary.spec.get("routeRefs") or ()):
        if ref and ref.get("name"):
            key = (ref.get("namespace") or canary.namespace, ref["name"])
            if key not in refs:
                refs.append(key)
    return refs


def _route(canary: canaries.Canary, key: Key, routes: Mapping[Key, dict[str, Any]],
           scope: RouteScope) -> dict[str, Any]:
    namespace, name = key
    shown: dict[str, Any] = {"namespace": namespace, "name": name, "state": "found", "note": "",
                             "splits": [], "accepted": []}
    if scope.problem:
        return shown | {"state": "unknown", "note": scope.problem}
    if not scope.covers(namespace):
        return shown | {"state": "unknown", "note": f"namespace {namespace} is not watched: run the dashboard with -A"}
    if not scope.listed:
        return shown | {"state": "unknown", "note": "not listed yet"}
    route = routes.get(key)
    if route is None:
        return shown | {"state": "missing", "note": "HTTPRoute not found"}
    splits = route_split(route, canary.backend("stable"), canary.backend("canary"))
    return shown | {"splits": splits, "accepted": _accepted(route),
                    "note": "" if splits else "no rule references both backends"}


def _accepted(route: dict[str, Any]) -> list[dict[str, Any]]:
    """Each parent's Accepted condition, and whether it is for the route's current generation."""
    generation = (route.get("metadata") or {}).get("generation")
    states = []
    for parent in (route.get("status") or {}).get("parents") or ():
        condition = next((c for c in parent.get("conditions") or () if c.get("type") == "Accepted"), None)
        if condition is None:
            continue
        observed = condition.get("observedGeneration")
        states.append({"parent": (parent.get("parentRef") or {}).get("name", ""), "status": condition.get("status"),
                       "current": observed in (None, generation), "reason": condition.get("reason", "")})
    return states


def _metric(metric: canaries.MetricLine) -> dict[str, Any]:
    return {"metric": metric.metric, "value": metric.value, "bound": metric.bound, "sampleSize": metric.sample_size,
            "minSampleSize": metric.min_sample_size, "verdict": metric.verdict, "reason": metric.reason,
            "time": metric.time}


def _condition(condition: dict[str, Any]) -> dict[str, Any]:
    return {key: condition.get(key) for key in ("type", "status", "reason", "message", "lastTransitionTime")}


def _decision(decision: dict[str, Any]) -> dict[str, Any]:
    return {"time": decision.get("time"), "phase": decision.get("phase", ""), "step": int(decision.get("step", 0)),
            "weight": decision.get("weight", 0), "verdict": decision.get("verdict"),
            "reason": decision.get("reason", ""),
            "metrics": [{"metric": m.get("metric"), "value": m.get("value"), "bound": m.get("bound"),
                         "sampleSize": m.get("sampleSize"), "minSampleSize": m.get("minSampleSize"),
                         "verdict": m.get("verdict"), "reason": m.get("reason", "")}
                        for m in decision.get("metrics") or ()]}


def _workload(canary: canaries.Canary) -> dict[str, Any] | None:
    """Workload form: the target and the revisions (and images) the primary and the canary run."""
    found = canary.workload()
    if found is None:
        return None
    failed = found.failed
    return {"target": found.target, "primary": found.primary, "canaryService": found.canary_service,
            "primaryRevision": found.primary_revision, "primaryImages": found.primary_images,
            "canaryRevision": found.canary_revision, "canaryImages": found.canary_images,
            "canaryState": found.canary_state,
            "failed": None if failed is None else {"revision": failed.revision, "images": failed.images,
                                                   "reason": failed.reason, "time": failed.time}}
