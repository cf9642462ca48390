"""Render desired statuses to the wire and merge them with what the API already holds.

Two rules make status writing cheap and polite. First, a write happens only when something
other than ``lastTransitionTime`` would change: a condition whose status stays the same keeps
its old transition time, so recomputing an unchanged world yields ``None`` (no patch) and
thousands of route events never become a write storm. Second, an HTTPRoute's
``status.parents`` is shared by every controller whose Gateways the route names, and a merge
patch replaces the whole list, so the entries of other controllers are carried over exactly as
read. Pure functions: the caller supplies the time and the object as last seen.
"""

from __future__ import annotations

import datetime
from typing import Any

from gateway_proxy.kubernetes import status as s
from gateway_proxy import resources as r


def timestamp(moment: datetime.datetime) -> str:
    """metav1.Time: RFC 3339 in UTC with second precision."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def without_times(value: Any) -> Any:
    """``value`` with every ``lastTransitionTime`` left out: what a status says, not when it was said."""
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if k != "lastTransitionTime"}
    if isinstance(value, list):
        return [without_times(item) for item in value]
    return value


def parent_ref(parent: r.ParentRef) -> dict[str, Any]:
    out: dict[str, Any] = {"group": parent.group, "kind": parent.kind, "namespace": parent.namespace,
                           "name": parent.name}
    if parent.section_name is not None:
        out["sectionName"] = parent.section_name
    if parent.port is not None:
        out["port"] = parent.port
    return out


def _same_ref(written: Any, wanted: dict[str, Any]) -> bool:
    if not isinstance(written, dict):
        return False
    defaults = {"group": r.GATEWAY_GROUP, "kind": "Gateway", "namespace": wanted["namespace"]}
    for key in ("group", "kind", "namespace", "name", "sectionName", "port"):
        if written.get(key, defaults.get(key)) != wanted.get(key, defaults.get(key)):
            return False
    return True


def merge_conditions(existing: Any, desired: tuple[s.Condition, ...], now: str) -> list[dict[str, Any]]:
    """Desired conditions as metav1.Conditions, keeping ``lastTransitionTime`` where status holds."""
    previous = {c.get("type"): c for c in existing or () if isinstance(c, dict)}
    out = []
    for condition in desired:
        old = previous.get(condition.type)
        since = old.get("lastTransitionTime") if old and old.get("status") == condition.status else None
        out.append({"type": condition.type, "status": condition.status, "reason": condition.reason,
                    "message": condition.message, "observedGeneration": condition.observed_generation,
                    "lastTransitionTime": since or now})
    return out


def _with_foreign(merged: list[dict[str, Any]], existing: Any) -> list[dict[str, Any]]:
    """Our conditions, then any condition type someone else keeps on the object, as it was."""
    ours = {c["type"] for c in merged}
    return merged + [c for c in existing or () if isinstance(c, dict) and c.get("type") not in ours]


def route_status(existing: dict[str, Any] | None, desired: tuple[s.ParentStatus, ...], controller: str,
                 now: str) -> dict[str, Any] | None:
    """The route's new ``status`` body, or None when our parent entries already say this."""
    parents = [p for p in (existing or {}).get("parents") or () if isinstance(p, dict)]
    others = [p for p in parents if p.get("controllerName") != controller]
    ours_before = [p for p in parents if p.get("controllerName") == controller]
    ours = []
    for item in desired:
        ref = parent_ref(item.parent)
        old = next((p for p in ours_before if _same_ref(p.get("parentRef"), ref)), None)
        ours.append({"parentRef": ref, "controllerName": controller,
                     "conditions": merge_conditions(old.get("conditions") if old else (), item.conditions, now)})
    if ours == ours_before:
        return None
    return {"parents": others + ours}


def gateway_status(existing: dict[str, Any] | None, desired: s.GatewayStatus, now: str) -> dict[str, Any] | None:
    """The Gateway's new ``status`` body (addresses, conditions, listeners), or None when unchanged.

    No address to publish is written as ``null``, which a merge patch reads as "delete": an
    address published earlier (another ``--gateway-address``) must not linger.
    """
    existing = existing or {}
    addresses = [{"type": a.type, "value": a.value} for a in desired.addresses]
    listeners_before = {l.get("name"): l for l in existing.get("listeners") or () if isinstance(l, dict)}
    listeners = []
    for listener in desired.listeners:
        old = listeners_before.get(listener.name) or {}
        listeners.append({"name": listener.name, "supportedKinds": [dict(k) for k in listener.supported_kinds],
                          "attachedRoutes": listener.attached_routes,
                          "conditions": merge_conditions(old.get("conditions"), listener.conditions, now)})
    conditions = _with_foreign(merge_conditions(existing.get("conditions"), desired.conditions, now),
                               existing.get("conditions"))
    if listeners == (existing.get("listeners") or []) and conditions == (existing.get("conditions") or []) \
            and addresses == (existing.get("addresses") or []):
        return None
    return {"addresses": addresses or None, "conditions": conditions, "listeners": listeners}


def class_status(existing: dict[str, Any] | None, desired: s.ClassStatus, now: str) -> dict[str, Any] | None:
    """The GatewayClass's new ``status`` body (conditions, supportedFeatures), or None when unchanged."""
    existing = existing or {}
    before = existing.get("conditions")
    conditions = _with_foreign(merge_conditions(before, desired.conditions, now), before)
    features = [{"name": name} for name in desired.features]
    if conditions == (before or []) and features == (existing.get("supportedFeatures") or []):
        return None
    return {"conditions": conditions, "supportedFeatures": features or None}
