"""Server-side columns for the built-in kinds the workload controllers write, as kubectl prints them.

For built-in kinds the API server's table columns are computed in Go
(``pkg/printers/internalversion``), not JSONPath: a Deployment's ``READY`` is ``2/3``, a Pod's
``STATUS`` is the reason of its most telling container (``CrashLoopBackOff``,
``ImagePullBackOff``, ``Terminating``…) and ``RESTARTS`` adds how long ago the last one was.
This module has those cells for Deployments, ReplicaSets, Pods, EndpointSlices, Services
and Nodes; other built-in kinds keep Name and Age. Pure.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from routeshift.emulator import metadata

Cell = Callable[[dict[str, Any], datetime.datetime], Any]
_MAX_SHOWN = 3  # EndpointSlice endpoints shown before "+ N more..."


def human_duration(seconds: float) -> str:
    """``k8s.io/apimachinery/pkg/util/duration.HumanDuration``."""
    seconds = int(seconds)
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    years, days = hours // 24 // 365, hours // 24 % 365
    return f"{years}y{days}d" if days and years < 8 else f"{years}y"


def _age(obj: dict[str, Any], now: datetime.datetime) -> str:
    created = metadata.parse_time(obj.get("metadata", {}).get("creationTimestamp", ""))
    return "<unknown>" if created is None else human_duration((now - created).total_seconds())


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("status") or {}


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("spec") or {}


def _replicas(obj: dict[str, Any]) -> int:
    value = _spec(obj).get("replicas")
    return 1 if value is None else int(value)


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return ((_spec(obj).get("template") or {}).get("spec") or {}).get("containers") or []


def _images(obj: dict[str, Any]) -> str:
    return ",".join(str(c.get("image", "")) for c in _containers(obj))


def _names(obj: dict[str, Any]) -> str:
    return ",".join(str(c.get("name", "")) for c in _containers(obj))


def _selector(obj: dict[str, Any]) -> str:
    selector = _spec(obj).get("selector") or {}
    labels = selector.get("matchLabels", selector if "matchExpressions" not in selector else {})
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"


def pod_status_reason(pod: dict[str, Any]) -> str:
    """``printPod``'s STATUS: phase, overridden by the most telling container state."""
    status = _status(pod)
    reason = status.get("reason") or status.get("phase") or "Unknown"
    running_and_ready = False
    for container in reversed(status.get("containerStatuses") or []):
        state = container.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            terminated = state["terminated"]
            reason = terminated.get("reason") or (f"Signal:{terminated['signal']}" if terminated.get("signal")
                                                  else f"ExitCode:{terminated.get('exitCode')}")
        elif "running" in state and container.get("ready"):
            running_and_ready = True
    if reason == "Completed" and running_and_ready:
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        reason = "Running" if ready else "NotReady"
    if pod.get("metadata", {}).get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason


def _restarts(pod: dict[str, Any], now: datetime.datetime) -> str:
    count, last = 0, None
    for container in _status(pod).get("containerStatuses") or []:
        count += int(container.get("restartCount") or 0)
        finished = metadata.parse_time(((container.get("lastState") or {}).get("terminated") or {}).get(
            "finishedAt", ""))
        if finished is not None and (last is None or finished > last):
            last = finished
    if count and last is not None:
        return f"{count} ({human_duration((now - last).total_seconds())} ago)"
    return str(count)


def _ready_containers(pod: dict[str, Any]) -> str:
    statuses = _status(pod).get("containerStatuses") or []
    total = len(_spec(pod).get("containers") or []) or len(statuses)
    return f"{sum(1 for c in statuses if c.get('ready'))}/{total}"


def _slice_ports(obj: dict[str, Any]) -> str:
    ports = [str(p.get("port")) for p in obj.get("ports") or [] if p.get("port") is not None]
    return ",".join(ports) if ports else "<unset>"


