"""The single place where objects change: kmock's object array, the clock and the event log.

Every committed write gets the next global resourceVersion, lands in kmock's versioned
object array (so kmock-style assertions on ``emulator.objects[...]`` keep working), and is
appended to the watch log in the same synchronous step. Nothing here awaits, so on the
emulator's event loop each write is atomic without a lock.

Reads do not go through kmock's array: looking a key up there compares kmock resource
objects one by one, and listing scans every object of every type, so with a few thousand
Pods, ReplicaSets and Events each read cost milliseconds. Since every write passes here,
the store keeps its own indexes beside the array: live objects per storage type, and the
objects that name each uid in their ownerReferences (what a cascading deletion visits).
"""

from __future__ import annotations

from typing import Any

import kmock

from routeshift.emulator import eventlog, jsondata, metadata, registry

# Versions of one object kept in kmock's history; older ones are dropped to bound memory.
HISTORY_DEPTH = 16
Key = tuple[kmock.resource, str | None, str]  # kmock's object-array key
TypeKey = tuple[str, str, str]  # (group, version, plural) of a storage type


def present(obj: dict[str, Any], rtype: registry.ResourceType) -> dict[str, Any]:
    """The stored object as served in ``rtype``'s version (apiVersion/kind set): a copy the caller owns."""
    served = jsondata.copy(obj)
    served["apiVersion"] = rtype.group_version
    served["kind"] = rtype.kind
    return served


def wire_view(obj: dict[str, Any], rtype: registry.ResourceType) -> dict[str, Any]:
    """The same as :func:`present` for a response about to be encoded: it shares the stored
    object's values, so it must only be read, and encoded before anything writes again."""
    return {**obj, "apiVersion": rtype.group_version, "kind": rtype.kind}


class Store:
    """Live objects keyed by their storage resource, namespace and name."""

    def __init__(self, objects: kmock.ObjectsArray, types: registry.Registry, log: eventlog.EventLog,
                 clock: metadata.ResourceVersionClock) -> None:
        self.objects = objects
        self.types = types
        self.log = log
        self.clock = clock
        # storage type -> (namespace, name) -> kmock's holder of the live object's versions
        self._live: dict[TypeKey, dict[tuple[str | None, str], Any]] = {}
        # the same keys -> the live object as committed: kmock finds an object's last version by
        # walking its history backwards on every read, 9 % of the emulator's CPU in LISTs of Pods
        self._latest: dict[TypeKey, dict[tuple[str | None, str], dict[str, Any]]] = {}
        # owner uid -> (storage type key, namespace, name) of the objects that reference it
        self._owned: dict[str, set[tuple[TypeKey, str | None, str]]] = {}

    def _where(self, rtype: registry.ResourceType, namespace: str | None,
               name: str) -> tuple[registry.ResourceType, tuple[str | None, str]]:
        return self.types.storage_of(rtype), (namespace if rtype.namespaced else None, name)

    def get(self, rtype: registry.ResourceType, namespace: str | None, name: str) -> dict[str, Any] | None:
        storage, at = self._where(rtype, namespace, name)
        obj = self._latest.get(storage.key, {}).get(at)
        return None if obj is None else dict(obj)  # a top level of its own, as kmock's reads give

    def list(self, rtype: registry.ResourceType, namespace: str | None = None) -> list[dict[str, Any]]:
        """Live objects of the type, in one namespace or all, sorted by namespace and name."""
        live = self._latest.get(self.types.storage_of(rtype).key, {})
        found = [(ns or "", name, obj) for (ns, name), obj in live.items() if namespace is None or ns == namespace]
        return [dict(obj) for _, _, obj in sorted(found, key=lambda item: item[:2])]

    def dependents(self, owner_uid: str) -> list[tuple[registry.ResourceType, dict[str, Any]]]:
        """The live objects whose ownerReferences name ``owner_uid``, with their storage types."""
        found = []
        for type_key, namespace, name in sorted(self._owned.get(owner_uid, ()), key=lambda d: (d[0], d[1] or "", d[2])):
            obj = self._latest.get(type_key, {}).get((namespace, name))
            if obj is not None:
                found.append((self.types.lookup(*type_key), dict(obj)))
        return found

    def create(self, rtype: registry.ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        storage, at = self._where(rtype, meta.get("namespace"), meta["name"])
        key = (storage.kmock_resource, *at)
        committed = metadata.with_version(obj, self.clock.tick())
        if key in self.objects:
            self.objects[key].create(committed)
            self._trim(key)
        else:
            self.objects[key] = committed
        self._live.setdefault(storage.key, {})[at] = self.objects[key]
        self._latest.setdefault(storage.key, {})[at] = committed
        self._index_owners(storage.key, at, None, committed)
        self._record("ADDED", rtype, committed, None)
        return committed

    def update(self, rtype: registry.ResourceType, obj: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        storage, at = self._where(rtype, meta.get("namespace"), meta["name"])
        holder = self._live[storage.key][at]
        stored = self._latest[storage.key][at]  # what the owner index holds, whatever ``previous`` the caller passes
        committed = metadata.with_version(obj, self.clock.tick())
        holder.history.append(committed)
        self._latest[storage.key][at] = committed
        self._trim((storage.kmock_resource, *at))
        self._index_owners(storage.key, at, stored, committed)
        self._record("MODIFIED", rtype, committed, previous)
        return committed

    def remove(self, rtype: registry.ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Delete for good; the DELETED event carries the deletion's resourceVersion."""
        meta = obj["metadata"]
        storage, at = self._where(rtype, meta.get("namespace"), meta["name"])
        final = metadata.with_version(jsondata.copy(obj), self.clock.tick())
        holder = self._live[storage.key].pop(at)
        stored = self._latest[storage.key].pop(at)
        holder.delete()
        self._trim((storage.kmock_resource, *at))
        self._index_owners(storage.key, at, stored, None)
        self._record("DELETED", rtype, final, obj)
        return final

    def _index_owners(self, type_key: TypeKey, at: tuple[str | None, str], before: dict[str, Any] | None,
                      after: dict[str, Any] | None) -> None:
        was, now = _owner_uids(before), _owner_uids(after)
        for uid in was - now:
            self._owned[uid].discard((type_key, *at))
            if not self._owned[uid]:
                del self._owned[uid]
        for uid in now - was:
            self._owned.setdefault(uid, set()).add((type_key, *at))

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


def _owner_uids(obj: dict[str, Any] | None) -> set[str]:
    references = ((obj or {}).get("metadata") or {}).get("ownerReferences") or ()
    return {reference["uid"] for reference in references if reference.get("uid")}
