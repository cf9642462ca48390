"""Which Canaries to wake when a cached object changes.

Each Canary's daemon says which objects its next decision depends on (its routes, its
backend Services, its target and primary Deployments) by registering its wake flag under
their keys; a change to one of them sets exactly those flags. This is what lets a rollout
react to a route's acceptance or a Deployment's readiness at once instead of at the next
poll, while Canaries that depend on nothing that changed stay asleep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

ObjectKey = tuple[str, str, str]  # (kind name, namespace, name)


class Interest:
    """A many-to-many map from object keys to the wake flags of the Canaries that read them."""

    def __init__(self) -> None:
        self._flags: dict[ObjectKey, set[asyncio.Event]] = {}
        self._keys: dict[asyncio.Event, frozenset[ObjectKey]] = {}

    def register(self, flag: asyncio.Event, keys: Iterable[ObjectKey]) -> None:
        """``flag`` depends on ``keys`` from now on (and no longer on what it registered before)."""
        wanted = frozenset(keys)
        held = self._keys.get(flag, frozenset())
        if wanted == held:
            return
        for key in held - wanted:
            self._drop(key, flag)
        for key in wanted - held:
            self._flags.setdefault(key, set()).add(flag)
        self._keys[flag] = wanted

    def forget(self, flag: asyncio.Event) -> None:
        for key in self._keys.pop(flag, frozenset()):
            self._drop(key, flag)

    def wake(self, key: ObjectKey) -> int:
        """Set the flags registered for ``key``; how many."""
        flags = self._flags.get(key, ())
        for flag in flags:
            flag.set()
        return len(flags)

    def _drop(self, key: ObjectKey, flag: asyncio.Event) -> None:
        flags = self._flags.get(key)
        if flags is not None:
            flags.discard(flag)
            if not flags:
                del self._flags[key]
