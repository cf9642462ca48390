"""Push the board's changes to every open page as Server-Sent Events.

Each page holds one ``EventSource`` on ``/api/v1/events``. It first gets a ``snapshot``
(every view and the watch problems), then only differences: ``canary`` (a view that is new
or changed), ``deleted`` (namespace and name) and ``problems`` (why a watch is interrupted,
empty once it recovers). A page that reconnects (the browser does so by itself) gets a
fresh snapshot, so no event id bookkeeping is needed. Subscribers are queues on the
server's event loop; publishing never waits for a slow page.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from routeshift.plugin.dashboard import board

SNAPSHOT, CANARY, DELETED, PROBLEMS = "snapshot", "canary", "deleted", "problems"
Event = tuple[str, str]  # (event name, JSON data)


def encode(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


def change_events(changes: board.Changes) -> list[Event]:
    events = [(CANARY, encode(view)) for view in changes.updated]
    events += [(DELETED, encode({"namespace": namespace, "name": name})) for namespace, name in changes.deleted]
    return events


def snapshot_event(items: list[dict[str, Any]], problems: dict[str, str]) -> Event:
    return SNAPSHOT, encode({"items": items, "problems": problems})


def problems_event(problems: dict[str, str]) -> Event:
    return PROBLEMS, encode({"problems": problems})


class Hub:
    """Open pages: each a queue of events; ``close`` ends every stream (server shutdown)."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Event | None]] = set()

    def publish(self, events: list[Event]) -> None:
        for queue in self._queues:
            for event in events:
                queue.put_nowait(event)

    def close(self) -> None:
        for queue in self._queues:
            queue.put_nowait(None)

    async def subscribe(self, first: Event) -> AsyncIterator[Event]:
        """``first``, then every event published until the hub closes or the caller stops iterating.

        The queue is registered before ``first`` is yielded: whatever is published after the
        snapshot was taken reaches this subscriber too.
        """
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._queues.add(queue)
        try:
            yield first
            while (event := await queue.get()) is not None:
                yield event
        finally:
            self._queues.discard(queue)
