"""The one Node and whether a Pod fits on it: kube-scheduler's answer for a one-node cluster.

The emulator's kubelet is the whole data plane, so scheduling reduces to one question per
Pod: does the node satisfy its ``nodeSelector``, its required node affinity and its
resource requests (each Pod's requests against the node's allocatable, without counting
the Pods already there)? If not, the Pod stays Pending with ``PodScheduled=False``,
``Unschedulable`` and the message the scheduler writes. Also the Node object itself. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from routeshift.emulator.workloads import objects

_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_SUFFIX = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
           "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
_CHECKED = ("cpu", "memory", "ephemeral-storage")


def quantity(value: Any) -> float:
    """A resource quantity (``100m``, ``1.5``, ``128Mi``, ``1G``) as a number."""
    if isinstance(value, (int, float)):
        return float(value)
    match = _QUANTITY.match(str(value).strip())
    if match is None or match.group(2) not in _SUFFIX:
        raise ValueError(f"invalid quantity {value!r}")
    return float(match.group(1)) * _SUFFIX[match.group(2)]


def node(name: str, labels: Mapping[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                                  "kubernetes.io/arch": "amd64", **labels}},
            "spec": {}}


def node_status(name: str, *, host_ip: str, cpus: int, memory_bytes: int, pods: int, kubelet_version: str,
                previous: Mapping[str, Any] | None, now: str) -> dict[str, Any]:
    capacity = {"cpu": str(cpus), "memory": f"{memory_bytes // 1024}Ki", "pods": str(pods),
                "ephemeral-storage": "100Gi"}
    conditions: list[dict[str, Any]] = list((previous or {}).get("conditions") or [])
    for kind, status, reason, message in (
            ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            ("Ready", "True", "KubeletReady", "kubelet is posting ready status")):
        conditions = objects.set_condition(conditions, {"type": kind, "status": status, "reason": reason,
                                                        "message": message, "lastHeartbeatTime": now}, now)
    return {"capacity": capacity, "allocatable": dict(capacity), "conditions": conditions,
            "addresses": [{"type": "InternalIP", "address": host_ip}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": kubelet_version, "kubeProxyVersion": kubelet_version,
                         "operatingSystem": "linux", "architecture": "amd64",
                         "containerRuntimeVersion": "routeshift-local://1", "osImage": "Routeshift emulator",
                         "kernelVersion": "", "machineID": "", "systemUUID": "", "bootID": ""},
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}}}


def _term_matches(term: Mapping[str, Any], node_labels: Mapping[str, str]) -> bool:
    for expression in term.get("matchExpressions") or ():
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or ()
        present, value = key in node_labels, node_labels.get(key)
        if operator == "In" and not (present and value in values):
            return False
        if operator == "NotIn" and present and value in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
        if operator in ("Gt", "Lt"):
            try:
                left, right = int(value or ""), int(values[0])
            except (ValueError, IndexError):
                return False
            if (operator == "Gt" and not left > right) or (operator == "Lt" and not left < right):
                return False
    return True


def _affinity_matches(pod: Mapping[str, Any], node_labels: Mapping[str, str]) -> bool:
    required = (((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution") or {}
    terms = required.get("nodeSelectorTerms") or ()
    return not terms or any(_term_matches(term, node_labels) for term in terms)


def requests(pod: Mapping[str, Any]) -> dict[str, float]:
    """The Pod's effective requests: the sum over containers, or the largest init container's."""
    spec = pod.get("spec") or {}
    totals: dict[str, float] = {}
    for container in spec.get("containers") or ():
        for name, value in ((container.get("resources") or {}).get("requests") or {}).items():
            totals[name] = totals.get(name, 0.0) + quantity(value)
    for container in spec.get("initContainers") or ():
        for name, value in ((container.get("resources") or {}).get("requests") or {}).items():
            totals[name] = max(totals.get(name, 0.0), quantity(value))
    return totals


def unschedulable(pod: Mapping[str, Any], node_obj: Mapping[str, Any]) -> str | None:
    """None when the Pod fits the node, else the scheduler's message for why not."""
    node_labels = objects.labels(node_obj)
    wanted = (pod.get("spec") or {}).get("nodeSelector") or {}
    reasons: list[str] = []
    if any(node_labels.get(k) != v for k, v in wanted.items()) or not _affinity_matches(pod, node_labels):
        reasons.append("1 node(s) didn't match Pod's node affinity/selector")
    allocatable = (node_obj.get("status") or {}).get("allocatable") or {}
    try:
        asked = requests(pod)
    except ValueError:
        asked = {}
    for name in _CHECKED:
        if name in asked and name in allocatable and asked[name] > quantity(allocatable[name]):
            reasons.append(f"1 Insufficient {name}")
    if not reasons:
        return None
    preemption = ("1 Preemption is not helpful for scheduling" if not any("Insufficient" in r for r in reasons)
                  else "1 No preemption victims found for incoming pod")
    return (f"0/1 nodes are available: {', '.join(reasons)}. "
            f"preemption: 0/1 nodes are available: {preemption}.")