def _slice_endpoints(obj: dict[str, Any]) -> str:
    addresses = [a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
    if not addresses:
        return "<unset>"
    shown = ",".join(addresses[:_MAX_SHOWN])
    return shown + (f" + {len(addresses) - _MAX_SHOWN} more..." if len(addresses) > _MAX_SHOWN else "")


def _service_ports(obj: dict[str, Any]) -> str:
    parts = []
    for port in _spec(obj).get("ports") or []:
        text = f"{port.get('port')}/{port.get('protocol', 'TCP')}"
        if port.get("nodePort"):
            text = f"{port.get('port')}:{port['nodePort']}/{port.get('protocol', 'TCP')}"
        parts.append(text)
    return ",".join(parts) or "<none>"


def _node_status(obj: dict[str, Any]) -> str:
    ready = next((c for c in _status(obj).get("conditions") or [] if c.get("type") == "Ready"), None)
    state = "Ready" if ready is not None and ready.get("status") == "True" else "NotReady"
    return state + (",SchedulingDisabled" if _spec(obj).get("unschedulable") else "")


def _column(name: str, cell: Cell, kind: str = "string", priority: int = 0, description: str = "") -> dict[str, Any]:
    return {"name": name, "type": kind, "format": "", "priority": priority, "description": description, "cell": cell}


def _s(field: str) -> Cell:
    return lambda obj, now: int(_status(obj).get(field) or 0)


COLUMNS: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("apps", "deployments"): [
        _column("Ready", lambda o, n: f"{int(_status(o).get('readyReplicas') or 0)}/{_replicas(o)}"),
        _column("Up-to-date", _s("updatedReplicas"), "integer"),
        _column("Available", _s("availableReplicas"), "integer"),
        _column("Age", _age),
        _column("Containers", lambda o, n: _names(o), priority=1),
        _column("Images", lambda o, n: _images(o), priority=1),
        _column("Selector", lambda o, n: _selector(o), priority=1),
    ],
    ("apps", "replicasets"): [
        _column("Desired", lambda o, n: _replicas(o), "integer"),
        _column("Current", _s("replicas"), "integer"),
        _column("Ready", _s("readyReplicas"), "integer"),
        _column("Age", _age),
        _column("Containers", lambda o, n: _names(o), priority=1),
        _column("Images", lambda o, n: _images(o), priority=1),
        _column("Selector", lambda o, n: _selector(o), priority=1),
    ],
    ("", "pods"): [
        _column("Ready", lambda o, n: _ready_containers(o)),
        _column("Status", lambda o, n: pod_status_reason(o)),
        _column("Restarts", _restarts),
        _column("Age", _age),
        _column("IP", lambda o, n: _status(o).get("podIP") or "<none>", priority=1),
        _column("Node", lambda o, n: _spec(o).get("nodeName") or "<none>", priority=1),
        _column("Nominated Node", lambda o, n: _status(o).get("nominatedNodeName") or "<none>", priority=1),
        _column("Readiness Gates", lambda o, n: "<none>", priority=1),
    ],
    ("discovery.k8s.io", "endpointslices"): [
        _column("AddressType", lambda o, n: o.get("addressType", "")),
        _column("Ports", lambda o, n: _slice_ports(o)),
        _column("Endpoints", lambda o, n: _slice_endpoints(o)),
        _column("Age", _age),
    ],
    ("", "services"): [
        _column("Type", lambda o, n: _spec(o).get("type", "ClusterIP")),
        _column("Cluster-IP", lambda o, n: _spec(o).get("clusterIP") or "<none>"),
        _column("External-IP", lambda o, n: ",".join(_spec(o).get("externalIPs") or []) or "<none>"),
        _column("Port(s)", lambda o, n: _service_ports(o)),
        _column("Age", _age),
        _column("Selector", lambda o, n: ",".join(f"{k}={v}" for k, v in sorted(
            (_spec(o).get("selector") or {}).items())) or "<none>", priority=1),
    ],
    ("", "nodes"): [
        _column("Status", lambda o, n: _node_status(o)),
        _column("Roles", lambda o, n: "<none>"),
        _column("Age", _age),
        _column("Version", lambda o, n: (_status(o).get("nodeInfo") or {}).get("kubeletVersion", "")),
        _column("Internal-IP", lambda o, n: next((a.get("address") for a in _status(o).get("addresses") or []
                                                  if a.get("type") == "InternalIP"), "<none>"), priority=1),
    ],
}


def columns_for(group: str, plural: str) -> list[dict[str, Any]] | None:
    return COLUMNS.get((group, plural))
