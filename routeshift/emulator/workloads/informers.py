"""What the workload controllers know of the cluster: a cache fed by the emulator's event log.

Real controllers read from informers (a local cache kept current by a watch) and work
from queues of keys. Here the watch is the emulator's own event log, read in process: the
cache is updated from exactly the changes every client's watch sees, in resourceVersion
order, indexed by namespace, by controller owner, by label (Pods, EndpointSlices) and by
Service selector, so that "the Pods of this ReplicaSet", "the Pods this Service selects" and
"the Services that select this Pod" cost no scan of the namespace. When the log was
compacted past the cache's position (410 Gone for a client), the cache is rebuilt from the
store, as an informer re-lists.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import time
from collections.abc import Iterable
from typing import Any

from routeshift.emulator import eventlog, store
from routeshift.emulator.workloads import objects

Kind = tuple[str, str]  # (group, plural) of the storage version
DEPLOYMENTS: Kind = ("apps", "deployments")
REPLICASETS: Kind = ("apps", "replicasets")
PODS: Kind = ("", "pods")
SERVICES: Kind = ("", "services")
SLICES: Kind = ("discovery.k8s.io", "endpointslices")
NODES: Kind = ("", "nodes")
WATCHED = (DEPLOYMENTS, REPLICASETS, PODS, SERVICES, SLICES, NODES)
LABEL_INDEXED = (PODS, SLICES)
Obj = dict[str, Any]
LabelKey = tuple[str, str, str]  # (namespace, label name, label value)


def kind_of(change: eventlog.Change) -> Kind:
    return (change.storage.group, change.storage.plural)


class Cache:
    """Live objects of the watched kinds; the dicts are the store's (never mutate them)."""

    def __init__(self, kinds: Iterable[Kind] = WATCHED) -> None:
        self.kinds = tuple(kinds)
        self._by_namespace: dict[Kind, dict[str, dict[str, Obj]]] = {kind: {} for kind in self.kinds}
        self._by_controller: dict[str, set[tuple[Kind, str, str]]] = {}
        self._by_label: dict[Kind, dict[LabelKey, dict[str, Obj]]] = {kind: {} for kind in LABEL_INDEXED}
        # Each Service with a selector, under one pair of its selector (the first by name): a
        # Service that selects a Pod is found under one of the Pod's own labels.
        self._by_selector: dict[LabelKey, dict[str, Obj]] = {}

    def load(self, objects_store: store.Store) -> None:
        """Start over from the store's current content (first start, or the log moved on)."""
        for kind in self.kinds:
            self._by_namespace[kind] = {}
        self._by_controller = {}
        self._by_label = {kind: {} for kind in LABEL_INDEXED}
        self._by_selector = {}
        for rtype in objects_store.types.all():
            kind = (rtype.group, rtype.plural)
            if kind in self.kinds and objects_store.types.storage_of(rtype) is rtype:
                for obj in objects_store.list(rtype):
                    self._put(kind, obj)

    def get(self, kind: Kind, namespace: str | None, name: str) -> Obj | None:
        return self._by_namespace[kind].get(namespace or "", {}).get(name)

    def list(self, kind: Kind, namespace: str | None = None) -> list[Obj]:
        spaces = self._by_namespace[kind]
        if namespace is not None:
            return list(spaces.get(namespace, {}).values())
        return [obj for names in spaces.values() for obj in names.values()]

    def controlled_by(self, kind: Kind, owner_uid: str) -> list[Obj]:
        found = []
        for entry_kind, namespace, name in self._by_controller.get(owner_uid, ()):
            if entry_kind == kind and (obj := self.get(kind, namespace, name)) is not None:
                found.append(obj)
        return found

    def labelled(self, kind: Kind, namespace: str, selector: dict[str, str]) -> list[Obj]:
        """Objects of ``kind`` (one of LABEL_INDEXED) in the namespace that carry every label of
        ``selector``; an empty selector selects nothing, as a Service's does."""
        index = self._by_label[kind]
        buckets = [index.get((namespace, key, value), {}) for key, value in selector.items()]
        if not buckets:
            return []
        smallest = min(buckets, key=len)
        return [obj for obj in smallest.values() if objects.map_selector_matches(selector, objects.labels(obj))]

    def selecting(self, namespace: str, labels: dict[str, str]) -> list[Obj]:
        """The Services of the namespace whose selector picks an object with these labels."""
        found = []
        for key, value in labels.items():
            for service in self._by_selector.get((namespace, key, value), {}).values():
                if objects.map_selector_matches(_selector(service), labels):
                    found.append(service)
        return found

    def apply(self, change: eventlog.Change) -> tuple[Obj | None, Obj | None] | None:
        """Take one change in; (before, after) for the watched kinds, None for the others."""
        kind = kind_of(change)
        if kind not in self._by_namespace:
            return None
        namespace, name = objects.key_of(change.object)
        before = self.get(kind, namespace, name)
        if change.type == "DELETED":
            self._drop(kind, namespace, name)
            return before, None
        self._put(kind, change.object)
        return before, change.object

    def _put(self, kind: Kind, obj: Obj) -> None:
        namespace, name = objects.key_of(obj)
        self._drop(kind, namespace, name)
        self._by_namespace[kind].setdefault(namespace, {})[name] = obj
        reference = objects.controller_of(obj)
        if reference is not None and reference.get("uid"):
            self._by_controller.setdefault(reference["uid"], set()).add((kind, namespace, name))
        if kind in self._by_label:
            index = self._by_label[kind]
            for key, value in objects.labels(obj).items():
                index.setdefault((namespace, key, value), {})[name] = obj
        elif kind == SERVICES and (selector := _selector(obj)):
            self._by_selector.setdefault(_selector_key(namespace, selector), {})[name] = obj

    def _drop(self, kind: Kind, namespace: str, name: str) -> None:
        old = self._by_namespace[kind].get(namespace, {}).pop(name, None)
        if old is None:
            return
        reference = objects.controller_of(old)
        if reference is not None and reference.get("uid") in self._by_controller:
            owned = self._by_controller[reference["uid"]]
            owned.discard((kind, namespace, name))
            if not owned:
                del self._by_controller[reference["uid"]]
        if kind in self._by_label:
            _unindex(self._by_label[kind], ((namespace, *pair) for pair in objects.labels(old).items()), name)
        elif kind == SERVICES and (selector := _selector(old)):
            _unindex(self._by_selector, (_selector_key(namespace, selector),), name)


