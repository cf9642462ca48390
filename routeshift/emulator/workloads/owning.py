"""The shape shared by controllers that keep owned objects in line with their owner.

The Deployment controller (owner Deployment, owned ReplicaSets) and the ReplicaSet
controller (owner ReplicaSet, owned Pods) are woken the same way: by any change of an
owner, and by a change of an object whose controller reference names an owner of their
kind, before or after the change (an object that left its owner wakes the old one). Their
queues hold owner keys; a resync queues every owner. Only ``sync`` differs.
"""

from __future__ import annotations

from typing import Any

from routeshift.emulator.workloads import informers, objects, writes


class OwnerKeyedController:
    owner: informers.Kind
    owned: informers.Kind
    owner_kind: str  # the kind named in the owned objects' controller reference

    def __init__(self, cache: informers.Cache, writer: writes.Writer) -> None:
        self.cache = cache
        self.writer = writer
        self.queue = informers.Queue()

    @property
    def watches(self) -> tuple[informers.Kind, ...]:
        return (self.owner, self.owned)

    def changed(self, kind: informers.Kind, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
        obj = after or before
        assert obj is not None
        if kind == self.owner:
            self.queue.add(objects.key_of(obj))
            return
        for version in (before, after):
            owner = objects.controller_of(version) if version is not None else None
            if owner is not None and owner.get("kind") == self.owner_kind:
                self.queue.add((objects.meta(obj).get("namespace") or "", owner.get("name") or ""))

    def resync(self) -> None:
        for owner in self.cache.list(self.owner):
            self.queue.add(objects.key_of(owner))
