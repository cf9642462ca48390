"""The single place where objects change: kmock's object array, the clock and the event log.

Every committed write gets the next global resourceVersion, lands in kmock's versioned
object array (so kmock-style assertions on ``emulator.objects[...]`` keep working), and is
appended to the watch log in the same synchronous step. Nothing here awaits, so on the
emulator's event loop each write is atomic without a lock.
"""

from __future__ import annotations

import copy
from typing import Any

import kmock

from routeshift.emulator import eventlog, metadata, registry

# Versions of one object kept in kmock's history; older ones are dropped to bound memory.
HISTORY_DEPTH = 16
Key = tuple[kmock.resource, str | None, str]  # kmock's object-array key


def present(obj: dict[str, Any], rtype: registry.ResourceType) -> dict[str, Any]:
    """The stored object as served in ``rtype``'s version (apiVersion/kind set)."""
    served = copy.deepcopy(obj)
    served["apiVersion"] = rtype.group_version
    served["kind"] = rtype.kind
    return served


class Store:
    """Live objects keyed by their storage resource, namespace and name."""

    def __init__(self, objects: kmock.ObjectsArray, types: registry.Registry, log: eventlog.EventLog,
                 clock: metadata.ResourceVersionClock) -> None:
        self.objects = objects
        self.types = types
        self.log = log
        self.clock = clock

    def _key(self, rtype: registry.ResourceType, namespace: str | None, name: str) -> Key:
        storage = self.types.storage_of(rtype)
        return (storage.kmock_resource, namespace if rtype.namespaced else None, name)

    def get(self, rtype: registry.ResourceType, namespace: str | None, name: str) -> dict[str, Any] | None:
        key = self._key(rtype, namespace, name)
        if key not in self.objects:
            return None
        stored = self.objects[key]
        return None if stored.deleted else stored.raw

    def list(self, rtype: registry.ResourceType, namespace: str | None = None) -> list[dict[str, Any]]:
        """Live objects of the type, in one namespace or all, sorted by namespace and name."""
        storage = self.types.storage_of(rtype).kmock_resource
        found = [
            (ns or "", name, obj.raw) for (res, ns, name), obj in self.objects.items()
            if res == storage and not obj.deleted and (namespace is None or ns == namespace)
        ]
        return [obj for _, _, obj in sorted(found, key=lambda item: item[:2])]

    def create(self, rtype: registry.ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        key = self._key(rtype, meta.get("namespace"), meta["name"])
        committed = metadata.with_version(obj, self.clock.tick())
        if key in self.objects:
            self.objects[key].create(committed)
            self._trim(key)
        else:
            self.objects[key] = committed
        self._record("ADDED", rtype, committed, None)
        return committed

    def update(self, rtype: registry.ResourceType, obj: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        key = self._key(rtype, meta.get("namespace"), meta["name"])
        committed = metadata.with_version(obj, self.clock.tick())
        self.objects[key].history.append(committed)
        self._trim(key)
        self._record("MODIFIED", rtype, committed, previous)
        return committed

    def remove(self, rtype: registry.ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Delete for good; the DELETED event carries the deletion's resourceVersion."""
        meta = obj["metadata"]
        key = self._key(rtype, meta.get("namespace"), meta["name"])
        final = metadata.with_version(copy.deepcopy(obj), self.clock.tick())
        self.objects[key].delete()
        self._trim(key)
        self._record("DELETED", rtype, final, obj)
        return final

    def _trim(self, key: Key) -> None:
        history = self.objects[key].history
        if len(history) > HISTORY_DEPTH:
            del history[: len(history) - HISTORY_DEPTH]

    def _record(self, kind: str, rtype: registry.ResourceType, obj: dict[str, Any],
                previous: dict[str, Any] | None) -> None:
        self.log.append(eventlog.Change(
            resource_version=int(obj["metadata"]["resourceVersion"]),
            storage=self.types.storage_of(rtype), type=kind, object=obj, previous=previous,
        ))
