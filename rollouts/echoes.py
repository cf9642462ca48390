"""Telling a Canary's own status writes apart from changes someone else made.

Every status write comes back through kopf's watch as an event on the Canary. Waking the
Canary for it would run one more reconciliation per write that can only confirm what was
just decided: at hundreds of Canaries that doubled the controller's work. A reconciliation
decides until nothing changes (``reconciler.ROUNDS``), so the echo carries nothing new.
Anything else (a new spec, an operation annotation, kopf's own bookkeeping) still wakes it.

The write's resourceVersion is known only when the API answers, and its event may arrive
before that; events seen during a reconciliation are therefore judged when it ends.
Pure and synchronous, so that every interleaving is a table test.
"""

from __future__ import annotations

import collections

# How many of its own writes a Canary recognises. A write's echo arrives within a
# reconciliation or two, and the Canary writes at most once per reconciliation.
RECENT_WRITES = 4


class Echoes:
    """One Canary's record of its own writes; the daemon and kopf's event handler share it."""

    def __init__(self) -> None:
        # resourceVersions of the last few status writes: the echo of one may arrive while the
        # next reconciliation runs and writes again.
        self.written: collections.deque[str] = collections.deque(maxlen=RECENT_WRITES)
        self._reconciling = False
        self._seen: list[str | None] = []

    def event(self, version: str | None) -> bool:
        """An event on the Canary arrived: True when it must wake the Canary now."""
        if self._reconciling:
            self._seen.append(version)  # judged in end(), once the write's version is known
            return False
        return self._foreign(version)

    def begin(self) -> None:
        """A reconciliation starts."""
        self._reconciling, self._seen = True, []

    def end(self, written: str | None) -> bool:
        """It ended, having written ``written`` (or nothing): True when an event it saw must wake
        the Canary again."""
        if written is not None:
            self.written.append(written)
        self._reconciling = False
        return any(self._foreign(version) for version in self._seen)

    def _foreign(self, version: str | None) -> bool:
        return version is None or version not in self.written
