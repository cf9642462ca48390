"""The EndpointSlices a Service with a selector should have, as pure functions.

As kube-controller-manager's EndpointSlice controller: the selected Pods (same namespace,
labels matching, not terminal, with an IP) become endpoints with ``ready`` (Pod ready and
not terminating), ``serving`` (Pod ready) and ``terminating`` conditions and a ``targetRef``;
each Service port becomes a slice port whose number is the resolved ``targetPort`` (a
number, or a named container port looked up in that Pod, defaulting to ``port``). Pods that
resolve the ports differently land in different slices; a Service selecting nothing keeps
one empty placeholder slice. Consumers such as the gateway proxy route to ready endpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from routeshift.emulator.workloads import objects

SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER = "endpointslice-controller.k8s.io"

Content = dict[str, Any]  # {"ports": [...], "endpoints": [...]}


def managed(service: dict[str, Any]) -> bool:
    """Only Services with a selector get slices; the others' slices are written by hand."""
    spec = service.get("spec") or {}
    return bool(spec.get("selector")) and spec.get("type") != "ExternalName"


def resolve_port(service_port: dict[str, Any], pod: dict[str, Any]) -> int | None:
    """``podutil.FindPort``: the Pod's number for a Service port's ``targetPort``."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol", "TCP")
    for container in (pod.get("spec") or {}).get("containers") or ():
        for port in container.get("ports") or ():
            if port.get("name") == target and port.get("protocol", "TCP") == protocol:
                return int(port["containerPort"])
    return None


def _ports(service: dict[str, Any], pod: dict[str, Any]) -> tuple[tuple[tuple[str, Any], ...], ...]:
    resolved = []
    for service_port in (service.get("spec") or {}).get("ports") or ():
        number = resolve_port(service_port, pod)
        if number is None:
            continue  # upstream skips a port the Pod cannot serve
        entry = {"name": service_port.get("name", ""), "port": number,
                 "protocol": service_port.get("protocol", "TCP")}
        if service_port.get("appProtocol"):
            entry["appProtocol"] = service_port["appProtocol"]
        resolved.append(tuple(entry.items()))
    return tuple(resolved)


def endpoint(pod: dict[str, Any]) -> dict[str, Any]:
    ready = objects.pod_ready(pod)
    terminating = objects.deleting(pod)
    meta = objects.meta(pod)
    entry: dict[str, Any] = {
        "addresses": [(pod.get("status") or {})["podIP"]],
        "conditions": {"ready": ready and not terminating, "serving": ready, "terminating": terminating},
        "targetRef": {"kind": "Pod", "namespace": meta.get("namespace"), "name": meta.get("name"),
                      "uid": meta.get("uid")},
    }
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        entry["nodeName"] = node
    return entry


def selected(service: dict[str, Any], pods: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pods that belong in the Service's endpoints (``ShouldPodBeInEndpoints``)."""
    namespace = objects.meta(service).get("namespace")
    selector = (service.get("spec") or {}).get("selector") or {}
    return [pod for pod in pods
            if objects.meta(pod).get("namespace") == namespace
            and objects.map_selector_matches(selector, objects.labels(pod))
            and (pod.get("status") or {}).get("phase") not in objects.TERMINAL_PHASES
            and (pod.get("status") or {}).get("podIP")]


def desired(service: dict[str, Any], pods: Sequence[dict[str, Any]]) -> list[Content]:
    """One content per distinct port mapping (in the order of their first Pod's name),
    endpoints sorted by Pod name; never empty."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for pod in sorted(selected(service, pods), key=lambda pod: objects.meta(pod).get("name") or ""):
        groups.setdefault(_ports(service, pod), []).append(endpoint(pod))
    if not groups:
        return [{"ports": [], "endpoints": []}]
    return [{"ports": [dict(port) for port in ports], "endpoints": endpoints}
            for ports, endpoints in groups.items()]


def labels_for(service: dict[str, Any]) -> dict[str, str]:
    own = {k: v for k, v in objects.labels(service).items() if k not in (SERVICE_NAME, MANAGED_BY)}
    return {**own, SERVICE_NAME: objects.meta(service)["name"], MANAGED_BY: CONTROLLER}


def body(service: dict[str, Any], content: Content) -> dict[str, Any]:
    """A new slice (the API server names it from ``generateName: <service>-``)."""
    meta = objects.meta(service)
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"generateName": f"{meta['name']}-", "namespace": meta.get("namespace"),
                     "labels": labels_for(service),
                     "ownerReferences": [objects.controller_reference(service, "v1", "Service")]},
        "addressType": "IPv4", **content,
    }


def content_of(existing: dict[str, Any]) -> Content:
    return {"ports": existing.get("ports") or [], "endpoints": existing.get("endpoints") or []}


def plan(service: dict[str, Any], existing: Sequence[dict[str, Any]], wanted: Sequence[Content]) -> tuple[
        list[Content], list[tuple[dict[str, Any], Content]], list[dict[str, Any]]]:
    """(to create, to update as (slice, content), to delete): a slice whose content and labels
    are already right is left alone, so a Pod change writes only the slice it is in."""
    remaining = sorted(existing, key=lambda s: objects.meta(s).get("name") or "")
    labels = labels_for(service)

    def fits(slice_: dict[str, Any], content: Content) -> bool:
        return (content_of(slice_) == content and objects.labels(slice_) == labels
                and slice_.get("addressType") == "IPv4")

    pending = []
    for content in wanted:  # untouched: already right
        match = next((s for s in remaining if fits(s, content)), None)
        if match is None:
            pending.append(content)
        else:
            remaining.remove(match)
    updates: list[tuple[dict[str, Any], Content]] = []
    unplaced = []
    for content in pending:  # updated in place: same ports, other endpoints
        match = next((s for s in remaining if (s.get("ports") or []) == content["ports"]), None)
        if match is None:
            unplaced.append(content)
        else:
            remaining.remove(match)
            updates.append((match, content))
    creates: list[Content] = []
    for content in unplaced:  # a leftover slice is reused rather than deleted and created
        if remaining:
            updates.append((remaining.pop(0), content))
        else:
            creates.append(content)
    return creates, updates, remaining
