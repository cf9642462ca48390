"""What the ReplicaSet controller decides, as pure functions: which Pods to add or remove.

As ``pkg/controller/replicaset``: a ReplicaSet counts the active Pods it controls (not
terminal, not being deleted), creates Pods from its template (named by the API server from
``generateName: <rs>-``) when short, and when over deletes the Pods that cost least first
(``ActivePodsWithRanks``: unscheduled before scheduled, pending before running, not ready
before ready, recently ready before long ready, more restarts first, newest first). Its
status counts replicas, fully labeled, ready and available (``minReadySeconds``) Pods.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from routeshift.emulator import jsondata
from routeshift.emulator.workloads import objects

Pod = dict[str, Any]
_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def controlled_pods(rs: dict[str, Any], pods: Sequence[Pod]) -> list[Pod]:
    """Pods whose controller is this ReplicaSet and that its selector still matches."""
    selector = (rs.get("spec") or {}).get("selector") or {}
    rs_uid = objects.uid(rs)
    return [pod for pod in pods
            if objects.owned_by(pod, rs_uid) and selector and objects.selector_matches(selector, objects.labels(pod))]


def active(pods: Sequence[Pod]) -> list[Pod]:
    return [pod for pod in pods if objects.pod_active(pod)]


def wanted(rs: dict[str, Any]) -> int:
    value = (rs.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def diff(rs: dict[str, Any], active_pods: Sequence[Pod]) -> int:
    """Pods to create (positive) or delete (negative)."""
    return wanted(rs) - len(active_pods)


def _deletion_rank(pod: Pod) -> tuple[Any, ...]:
    status = pod.get("status") or {}
    ready = objects.condition(status, objects.READY) or {}
    ready_since = (ready.get("lastTransitionTime") or "") if ready.get("status") == "True" else ""
    created = objects.meta(pod).get("creationTimestamp") or ""
    return (
        bool((pod.get("spec") or {}).get("nodeName")),
        _PHASE_RANK.get(status.get("phase", "Pending"), 0),
        objects.pod_ready(pod),
        _inverted(ready_since),  # ready more recently goes first
        -objects.restart_count(pod),
        _inverted(created),  # newer goes first
        objects.meta(pod).get("name") or "",
    )


def _inverted(text: str) -> tuple[int, ...]:
    return tuple(-ord(char) for char in text)


def pods_to_delete(pods: Sequence[Pod], count: int) -> list[Pod]:
    """The ``count`` Pods a scale-down removes, cheapest first."""
    return sorted(pods, key=_deletion_rank)[:max(0, count)]


def pod_for(rs: dict[str, Any]) -> Pod:
    """A new Pod from the ReplicaSet's template (``GetPodFromTemplate``)."""
    template = jsondata.copy((rs.get("spec") or {}).get("template") or {})
    meta = template.get("metadata") or {}
    rs_meta = objects.meta(rs)
    pod_meta: dict[str, Any] = {
        "generateName": f"{rs_meta['name']}-",
        "namespace": rs_meta.get("namespace"),
        "labels": dict(meta.get("labels") or {}),
        "ownerReferences": [objects.controller_reference(rs, "apps/v1", "ReplicaSet")],
    }
    if meta.get("annotations"):
        pod_meta["annotations"] = dict(meta["annotations"])
    if meta.get("finalizers"):
        pod_meta["finalizers"] = list(meta["finalizers"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": template.get("spec") or {}}


def status(rs: dict[str, Any], controlled: Sequence[Pod], *, now: datetime.datetime) -> dict[str, Any]:
    """The ReplicaSet's status (``calculateStatus``); zero counts are omitted as when served."""
    live = active(controlled)
    template_labels = ((rs.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
    min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
    counts = {
        "fullyLabeledReplicas": sum(1 for pod in live
                                    if all(objects.labels(pod).get(k) == v for k, v in template_labels.items())),
        "readyReplicas": sum(1 for pod in live if objects.pod_ready(pod)),
        "availableReplicas": sum(1 for pod in live if objects.pod_available(pod, min_ready, now)),
        "terminatingReplicas": sum(1 for pod in controlled if objects.deleting(pod)),
    }
    new: dict[str, Any] = {"replicas": len(live)}
    new.update({field: value for field, value in counts.items() if value})
    new["observedGeneration"] = objects.meta(rs).get("generation", 1)
    conditions = (rs.get("status") or {}).get("conditions")
    if conditions:
        new["conditions"] = conditions
    return new


def seconds_to_availability(rs: dict[str, Any], controlled: Sequence[Pod], now: datetime.datetime) -> float | None:
    """When the next ready Pod passes ``minReadySeconds`` (the controller looks again then)."""
    min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
    waits = [left for pod in active(controlled)
             if (left := objects.seconds_until_available(pod, min_ready, now)) is not None]
    return min(waits) if waits else None
