"""Workload form, the route side: hand the app's backendRef to the primary and canary, and back.

The user's HTTPRoute sends the app's traffic to one Service (``service.name``, default the
Deployment's name). Initialization replaces each such backendRef, in place, by two refs:
the primary Service with the original's weight and the canary Service with weight 0; from
then on the route machine moves weights between them as in the Service form. Deletion
puts the original refs back exactly as the user wrote them (recorded in
``status.workload.adoptedRoutes`` before the route was first touched), so the route's spec
comes back byte-identical. Nothing else of the route is changed.

Pure: route dicts in, JSON patches out (each led by a resourceVersion ``test`` so that a
concurrent edit makes the adapter re-read and re-plan, as for weight changes).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from rollouts import actions, model, routes

_DEFAULT_WEIGHT = 1


def _namespace(route: dict[str, Any]) -> str:
    return (route.get("metadata") or {}).get("namespace", "default")


def _key(ref: dict[str, Any], namespace: str) -> tuple[str, str] | None:
    if ref.get("group", "") not in ("", "core") or ref.get("kind", "Service") != "Service":
        return None
    return (ref.get("namespace") or namespace, ref.get("name", ""))


def app_refs(route: dict[str, Any] | None, app: str, *,
             namespace: str) -> tuple[tuple[int, int, dict[str, Any]], ...]:
    """(rule index, ref index, ref) of every backendRef to the app's Service, in route order."""
    if route is None:
        return ()
    ns = _namespace(route)
    wanted = (namespace, app)
    found = []
    for r, rule in enumerate((route.get("spec") or {}).get("rules") or []):
        for i, ref in enumerate(rule.get("backendRefs") or []):
            if _key(ref, ns) == wanted:
                found.append((r, i, copy.deepcopy(ref)))
    return tuple(found)


def adopted(route: dict[str, Any] | None, primary: model.BackendRef, canary: model.BackendRef) -> bool:
    """True when some rule already references both the primary and the canary Service."""
    return route is not None and any(True for _ in routes._source_rules(route, primary, canary))


def _precondition(route: dict[str, Any]) -> dict[str, Any]:
    return {"op": "test", "path": "/metadata/resourceVersion", "value": route["metadata"].get("resourceVersion")}


def _backend(ref: dict[str, Any], target: model.BackendRef, weight: int) -> dict[str, Any]:
    """``ref`` pointed at ``target``: the user's per-backend filters stay, name/port/weight change."""
    kept = {k: v for k, v in ref.items() if k not in ("group", "kind", "name", "namespace", "port", "weight")}
    out: dict[str, Any] = {"name": target.name, "port": target.port, "weight": weight}
    if target.namespace:
        out["namespace"] = target.namespace
    return {**out, **copy.deepcopy(kept)}


def adopt_patch(route: dict[str, Any], action: actions.AdoptRoute, *, namespace: str) -> list[dict[str, Any]]:
    """Replace every ref to the app by primary (its weight) + canary (0); ``[]`` when none is left."""
    found = app_refs(route, action.app, namespace=namespace)
    if not found:
        return []
    ops: list[dict[str, Any]] = []
    # Highest index first within each rule, so earlier positions stay valid as refs are inserted.
    for r, i, ref in sorted(found, key=lambda item: (item[0], -item[1])):
        weight = ref.get("weight", _DEFAULT_WEIGHT)
        ops.append({"op": "replace", "path": f"/spec/rules/{r}/backendRefs/{i}",
                    "value": _backend(ref, action.primary, weight)})
        ops.append({"op": "add", "path": f"/spec/rules/{r}/backendRefs/{i + 1}",
                    "value": _backend(ref, action.canary, 0)})
    return [_precondition(route), *ops]


def release_patch(route: dict[str, Any], action: actions.ReleaseRoute) -> list[dict[str, Any]]:
    """Put the recorded original refs back in place of each primary/canary pair; ``[]`` when done.

    Rules are matched to the records by position among the rules that hold the pair, so a
    user who added or removed unrelated rules meanwhile still gets the right refs back.
    """
    ns = _namespace(route)
    primary_key, canary_key = action.primary.key(ns), action.canary.key(ns)
    records: Sequence[tuple[int, int, Any]] = action.original
    if not records:
        return []
    ops: list[dict[str, Any]] = []
    pairs_seen = 0
    for r, rule in enumerate((route.get("spec") or {}).get("rules") or []):
        refs = rule.get("backendRefs") or []
        primaries = [i for i, ref in enumerate(refs) if _key(ref, ns) == primary_key]
        canaries = [i for i, ref in enumerate(refs) if _key(ref, ns) == canary_key]
        if not primaries or not canaries:
            continue
        rule_records = [rec for rec in records if rec[0] == r] or [records[min(pairs_seen, len(records) - 1)]]
        pairs_seen += 1
        # Canary refs go, primary refs become the originals; highest index first, so that no
        # operation shifts a position a later one uses.
        originals = dict(zip(primaries, [rec[2] for rec in rule_records] * len(primaries)))
        for index in sorted({*canaries, *primaries}, reverse=True):
            if index in originals:
                ops.append({"op": "replace", "path": f"/spec/rules/{r}/backendRefs/{index}",
                            "value": copy.deepcopy(originals[index])})
            else:
                ops.append({"op": "remove", "path": f"/spec/rules/{r}/backendRefs/{index}"})
    return [_precondition(route), *ops] if ops else []
