"""The scheduler of a one-node cluster: binds each new Pod to the node, or says why it cannot.

Pods that name no node and ask for the default scheduler are bound to the kubelet's node
when they fit (:func:`scheduling.unschedulable`), by setting ``spec.nodeName`` and
``PodScheduled=True`` as the binding subresource does; otherwise they get
``PodScheduled=False``/``Unschedulable`` and are tried again whenever the Node changes.
"""

from __future__ import annotations

import datetime
from typing import Any

from routeshift.emulator import jsondata
from routeshift.emulator.workloads import informers, objects, podstatus, scheduling, writes

DEFAULT_SCHEDULER = "default-scheduler"


def _pending(pod: dict[str, Any] | None) -> bool:
    if pod is None or objects.deleting(pod):
        return False
    spec = pod.get("spec") or {}
    return not spec.get("nodeName") and spec.get("schedulerName", DEFAULT_SCHEDULER) == DEFAULT_SCHEDULER \
        and (pod.get("status") or {}).get("phase") not in objects.TERMINAL_PHASES


class Scheduler:
    watches = (informers.PODS, informers.NODES)

    def __init__(self, cache: informers.Cache, writer: writes.Writer, node_name: str) -> None:
        self.cache = cache
        self.writer = writer
        self.node_name = node_name
        self.queue = informers.Queue()

    def changed(self, kind: informers.Kind, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
        if kind == informers.PODS:
            if _pending(after):
                assert after is not None
                self.queue.add(objects.key_of(after))
        elif objects.meta(after or before or {}).get("name") == self.node_name:
            self.resync()

    def resync(self) -> None:
        for pod in self.cache.list(informers.PODS):
            if _pending(pod):
                self.queue.add(objects.key_of(pod))

    def sync(self, key: tuple[str, str]) -> float | None:
        pod = self.cache.get(informers.PODS, *key)
        if not _pending(pod):
            return None
        assert pod is not None
        node = self.cache.get(informers.NODES, None, self.node_name)
        if node is None or not (node.get("status") or {}).get("allocatable"):
            return 0.1  # the kubelet registers its node first
        now = objects.rfc3339(datetime.datetime.now(tz=datetime.UTC))
        message = scheduling.unschedulable(pod, node)
        if message is not None:
            self.writer.update_status(informers.PODS, pod, podstatus.unschedulable(pod, message, now))
            return None
        bound = jsondata.copy(pod)
        bound["spec"]["nodeName"] = self.node_name
        committed = self.writer.update(informers.PODS, bound)
        self.writer.update_status(informers.PODS, committed, podstatus.scheduled(committed, now))
        return None
