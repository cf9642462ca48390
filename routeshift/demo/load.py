"""Steady demo traffic through the gateway, counted by the release that answered.

Analysis needs live requests to judge, and the demo's live view shows the split the
proxy actually made; both come from this generator. It sends a fixed request rate
(open loop, so a slow backend does not lower the offered load) and tallies replies by
the ``X-Demo-Version`` header the demo app sets, and by status code.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import time
from collections.abc import Awaitable, Callable

import aiohttp

VERSION_HEADER = "X-Demo-Version"


@dataclasses.dataclass
class Tally:
    """Replies counted per release and status since the last :meth:`take`."""

    by_version: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    by_status: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    errors: int = 0  # transport errors: no reply at all

    def take(self) -> "Tally":
        """Return the counts so far and start a new window."""
        snapshot = Tally(collections.Counter(self.by_version), collections.Counter(self.by_status), self.errors)
        self.by_version.clear()
        self.by_status.clear()
        self.errors = 0
        return snapshot

    @property
    def total(self) -> int:
        return sum(self.by_status.values()) + self.errors

    def share(self, version: str) -> float:
        answered = sum(self.by_version.values())
        return self.by_version[version] / answered if answered else 0.0


async def paced(rate: float, slots: asyncio.Semaphore, inflight: set[asyncio.Future],
                start_one: Callable[[], Awaitable[None]]) -> None:
    """Start one request every ``1/rate`` seconds on a fixed schedule until cancelled.

    A slow gateway does not lower the offered rate (the schedule does not wait for answers)
    but ``slots`` bounds what is in flight; a loop that fell far behind (the machine paused)
    starts afresh instead of bursting to catch up. On the way out the requests still in
    flight are cancelled and awaited.
    """
    period = 1.0 / rate
    next_at = time.monotonic()
    try:
        while True:
            next_at += period
            await slots.acquire()
            task = asyncio.ensure_future(start_one())
            inflight.add(task)
            task.add_done_callback(inflight.discard)
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -1.0:
                next_at = time.monotonic()
    finally:
        for task in list(inflight):
            task.cancel()
        await asyncio.gather(*inflight, return_exceptions=True)


class LoadGenerator:
    """Send ``rate`` requests per second to ``url`` with a ``Host`` header until stopped."""

    FAILURE_LABEL = "5xx"

    def __init__(self, url: str, *, host: str, rate: float, timeout: float = 5.0, concurrency: int = 64,
                 preview_headers: dict[str, str] | None = None, preview_share: float = 0.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if not 0.0 <= preview_share <= 1.0:
            raise ValueError("preview_share must be within 0..1")
        self.url = url
        self.host = host
        self.rate = rate
        # Every n-th request carries the preview headers (blue-green preview, A/B match):
        # deterministic, so the share is exact rather than sampled.
        self._preview_headers = {"Host": host, **(preview_headers or {})}
        self._preview_every = round(1 / preview_share) if preview_share > 0 else 0
        self._sent = 0
        self.timeout = timeout
        self.tally = Tally()
        self._slots = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task | None = None
        self._inflight: set[asyncio.Task] = set()

    @staticmethod
    def failed(status: int) -> bool:
        """Whether a reply with ``status`` counts as a server failure."""
        return status >= 500

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await paced(self.rate, self._slots, self._inflight, lambda: self._one(session))

    def _headers(self) -> dict[str, str]:
        self._sent += 1
        if self._preview_every and self._sent % self._preview_every == 0:
            return self._preview_headers
        return {"Host": self.host}

    async def _one(self, session: aiohttp.ClientSession) -> None:
        try:
            async with session.get(self.url, headers=self._headers()) as reply:
                await reply.read()
                self.tally.by_status[reply.status] += 1
                version = reply.headers.get(VERSION_HEADER)
                if version:
                    self.tally.by_version[version] += 1
        except (aiohttp.ClientError, asyncio.TimeoutError):
            self.tally.errors += 1
        finally:
            self._slots.release()
