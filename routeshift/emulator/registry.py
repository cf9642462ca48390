"""Which resources the emulator serves, in which versions, and which version stores them.

kmock keeps discovery data in a flat ``ResourcesArray`` keyed by group/version/plural and
stores each version's objects apart. A real API server stores a group/plural once (in its
storage version) and serves every version from it, and its discovery prefers the highest
stable version deterministically. This module adds exactly that on top of kmock's array,
plus what kubectl needs per resource (printer columns, the CRD schema) once CRDs are posted.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import warnings
from collections.abc import Iterable
from typing import Any

import kmock

_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")
_STABILITY = {None: 3, "beta": 2, "alpha": 1}


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key, highest first when sorted ascending: v1 > v1beta2 > v1beta1 > v1alpha1 > other.

    The same order as Kubernetes' ``version.CompareKubeAwareVersionStrings``.
    """
    match = _VERSION.match(version)
    if match is None:
        return (0, 0, 0, version)
    major, stability, minor = match.groups()
    return (-_STABILITY[stability], -int(major), -int(minor or 0), version)


@dataclasses.dataclass
class ResourceType:
    """One served group/version/plural with everything the emulator needs to serve it."""

    group: str
    version: str
    plural: str
    kind: str
    singular: str
    namespaced: bool
    verbs: frozenset[str] = frozenset()
    shortnames: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()
    printer_columns: tuple[dict[str, Any], ...] = ()
    schema: dict[str, Any] | None = None
    builtin: bool = True

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.group, self.version, self.plural)

    @functools.cached_property
    def kmock_resource(self) -> kmock.resource:
        # Built once: the store keys every write by it, and building one is not cheap.
        return kmock.resource(self.group, self.version, self.plural)

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources


class Registry:
    """Served resource types; mirrors every change into kmock's ``resources`` array for discovery."""

    def __init__(self, resources: kmock.ResourcesArray) -> None:
        self._kmock = resources
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        # (group, plural) -> storage type; every store read asks, so it is kept until types change
        self._storage: dict[tuple[str, str], ResourceType] = {}

    def load_builtins(self) -> None:
        """The built-in resources of a recent cluster (kmock's bundled discovery data)."""
        with warnings.catch_warnings():  # kmock 0.8 uses the deprecated importlib.resources.read_binary
            warnings.simplefilter("ignore", DeprecationWarning)
            self._kmock.load_bundled()
        self._storage.clear()
        for res in list(self._kmock):
            info = self._kmock[res]
            self._types[(res.group, res.version, res.plural)] = ResourceType(
                group=res.group or "", version=res.version or "", plural=res.plural or "",
                kind=info.kind or (res.plural or "").capitalize(),
                singular=info.singular or (info.kind or "").lower(),
                namespaced=bool(info.namespaced),
                verbs=frozenset(info.verbs), shortnames=tuple(sorted(info.shortnames)),
                categories=tuple(sorted(info.categories)), subresources=frozenset(info.subresources),
            )

    def add(self, rtype: ResourceType) -> None:
        self._types[rtype.key] = rtype
        self._storage.clear()
        self._kmock[rtype.kmock_resource] = kmock.ResourceInfo(
            namespaced=rtype.namespaced, kind=rtype.kind, singular=rtype.singular,
            verbs=set(rtype.verbs), shortnames=set(rtype.shortnames),
            categories=set(rtype.categories), subresources=set(rtype.subresources),
        )

    def remove(self, group: str, plural: str) -> list[ResourceType]:
        removed = [t for t in self._types.values() if t.group == group and t.plural == plural]
        self._storage.clear()
        for rtype in removed:
            del self._types[rtype.key]
            if rtype.kmock_resource in self._kmock:
                del self._kmock[rtype.kmock_resource]
        return removed

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def find(self, spec: str | kmock.resource) -> ResourceType:
        """A type from any kmock notation: ``'v1/pods'``, ``'routeshift.dev/v1alpha1/canaries'``,
        ``'httproutes.v1.gateway.networking.k8s.io'``; without a version, the preferred one."""
        res = spec if isinstance(spec, kmock.resource) else kmock.resource(spec)
        if res.version is None:
            candidates = [t for t in self._types.values() if t.plural == res.plural and t.group == (res.group or "")]
            if not candidates:
                raise KeyError(spec)
            return self.storage_of(candidates[0])
        found = self.lookup(res.group or "", res.version, res.plural or "")
        if found is None:
            raise KeyError(spec)
        return found

    def versions_of(self, group: str, plural: str | None = None) -> list[str]:
        versions = {t.version for t in self._types.values()
                    if t.group == group and (plural is None or t.plural == plural)}
        return sorted(versions, key=version_priority)

    def storage_of(self, rtype: ResourceType) -> ResourceType:
        """The version objects of this group/plural are stored in: the highest-priority served one."""
        found = self._storage.get((rtype.group, rtype.plural))
        if found is None:
            preferred = self.versions_of(rtype.group, rtype.plural)[0]
            found = self._storage[(rtype.group, rtype.plural)] = self._types[(rtype.group, preferred, rtype.plural)]
        return found

    def groups(self) -> list[str]:
        """Non-core groups, sorted by name so that discovery is the same on every run."""
        return sorted({t.group for t in self._types.values() if t.group})

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return sorted((t for t in self._types.values() if t.group == group and t.version == version),
                      key=lambda t: t.plural)

    def all(self) -> Iterable[ResourceType]:
        return list(self._types.values())
