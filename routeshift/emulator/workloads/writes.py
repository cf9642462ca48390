"""How the workload controllers write: through the emulator's verbs, exactly as a client would.

Every write goes through :class:`routeshift.emulator.operations.Operations`, so it gets
a resourceVersion, bumps ``generation`` on spec changes, lands in the event log (watchers
see it), respects the status subresource split and finalizers, and is refused with the
same errors as an HTTP request. Updates carry the resourceVersion they were computed from,
so a controller working from a stale cache gets a 409 and simply tries again. A write that
would change nothing is not sent.
"""

from __future__ import annotations

from typing import Any

from routeshift.emulator import jsondata, operations, paths, registry
from routeshift.emulator.workloads import informers, objects


class Writer:
    """Writes of one control plane; ``kind`` is a storage (group, plural)."""

    def __init__(self, ops: operations.Operations, types: registry.Registry) -> None:
        self.ops = ops
        self.types = types
        self._builtin: dict[informers.Kind, registry.ResourceType] = {}

    def rtype(self, kind: informers.Kind) -> registry.ResourceType:
        if kind in self._builtin:  # built-in types never change; custom ones may, with their CRD
            return self._builtin[kind]
        group, plural = kind
        candidates = [t for t in self.types.all() if t.group == group and t.plural == plural]
        if not candidates:
            raise KeyError(kind)
        found = self.types.storage_of(candidates[0])
        if found.builtin:
            self._builtin[kind] = found
        return found

    def create(self, kind: informers.Kind, body: dict[str, Any]) -> dict[str, Any]:
        rtype = self.rtype(kind)
        namespace = objects.meta(body).get("namespace") if rtype.namespaced else None
        obj, _ = self.ops.create(paths.Target(rtype, namespace, None, None), body)
        return obj

    def update(self, kind: informers.Kind, obj: dict[str, Any]) -> dict[str, Any]:
        """Replace the object's main resource (``obj`` carries the resourceVersion it is based on)."""
        rtype = self.rtype(kind)
        namespace, name = objects.key_of(obj)
        committed, _ = self.ops.replace(paths.Target(rtype, namespace or None, name, None), obj)
        return committed

    def update_status(self, kind: informers.Kind, obj: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        """Write ``status`` through the status subresource, unless it is already that."""
        if obj.get("status") == status:
            return obj
        rtype = self.rtype(kind)
        namespace, name = objects.key_of(obj)
        body = jsondata.copy(obj)
        body["status"] = status
        target = paths.Target(rtype, namespace or None, name, "status" if rtype.has_status else None)
        committed, _ = self.ops.replace(target, body)
        return committed

    def delete(self, kind: informers.Kind, obj: dict[str, Any], *, grace_period: int | None = None) -> dict[str, Any]:
        """Delete (background propagation), only the very object that was read (uid precondition)."""
        rtype = self.rtype(kind)
        namespace, name = objects.key_of(obj)
        options: dict[str, Any] = {"propagationPolicy": "Background", "preconditions": {"uid": objects.uid(obj)}}
        if grace_period is not None:
            options["gracePeriodSeconds"] = grace_period
        return self.ops.delete(paths.Target(rtype, namespace or None, name, None), options)

    def read(self, kind: informers.Kind, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The live object from the store itself (fresher than the cache between drains)."""
        rtype = self.rtype(kind)
        return self.ops.store.get(rtype, namespace if rtype.namespaced else None, name)
