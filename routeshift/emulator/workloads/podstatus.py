"""A Pod's status as a kubelet writes it, computed from what its containers are doing. Pure.

Controllers and kubectl read only the status: ``phase`` (``getPhase``: a container waiting
with no previous run keeps the Pod Pending; a crash-looping container under
``restartPolicy: Always`` leaves it Running), the conditions ``PodReadyToStartContainers``,
``Initialized``, ``Ready``, ``ContainersReady`` and ``PodScheduled`` with stable
``lastTransitionTime``\\ s, ``containerStatuses`` with state and last state, restart counts
and readiness, the IPs, ``startTime`` and ``qosClass``. The kubelet module feeds it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from routeshift.emulator.workloads import objects

SCHEDULED, INITIALIZED, READY, CONTAINERS_READY = "PodScheduled", "Initialized", "Ready", "ContainersReady"
SANDBOX_READY = "PodReadyToStartContainers"
_OWN = (SANDBOX_READY, INITIALIZED, READY, CONTAINERS_READY, SCHEDULED)


@dataclasses.dataclass(frozen=True)
class Container:
    """One container as the kubelet sees it; ``state`` is ``{"waiting"|"running"|"terminated": {...}}``."""

    name: str
    image: str
    state: Mapping[str, Any]
    last_state: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    ready: bool = False
    started: bool = False
    restart_count: int = 0
    container_id: str | None = None

    def as_status(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "image": self.image, "imageID": "" if self.container_id is None
                                 else f"routeshift-local://{self.image}",
                                 "ready": self.ready, "started": self.started, "restartCount": self.restart_count,
                                 "state": dict(self.state), "lastState": dict(self.last_state)}
        if self.container_id is not None:
            entry["containerID"] = self.container_id
        return entry


def waiting(reason: str, message: str | None = None) -> dict[str, Any]:
    return {"waiting": {"reason": reason, **({"message": message} if message else {})}}


def running(started_at: str) -> dict[str, Any]:
    return {"running": {"startedAt": started_at}}


def terminated(exit_code: int, *, started_at: str | None, finished_at: str, reason: str | None = None,
               container_id: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"exitCode": exit_code, "reason": reason or ("Completed" if exit_code == 0 else "Error"),
                             "finishedAt": finished_at}
    if started_at:
        entry["startedAt"] = started_at
    if container_id:
        entry["containerID"] = container_id
    return {"terminated": entry}


def phase(pod: Mapping[str, Any], containers: Sequence[Container], *, deleting: bool = False) -> str:
    """``getPhase`` of the kubelet; a deleted Pod whose containers all stopped ends terminal."""
    policy = (pod.get("spec") or {}).get("restartPolicy", "Always")
    waiting_count = running_count = stopped = succeeded = 0
    for container in containers:
        if "running" in container.state:
            running_count += 1
        elif "terminated" in container.state:
            stopped += 1
            succeeded += container.state["terminated"].get("exitCode") == 0
        elif "terminated" in container.last_state:
            stopped += 1  # restarting: counts as having run
        else:
            waiting_count += 1
    if not containers or waiting_count:
        return "Pending"
    if running_count:
        return "Running"
    all_terminated = all("terminated" in c.state for c in containers)
    if deleting and all_terminated:
        return "Succeeded" if succeeded == len(containers) else "Failed"
    if policy == "Always":
        return "Running"
    if succeeded == stopped and all_terminated:
        return "Succeeded"
    if policy == "OnFailure":
        return "Running"
    return "Failed" if all_terminated else "Running"


def qos_class(pod: Mapping[str, Any]) -> str:
    requests_seen = limits_seen = False
    guaranteed = True
    for container in (pod.get("spec") or {}).get("containers") or ():
        resources = container.get("resources") or {}
        req, lim = resources.get("requests") or {}, resources.get("limits") or {}
        requests_seen |= bool(req)
        limits_seen |= bool(lim)
        if not all(name in lim for name in ("cpu", "memory")) or any(req.get(k, lim[k]) != lim[k] for k in lim):
            guaranteed = False
    if not requests_seen and not limits_seen:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _gates_ready(pod: Mapping[str, Any], conditions: Sequence[Mapping[str, Any]]) -> str | None:
    """None when every readiness gate's condition is True, else the kubelet's message."""
    by_type = {c.get("type"): c for c in conditions}
    for gate in (pod.get("spec") or {}).get("readinessGates") or ():
        kind = gate.get("conditionType")
        if kind not in by_type:
            return f'corresponding condition of pod readiness gate "{kind}" does not exist.'
        if by_type[kind].get("status") != "True":
            return f'the status of pod readiness gate "{kind}" is not "True", but {by_type[kind].get("status")}'
    return None


def build(pod: Mapping[str, Any], containers: Sequence[Container], *, pod_ip: str | None, host_ip: str,
          start_time: str, now: str) -> dict[str, Any]:
    """The whole status subresource for ``pod`` given its containers' states."""
    previous = pod.get("status") or {}
    deleting = objects.deleting(pod)
    pod_phase = phase(pod, containers, deleting=deleting)
    conditions = [dict(c) for c in previous.get("conditions") or () if c.get("type") not in _OWN]

    def put(kind: str, ok: bool, reason: str | None = None, message: str | None = None) -> dict[str, Any]:
        condition: dict[str, Any] = {"type": kind, "status": "True" if ok else "False"}
        if not ok and reason:
            condition["reason"] = reason
        if not ok and message:
            condition["message"] = message
        old = objects.condition(previous, kind)
        condition["lastProbeTime"] = None
        condition["lastTransitionTime"] = (old.get("lastTransitionTime", now)
                                           if old is not None and old.get("status") == condition["status"] else now)
        return condition

    unready = [c.name for c in containers if not c.ready]
    gates = _gates_ready(pod, conditions)
    terminal = pod_phase in objects.TERMINAL_PHASES
    completed_reason = "PodCompleted" if terminal else "ContainersNotReady"
    unready_message = f"containers with unready status: [{' '.join(unready)}]" if unready else None
    ready_message = unready_message or gates
    own = [
        put(SANDBOX_READY, pod_ip is not None and not terminal),
        put(INITIALIZED, True),
        put(READY, not unready and gates is None and not terminal,
            completed_reason if unready or terminal else "ReadinessGatesNotReady", ready_message),
        put(CONTAINERS_READY, not unready and not terminal, completed_reason, unready_message),
        put(SCHEDULED, True),
    ]
    status: dict[str, Any] = {
        "phase": pod_phase,
        "conditions": own + conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": start_time,
        "containerStatuses": [c.as_status() for c in containers],
        "qosClass": qos_class(pod),
    }
    if pod_ip is not None:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    return status


def unschedulable(pod: Mapping[str, Any], message: str, now: str) -> dict[str, Any]:
    """The status the scheduler writes for a Pod that fits no node."""
    previous = pod.get("status") or {}
    old = objects.condition(previous, SCHEDULED)
    since = old.get("lastTransitionTime", now) if old is not None and old.get("status") == "False" else now
    others = [dict(c) for c in previous.get("conditions") or () if c.get("type") != SCHEDULED]
    return {"phase": "Pending", "qosClass": qos_class(pod),
            "conditions": [{"type": SCHEDULED, "status": "False", "reason": "Unschedulable", "message": message,
                            "lastProbeTime": None, "lastTransitionTime": since}, *others]}


def scheduled(pod: Mapping[str, Any], now: str) -> dict[str, Any]:
    """The status after binding, before the kubelet has written anything."""
    previous = pod.get("status") or {}
    others = [dict(c) for c in previous.get("conditions") or () if c.get("type") != SCHEDULED]
    return {"phase": "Pending", "qosClass": qos_class(pod),
            "conditions": [{"type": SCHEDULED, "status": "True", "lastProbeTime": None,
                            "lastTransitionTime": now}, *others]}
