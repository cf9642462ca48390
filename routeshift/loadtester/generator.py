"""One load run: HTTP requests sent on the open-model schedule, tallied as they complete.

The schedule (``pacing``) and the arithmetic of the results (``stats``) are pure; this
module is the I/O around them: an asyncio loop that starts each request when it is due,
over one ``httpx.AsyncClient`` whose connection pool is as large as the run's concurrency.
A run ends when its schedule has passed and the last request has answered or timed out,
so it never outlives ``duration + timeout``.

The client ignores proxy settings from the environment and does not follow redirects:
the load goes exactly to the URL the allow-list approved.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from routeshift.loadtester import metrics as metrics_module
from routeshift.loadtester import pacing, spec, stats

logger = logging.getLogger(__name__)


class Run:
    """The load of one spec for one Canary; :meth:`start` it, :meth:`snapshot` it at any time."""

    def __init__(self, load: spec.LoadSpec, *, canary: tuple[str, str], metrics: metrics_module.Metrics):
        self.spec = load
        self.canary = canary
        self.planned = load.planned
        self.tally = stats.Tally()
        self.started_at: float | None = None
        self.scheduling = True  # False once the run's duration is over (only answers may still be due)
        self._task: asyncio.Task | None = None
        self._in_flight: set[asyncio.Task] = set()
        self._latency = metrics.latency.labels(*canary)
        self._dropped = metrics.dropped.labels(*canary)
        self._requests = metrics.requests
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> asyncio.Task:
        self._loop = asyncio.get_running_loop()
        self.started_at = self._loop.time()
        self._task = self._loop.create_task(self._run(), name=f"load {self.canary[0]}/{self.canary[1]}")
        return self._task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def finished(self) -> None:
        """Wait until the run is over; a cancelled waiter does not cancel the run."""
        assert self._task is not None, "start() the run first"
        await asyncio.shield(self._task)

    async def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def snapshot(self) -> stats.Results:
        if self.started_at is None or self._loop is None:
            return stats.results(self.tally, planned=self.planned, elapsed=0.0)
        # Once the schedule is over the run has covered its whole duration, whenever its last answer came.
        elapsed = (self.spec.duration if not self.scheduling
                   else min(self._loop.time() - self.started_at, self.spec.duration))
        return stats.results(self.tally, planned=self.planned, elapsed=elapsed)

    async def _run(self) -> None:
        load, loop = self.spec, asyncio.get_running_loop()
        limits = httpx.Limits(max_connections=load.concurrency, max_keepalive_connections=load.concurrency)
        try:
            async with httpx.AsyncClient(limits=limits, timeout=load.timeout, follow_redirects=False,
                                         trust_env=False) as client:
                assert self.started_at is not None
                issued = 0
                try:
                    while issued < self.planned:
                        due = pacing.due(loop.time() - self.started_at, load.rate, self.planned)
                        while issued < due:
                            self._issue(client)
                            issued += 1
                        if issued < self.planned:
                            next_at = self.started_at + pacing.start_offset(issued, load.rate)
                            await asyncio.sleep(max(0.0, next_at - loop.time()))
                    # The last request starts up to 1/rate before the end: the run still covers its duration.
                    await asyncio.sleep(max(0.0, self.started_at + load.duration - loop.time()))
                    self.scheduling = False
                    # Each request ends within its timeout, so this wait is bounded.
                    await asyncio.gather(*self._in_flight, return_exceptions=True)
                finally:
                    for task in self._in_flight:
                        task.cancel()
                    await asyncio.gather(*self._in_flight, return_exceptions=True)
        finally:
            self.scheduling = False

    def _issue(self, client: httpx.AsyncClient) -> None:
        """Start the next scheduled request, or drop it when the concurrency is used up."""
        if len(self._in_flight) >= self.spec.concurrency:
            self.tally.dropped += 1
            self._dropped.inc()
            return
        self.tally.sent += 1
        task = asyncio.get_running_loop().create_task(self._one(client))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _one(self, client: httpx.AsyncClient) -> None:
        load, loop = self.spec, asyncio.get_running_loop()
        began = loop.time()
        try:
            # httpx's timeout bounds each phase; the whole exchange is bounded here.
            async with asyncio.timeout(load.timeout):
                response = await client.request(load.method, load.url, headers=list(load.headers),
                                                content=load.body.encode() if load.body else None)
        except (httpx.TimeoutException, TimeoutError):
            self._failed("timeout")
        except httpx.ConnectError:
            self._failed("connect")
        except (httpx.HTTPError, ValueError) as error:
            logger.debug("load request to %s failed: %r", load.url, error)
            self._failed("other")
        else:
            seconds = loop.time() - began
            self.tally.answered(response.status_code, seconds)
            self._latency.observe(seconds)
            self._requests.labels(*self.canary, stats.status_class(response.status_code)).inc()

    def _failed(self, kind: str) -> None:
        self.tally.failed(kind)
        self._requests.labels(*self.canary, kind).inc()
