"""The EndpointSlice controller: each Service with a selector gets slices of its ready Pods.

Each sync reads one Service, the Pods its selector picks and the slices it manages (label
``endpointslice.kubernetes.io/managed-by``, owned by that very Service) from the cache's
label indexes, and writes only the slices whose content changed (:func:`slices.plan`).
Services without a selector are not touched: their slices are written by hand (tests, the
demo), as in a cluster. It is woken by changes to Services, to Pods a Service selects (before
or after the change, found through the cache's selector index) and to its own slices (a slice
deleted by hand comes back).
"""

from __future__ import annotations

from typing import Any

from routeshift.emulator import jsondata
from routeshift.emulator.workloads import informers, objects, slices, writes


class EndpointSliceController:
    watches = (informers.SERVICES, informers.PODS, informers.SLICES)

    def __init__(self, cache: informers.Cache, writer: writes.Writer) -> None:
        self.cache = cache
        self.writer = writer
        self.queue = informers.Queue()

    def changed(self, kind: informers.Kind, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
        obj = after or before
        assert obj is not None
        namespace = objects.meta(obj).get("namespace") or ""
        if kind == informers.SERVICES:
            self.queue.add(objects.key_of(obj))
        elif kind == informers.SLICES:
            labels = objects.labels(obj)
            if labels.get(slices.MANAGED_BY) == slices.CONTROLLER and labels.get(slices.SERVICE_NAME):
                self.queue.add((namespace, labels[slices.SERVICE_NAME]))
        else:
            for pod in (before, after):
                if pod is not None:
                    for service in self.cache.selecting(namespace, objects.labels(pod)):
                        self.queue.add(objects.key_of(service))

    def resync(self) -> None:
        for service in self.cache.list(informers.SERVICES):
            self.queue.add(objects.key_of(service))

    def sync(self, key: tuple[str, str]) -> float | None:
        namespace, name = key
        service = self.cache.get(informers.SERVICES, namespace, name)
        if service is None or objects.deleting(service):
            return None  # its slices go with it (owner references)
        mine = [s for s in self.cache.labelled(informers.SLICES, namespace,
                                               {slices.MANAGED_BY: slices.CONTROLLER, slices.SERVICE_NAME: name})
                if objects.owned_by(s, objects.uid(service))]
        if not slices.managed(service):
            for stale in mine:
                self.writer.delete(informers.SLICES, stale)
            return None
        selector = (service.get("spec") or {}).get("selector") or {}
        wanted = slices.desired(service, self.cache.labelled(informers.PODS, namespace, selector))
        creates, updates, deletes = slices.plan(service, mine, wanted)
        for content in creates:
            self.writer.create(informers.SLICES, slices.body(service, content))
        for existing, content in updates:
            body = jsondata.copy(existing)
            body.update(jsondata.copy(content))
            body["addressType"] = "IPv4"
            body["metadata"]["labels"] = slices.labels_for(service)
            self.writer.update(informers.SLICES, body)
        for stale in deletes:
            self.writer.delete(informers.SLICES, stale)
        return None
