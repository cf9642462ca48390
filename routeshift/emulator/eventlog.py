"""The bounded log of committed changes that every watch stream is served from.

kmock pushes events to a per-resource bus and replays all objects on each (re)connect, so a
client can neither resume from a resourceVersion nor learn that it fell behind. A real API
server serves watches from its watch cache: a client resuming from resourceVersion N gets
every change after N, or ``410 Gone`` when N has been compacted away. Keeping the last
``capacity`` events in order of resourceVersion gives the same contract in a few lines.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from typing import Any

from routeshift.emulator import registry

DEFAULT_CAPACITY = 5000


@dataclasses.dataclass(frozen=True)
class Change:
    """One committed write; ``previous`` is the object before it (None for ADDED)."""

    resource_version: int
    storage: registry.ResourceType
    type: str
    object: dict[str, Any]
    previous: dict[str, Any] | None


class EventLog:
    """Changes in resourceVersion order; the oldest fall off when ``capacity`` is exceeded."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._changes: collections.deque[Change] = collections.deque()
        self._capacity = capacity
        # Changes at or below this resourceVersion are no longer in the log (410 for watchers).
        self._compacted = 0
        self._wakeup: asyncio.Event | None = None

    @property
    def compacted(self) -> int:
        return self._compacted

    def append(self, change: Change) -> None:
        self._changes.append(change)
        while len(self._changes) > self._capacity:
            self._compacted = self._changes.popleft().resource_version
        if self._wakeup is not None:
            self._wakeup.set()
            self._wakeup = None

    def compact(self, up_to: int) -> None:
        """Forget everything at or below ``up_to``, as etcd compaction does (used by tests)."""
        while self._changes and self._changes[0].resource_version <= up_to:
            self._changes.popleft()
        self._compacted = max(self._compacted, up_to)

    def is_expired(self, resource_version: int) -> bool:
        return resource_version < self._compacted

    def since(self, resource_version: int) -> list[Change]:
        """Changes strictly after ``resource_version`` that are still in the log."""
        newer: list[Change] = []
        for change in reversed(self._changes):  # watchers are usually a few changes behind
            if change.resource_version <= resource_version:
                break
            newer.append(change)
        newer.reverse()
        return newer

    def waiter(self) -> asyncio.Event:
        """An event set by the next append; one shared event per "generation" of waiters."""
        if self._wakeup is None:
            self._wakeup = asyncio.Event()
        return self._wakeup
