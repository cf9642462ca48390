"""The garbage collector: an object whose owners are all gone is deleted, whatever its kind.

Deleting an owner through the API already takes its dependents along (background
propagation in :mod:`routeshift.emulator.operations`). What is left to a collector is the
rest of the graph: an object created or updated with owner references that all point at
uids that do not exist (a ReplicaSet's Pod created as the ReplicaSet was deleted, a
resource owned by a custom resource deleted earlier). The collector keeps the set of live
uids from the event log and deletes such orphans in the background, as upstream does.
"""

from __future__ import annotations

from typing import Any

from routeshift.emulator import eventlog, store
from routeshift.emulator.workloads import informers, objects, writes


class GarbageCollector:
    watches: tuple[informers.Kind, ...] = ()  # it sees every change through observe()

    def __init__(self, writer: writes.Writer) -> None:
        self.writer = writer
        self.queue = informers.Queue()
        self.uids: set[str] = set()

    def load(self, objects_store: store.Store) -> None:
        self.uids = set()
        for rtype in self._storages(objects_store):
            for obj in objects_store.list(rtype):
                self.uids.add(objects.uid(obj))
                if objects.meta(obj).get("ownerReferences"):
                    self.queue.add(((rtype.group, rtype.plural), *objects.key_of(obj)))

    @staticmethod
    def _storages(objects_store: store.Store) -> list[Any]:
        seen = {}
        for rtype in objects_store.types.all():
            seen.setdefault((rtype.group, rtype.plural), objects_store.types.storage_of(rtype))
        return list(seen.values())

    def observe(self, change: eventlog.Change) -> None:
        obj = change.object
        if change.type == "DELETED":
            self.uids.discard(objects.uid(obj))
            return
        self.uids.add(objects.uid(obj))
        if objects.meta(obj).get("ownerReferences"):
            self.queue.add((informers.kind_of(change), *objects.key_of(obj)))

    def changed(self, kind: informers.Kind, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
        """Unused: :meth:`observe` sees every kind."""

    def resync(self) -> None:
        """Nothing: :meth:`load` queued every owned object."""

    def sync(self, key: tuple[informers.Kind, str, str]) -> float | None:
        kind, namespace, name = key
        try:
            obj = self.writer.read(kind, namespace or None, name)
        except KeyError:  # its type is gone (a CRD deleted): so are its objects
            return None
        if obj is None or objects.deleting(obj):
            return None
        references = objects.meta(obj).get("ownerReferences") or []
        if references and not any(reference.get("uid") in self.uids for reference in references):
            self.writer.delete(kind, obj)
        return None