def _selector(service: Obj) -> dict[str, str]:
    return (service.get("spec") or {}).get("selector") or {}


def _selector_key(namespace: str, selector: dict[str, str]) -> LabelKey:
    key = min(selector)
    return (namespace, key, selector[key])


def _unindex(index: dict[LabelKey, dict[str, Obj]], keys: Iterable[LabelKey], name: str) -> None:
    for key in keys:
        bucket = index.get(key)
        if bucket is not None:
            bucket.pop(name, None)
            if not bucket:
                del index[key]


@dataclasses.dataclass
class Queue:
    """Keys to reconcile, each at most once in the queue, plus keys due later."""

    _dirty: dict[Any, None] = dataclasses.field(default_factory=dict)
    _later: list[tuple[float, int, Any]] = dataclasses.field(default_factory=list)
    _counter: itertools.count = dataclasses.field(default_factory=itertools.count)

    def add(self, key: Any) -> None:
        self._dirty[key] = None

    def add_after(self, key: Any, seconds: float) -> None:
        heapq.heappush(self._later, (time.monotonic() + max(0.0, seconds), next(self._counter), key))

    def promote(self) -> float | None:
        """Move due keys to the queue; seconds until the next one is due (None: nothing later)."""
        now = time.monotonic()
        while self._later and self._later[0][0] <= now:
            self.add(heapq.heappop(self._later)[2])
        return self._later[0][0] - now if self._later else None

    def pop(self) -> Any:
        key = next(iter(self._dirty))
        del self._dirty[key]
        return key

    def __bool__(self) -> bool:
        return bool(self._dirty)
