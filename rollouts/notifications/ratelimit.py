"""A sliding-window rate limit per (provider, Canary): what exceeds it is dropped, never queued.

A rollout that flaps (a pause resumed and re-paused, a release replaced mid-rollout) must
not flood a channel, and queueing the excess would only deliver stale news late. Each
key keeps the send times of its last ``events`` messages; a message is allowed when the
oldest of them left the window. ``allow`` also says when a key *starts* dropping, so the
caller logs once per burst instead of once per dropped message. Pure: time comes in.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Hashable


@dataclasses.dataclass(frozen=True)
class Decision:
    allowed: bool
    first_drop: bool  # the first refusal since this key last sent something


class SlidingWindow:
    """Per-key sliding windows; keys are (provider, canary) pairs in practice."""

    def __init__(self) -> None:
        self._sent: dict[Hashable, collections.deque[float]] = {}
        self._dropping: set[Hashable] = set()

    def allow(self, key: Hashable, *, now: float, events: int, interval: float) -> Decision:
        sent = self._sent.setdefault(key, collections.deque())
        while sent and now - sent[0] >= interval:
            sent.popleft()
        while len(sent) > events:  # the limit was lowered since: forget the surplus
            sent.popleft()
        if len(sent) < events:
            sent.append(now)
            self._dropping.discard(key)
            return Decision(True, False)
        first = key not in self._dropping
        self._dropping.add(key)
        return Decision(False, first)
