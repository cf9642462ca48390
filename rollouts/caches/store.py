"""A keyed local copy of one kind of object, fed by a list and then by watch events.

Pure and synchronous, so that every ordering a watch can produce (an event older than the
copy, a DELETED for something never seen, a relist that drops what vanished during a gap)
is a table test. Objects are kept as the API sent them minus ``metadata.managedFields``,
which nobody here reads and which is often the largest part of an object.

resourceVersions are opaque to clients in general; every API server we know of (etcd's
revision, the emulator's counter) makes them integers that grow. The store compares them
only when both parse as integers, to refuse an event older than what it already holds
(a write of our own recorded before the watch delivered the events that preceded it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

Key = tuple[str, str]  # (namespace, name)


@dataclasses.dataclass(frozen=True)
class Change:
    """One object that changed in the copy: ``before`` or ``after`` is None for an add or a delete."""

    key: Key
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None


def key_of(obj: Mapping[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


def version_of(obj: Mapping[str, Any] | None) -> str:
    return ((obj or {}).get("metadata") or {}).get("resourceVersion") or ""


def older(candidate: str, held: str) -> bool:
    """True when ``candidate`` is known to precede ``held`` (both integers); unknown order is not older."""
    if candidate.isdigit() and held.isdigit():
        return int(candidate) < int(held)
    return False


def trimmed(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    if "managedFields" not in meta:
        return dict(obj)
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


class Store:
    """The copy itself; ``resource_version`` is where a watch resumes."""

    def __init__(self) -> None:
        self.objects: dict[Key, dict[str, Any]] = {}
        self.resource_version = ""

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((namespace, name))

    def replace(self, items: Iterable[Mapping[str, Any]], resource_version: str) -> list[Change]:
        """A fresh list: everything in it is held, anything not in it was deleted meanwhile."""
        fresh = {key_of(obj): trimmed(obj) for obj in items}
        changes = [Change(key, old, None) for key, old in self.objects.items() if key not in fresh]
        for key, obj in fresh.items():
            old = self.objects.get(key)
            if old is None or version_of(old) != version_of(obj):
                changes.append(Change(key, old, obj))
        self.objects = fresh
        self.resource_version = resource_version
        return changes

    def apply(self, kind: str, obj: Mapping[str, Any]) -> Change | None:
        """One watch event (ADDED, MODIFIED, DELETED, BOOKMARK); the change it made, if any."""
        version = version_of(obj)
        if version and not older(version, self.resource_version):
            self.resource_version = version
        if kind == "BOOKMARK":
            return None
        key = key_of(obj)
        old = self.objects.get(key)
        if kind == "DELETED":
            if old is None:
                return None
            del self.objects[key]
            return Change(key, old, None)
        if old is not None and (version_of(old) == version or older(version, version_of(old))):
            return None
        new = trimmed(obj)
        self.objects[key] = new
        return Change(key, old, new)

    def record(self, obj: Mapping[str, Any]) -> Change | None:
        """An object we wrote ourselves (the API's answer), held until the watch catches up.

        Without this a reconciliation right after our own write would see the object as it
        was before the write until the watch delivers it; with it, the copy is never older
        than what this process has seen. ``resource_version`` (the resume point) stays put.
        """
        key = key_of(obj)
        old = self.objects.get(key)
        version = version_of(obj)
        if old is not None and (version_of(old) == version or older(version, version_of(old))):
            return None
        new = trimmed(obj)
        self.objects[key] = new
        return Change(key, old, new)
