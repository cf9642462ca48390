"""Kubernetes Events about Canaries, posted in the background through the controller's own client.

Events used to go through ``kopf.event``: kopf queues each one for its poster, which sends it
by its own request machinery (credentials looked up per request, retries with backoff, the
answer decoded). With 400 Canaries in flight (about one Event per weight step) that was 14 %
of the controller's CPU, and its single sender fell behind the queue under load. Here the
Events share the reconciler's connection pool, are sent by a few workers at once, and the
API's answer (the Event echoed back) is not decoded, since nothing reads it.

An Event is auxiliary, as in client-go's recorder: one the API refuses is logged and
dropped, never retried against a struggling API server and never a reason for a
reconciliation to fail; and when the API server falls so far behind that ``backlog``
Events wait, the oldest are dropped (and counted) rather than held in memory.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import logging
import os
import socket
from collections.abc import Mapping
from typing import Any

from rollouts import errors, patching

logger = logging.getLogger(__name__)

COMPONENT = "routeshift-controller"
# The API rejects longer messages (1 KiB for core/v1 Events); a decision's reason fits.
MAX_MESSAGE = 1000


def involved(body: Mapping[str, Any]) -> dict[str, Any]:
    """The object reference an Event about ``body`` carries (what ``kubectl describe`` matches on)."""
    meta = body.get("metadata") or {}
    ref = {"apiVersion": body.get("apiVersion"), "kind": body.get("kind"), "name": meta.get("name"),
           "namespace": meta.get("namespace"), "uid": meta.get("uid")}
    return {key: value for key, value in ref.items() if value is not None}


def event_body(ref: Mapping[str, Any], type_: str, reason: str, message: str, *, now: datetime.datetime,
               instance: str) -> dict[str, Any]:
    """A core/v1 Event as client-go's recorder writes one (``kubectl get events`` and ``describe`` show it)."""
    # Microseconds, as kopf wrote them: Events of one reconciliation fall in the same second, and
    # views that order Events by time keep their order where the API server keeps the fraction.
    stamp = now.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"generateName": f"{ref.get('name', 'canary')}.", "namespace": ref.get("namespace")},
        "involvedObject": dict(ref), "type": type_, "reason": reason, "message": message[:MAX_MESSAGE],
        "source": {"component": COMPONENT}, "reportingComponent": COMPONENT, "reportingInstance": instance,
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
    }


class EventPoster:
    """A bounded queue of Events and the workers that post them; :meth:`start` inside the loop."""

    def __init__(self, cluster: patching.Cluster, *, workers: int = 4, backlog: int = 10_000,
                 instance: str | None = None):
        self.cluster = cluster
        self.workers = workers
        self.instance = instance or os.environ.get("HOSTNAME") or socket.gethostname()
        self.posted = 0
        self.failed = 0
        self.dropped = 0
        self._queue: collections.deque[dict[str, Any]] = collections.deque(maxlen=backlog)
        self._ready: asyncio.Event | None = None  # something is queued
        self._idle: asyncio.Event | None = None  # nothing queued, nothing being sent
        self._tasks: list[asyncio.Task[None]] = []
        self._busy = 0

    def post(self, body: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        """Queue an Event about ``body`` (a Canary); returns at once."""
        event = event_body(involved(body), type_, reason, message,
                           now=datetime.datetime.now(datetime.timezone.utc), instance=self.instance)
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning("the API server is %d Events behind; dropping the oldest (%d so far)",
                               len(self._queue), self.dropped)
        self._queue.append(event)
        if self._ready is not None and self._idle is not None:
            self._idle.clear()
            self._ready.set()

    @property
    def waiting(self) -> int:
        """Events not posted yet: queued, or being sent."""
        return len(self._queue) + self._busy

    @property
    def queued(self) -> list[dict[str, Any]]:
        """The Events waiting to be sent, oldest first."""
        return list(self._queue)

    def start(self) -> None:
        """Start the workers on the running loop (idempotent)."""
        if self._tasks:
            return
        self._ready, self._idle = asyncio.Event(), asyncio.Event()
        (self._ready if self._queue else self._idle).set()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._work(), name=f"event poster {i}") for i in range(self.workers)]

    async def flush(self, timeout: float) -> bool:
        """Wait until every queued Event is posted (or refused); False if ``timeout`` passes first."""
        if self._idle is None:  # never started
            return not self._queue
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _work(self) -> None:
        assert self._ready is not None and self._idle is not None
        while True:
            if not self._queue:
                if not self._busy:
                    self._idle.set()
                self._ready.clear()
                await self._ready.wait()
                continue
            event = self._queue.popleft()
            self._busy += 1
            try:
                await self._send(event)
            finally:
                self._busy -= 1

    async def _send(self, event: dict[str, Any]) -> None:
        namespace = event["metadata"]["namespace"] or "default"
        try:
            await self.cluster.request("POST", f"/api/v1/namespaces/{namespace}/events", body=event, decode=False)
            self.posted += 1
        except errors.RolloutsError as error:
            self.failed += 1
            logger.warning("could not post Event %s (%s) about %s/%s: %s", event["reason"], event["type"], namespace,
                           event["involvedObject"].get("name"), error)
        except Exception:  # a worker must outlive any one Event
            self.failed += 1
            logger.exception("could not post Event %s about %s/%s", event["reason"], namespace,
                             event["involvedObject"].get("name"))
