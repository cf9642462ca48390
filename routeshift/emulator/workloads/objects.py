"""Small pure readings of API objects that every workload controller needs.

Label selectors in their object form (``matchLabels``/``matchExpressions``, as Deployments,
ReplicaSets and Services carry them, unlike the query-string form of
:mod:`routeshift.emulator.selectors`), controller owner references, conditions with
Kubernetes' ``lastTransitionTime`` rule, IntOrString percentages, Pod readiness and
timestamps. No I/O, no clock: callers pass ``now``.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name)

READY = "Ready"
TERMINAL_PHASES = ("Succeeded", "Failed")


def key_of(obj: Mapping[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


def meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def uid(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("uid") or "")


def labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return meta(obj).get("labels") or {}


def annotations(obj: Mapping[str, Any]) -> dict[str, str]:
    return meta(obj).get("annotations") or {}


def deleting(obj: Mapping[str, Any]) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


# ---------------------------------------------------------------- selectors


def selector_matches(selector: Mapping[str, Any] | None, object_labels: Mapping[str, str]) -> bool:
    """``metav1.LabelSelector`` semantics; an empty selector matches everything (callers that
    must not select everything, as the ReplicaSet controller, check emptiness themselves)."""
    if not selector:
        return True
    for name, value in (selector.get("matchLabels") or {}).items():
        if object_labels.get(name) != value:
            return False
    for expression in selector.get("matchExpressions") or ():
        name, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or ()
        present = name in object_labels
        if operator == "In" and not (present and object_labels[name] in values):
            return False
        if operator == "NotIn" and present and object_labels[name] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def map_selector_matches(selector: Mapping[str, str] | None, object_labels: Mapping[str, str]) -> bool:
    """A Service's plain ``selector`` map; empty selects nothing (the Service has no selector)."""
    return bool(selector) and all(object_labels.get(k) == v for k, v in (selector or {}).items())


# ---------------------------------------------------------------- owners


def controller_of(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The owner reference with ``controller: true``, if any."""
    for reference in meta(obj).get("ownerReferences") or ():
        if reference.get("controller"):
            return reference
    return None


def owned_by(obj: Mapping[str, Any], owner_uid: str) -> bool:
    reference = controller_of(obj)
    return reference is not None and reference.get("uid") == owner_uid


def controller_reference(owner: Mapping[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "name": meta(owner)["name"], "uid": uid(owner),
            "controller": True, "blockOwnerDeletion": True}


# ---------------------------------------------------------------- conditions


def condition(obj_status: Mapping[str, Any] | None, kind: str) -> dict[str, Any] | None:
    for found in (obj_status or {}).get("conditions") or ():
        if found.get("type") == kind:
            return found
    return None


def set_condition(conditions: list[dict[str, Any]], new: dict[str, Any], now: str, *,
                  compare: tuple[str, ...] = ("status", "reason", "message"), update_time: bool = False,
                  force: bool = False) -> list[dict[str, Any]]:
    """``conditions`` with ``new`` (no timestamps) in place of the one of its type.

    As ``SetDeploymentCondition`` and the kubelet do: a condition equal in ``compare`` is kept
    as it was (timestamps included) unless ``force``; otherwise ``lastTransitionTime`` is kept
    when the status did not change. ``update_time`` adds a Deployment's ``lastUpdateTime``.
    """
    position = next((i for i, c in enumerate(conditions) if c.get("type") == new["type"]), None)
    previous = conditions[position] if position is not None else None
    if previous is not None and not force and all(previous.get(k) == new.get(k) for k in compare):
        return list(conditions)
    merged = dict(new)
    if update_time:
        merged["lastUpdateTime"] = now
    same_status = previous is not None and previous.get("status") == new.get("status")
    merged["lastTransitionTime"] = previous.get("lastTransitionTime", now) if same_status and previous else now
    result = list(conditions)
    if position is None:
        result.append(merged)
    else:
        result[position] = merged
    return result


# ---------------------------------------------------------------- pods


def pod_ready(pod: Mapping[str, Any]) -> bool:
    found = condition(pod.get("status"), READY)
    return found is not None and found.get("status") == "True"


def pod_active(pod: Mapping[str, Any]) -> bool:
    """Counted by its ReplicaSet: not terminal and not being deleted (``FilterActivePods``)."""
    return (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES and not deleting(pod)


def pod_available(pod: Mapping[str, Any], min_ready_seconds: int, now: datetime.datetime) -> bool:
    """Ready for at least ``minReadySeconds`` (``podutil.IsPodAvailable``)."""
    if not pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time((condition(pod.get("status"), READY) or {}).get("lastTransitionTime"))
    return since is not None and since + datetime.timedelta(seconds=min_ready_seconds) <= now


def seconds_until_available(pod: Mapping[str, Any], min_ready_seconds: int, now: datetime.datetime) -> float | None:
    """When a ready but not yet available Pod becomes available (None if not pending that)."""
    if min_ready_seconds <= 0 or not pod_ready(pod):
        return None
    since = parse_time((condition(pod.get("status"), READY) or {}).get("lastTransitionTime"))
    if since is None:
        return None
    left = (since + datetime.timedelta(seconds=min_ready_seconds) - now).total_seconds()
    return left if left > 0 else None


def restart_count(pod: Mapping[str, Any]) -> int:
    return sum(int(s.get("restartCount") or 0) for s in (pod.get("status") or {}).get("containerStatuses") or ())


# ---------------------------------------------------------------- values


def scaled(value: int | str | None, total: int, *, round_up: bool, default: str = "25%") -> int:
    """``intstr.GetScaledValueFromIntOrPercent``: ``"25%"`` of ``total``, rounded as asked."""
    if value is None:
        value = default
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text.endswith("%"):
        return int(text)
    numerator = int(text[:-1]) * total  # integer arithmetic: 25% of 4 is exactly 1
    return -(-numerator // 100) if round_up else numerator // 100


def rfc3339(when: datetime.datetime) -> str:
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
