"""Start and stop the control plane: the controllers, the scheduler and the kubelet, on one loop.

Everything runs on the emulator's own event loop, so a controller's read-decide-write is
as atomic as any API request. One dispatcher task follows the event log: it feeds the
cache, hands each change to the controllers watching its kind (they queue keys), then
syncs queued keys one at a time, catching the cache up before each, until nothing is left;
then it sleeps until the next append to the log or the next key due later. A change is
typically acted on within milliseconds. A sync that fails is retried with a back-off; a
bug in one is logged and never stops the others. :meth:`ControlPlane.stop` ends the
dispatcher and kills every process the kubelet started, also when called on an error path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

import kmock

from routeshift.emulator import emulator as emulating
from routeshift.emulator.workloads import (deployments, endpointslices, garbage, informers, kubelet,
                                           replicasets, scheduler, settings, timing, writes)

logger = logging.getLogger(__name__)
IDLE_WAKEUP = 1.0  # seconds; the dispatcher sleeps on the log, this only bounds a missed wakeup
_YIELD_EVERY = 50  # syncs between yields to the server, so a burst never starves requests
_RETRY = (0.05, 0.1, 0.2, 0.5, 1.0)


class Controller(Protocol):
    watches: tuple[informers.Kind, ...]
    queue: informers.Queue

    def changed(self, kind: informers.Kind, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None: ...

    def resync(self) -> None: ...

    def sync(self, key: Any) -> float | None: ...


class ControlPlane:
    """The workload controllers and kubelet of one emulator; :meth:`start`, then :meth:`stop`."""

    def __init__(self, emulator: emulating.Emulator, config: settings.WorkloadSettings) -> None:
        self.emulator = emulator
        self.config = config
        self.cache = informers.Cache()
        self.writer = writes.Writer(emulator.operations, emulator.types)
        self.garbage = garbage.GarbageCollector(self.writer)
        self.kubelet = kubelet.Kubelet(self.cache, self.writer, config)
        self.controllers: list[Controller] = [
            deployments.DeploymentController(self.cache, self.writer),
            replicasets.ReplicaSetController(self.cache, self.writer),
            scheduler.Scheduler(self.cache, self.writer, config.node_name),
            self.kubelet,
            endpointslices.EndpointSliceController(self.cache, self.writer),
            self.garbage,
        ]
        self._by_kind: dict[informers.Kind, list[Controller]] = {}
        for controller in self.controllers:
            for kind in controller.watches:
                self._by_kind.setdefault(kind, []).append(controller)
        self._position = 0
        self._turn = 0
        self._failures: dict[tuple[int, Any], int] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def log(self) -> Any:
        return self.emulator.store.log

    async def start(self) -> None:
        self._reload()
        self.kubelet.register()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="emulator control plane")

    async def stop(self) -> None:
        """End the dispatcher, then every container process (SIGTERM, SIGKILL after a bound)."""
        self._stopping = True
        try:
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        finally:
            self._task = None
            await self.kubelet.shutdown()

    # ---------------------------------------------------------------- the dispatcher

    def _reload(self) -> None:
        """Start from the store (at start, and when the log was compacted past our position)."""
        store = self.emulator.store
        self._position = store.clock.current
        self.cache.load(store)
        self.garbage.load(store)
        for controller in self.controllers:
            controller.resync()

    def _catch_up(self) -> None:
        if self.log.is_expired(self._position):
            self._reload()
            return
        current = self.emulator.store.clock.current
        for change in self.log.since(self._position):
            self.garbage.observe(change)
            seen = self.cache.apply(change)
            if seen is not None:
                for controller in self._by_kind.get(informers.kind_of(change), ()):
                    controller.changed(informers.kind_of(change), *seen)
        self._position = max(self._position, current)

    async def _run(self) -> None:
        while not self._stopping:
            wakeup = self.log.waiter()
            self._catch_up()
            synced = 0
            while (item := self._next()) is not None:
                index, key = item
                self._catch_up()
                self._sync(index, key)
                synced += 1
                if synced % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
            due = [later for c in self.controllers if (later := c.queue.promote()) is not None]
            if any(c.queue for c in self.controllers):
                await asyncio.sleep(0)
                continue
            await timing.wait(wakeup, min([IDLE_WAKEUP, *due]))

    def _next(self) -> tuple[int, Any] | None:
        """The next key, taking controllers in turn so that none starves the others."""
        count = len(self.controllers)
        for offset in range(count):
            index = (self._turn + offset) % count
            controller = self.controllers[index]
            controller.queue.promote()
            if controller.queue:
                self._turn = index + 1
                return index, controller.queue.pop()
        return None

    def _sync(self, index: int, key: Any) -> None:
        controller = self.controllers[index]
        try:
            again = controller.sync(key)
        except kmock.KubernetesError as error:  # a conflict, a namespace going away…: try again soon
            failures = self._failures.get((index, key), 0)
            self._failures[(index, key)] = failures + 1
            delay = _RETRY[min(failures, len(_RETRY) - 1)]
            logger.debug("%s %s: %s; again in %ss", type(controller).__name__, key, error, delay)
            controller.queue.add_after(key, delay)
            return
        except Exception:
            logger.exception("%s failed on %s", type(controller).__name__, key)
            controller.queue.add_after(key, _RETRY[-1])
            return
        self._failures.pop((index, key), None)
        if again is not None:
            controller.queue.add_after(key, again)


async def start(emulator: emulating.Emulator, config: settings.WorkloadSettings) -> ControlPlane:
    """A started control plane for ``emulator`` (stopped again if starting fails half-way)."""
    plane = ControlPlane(emulator, config)
    try:
        await plane.start()
    except BaseException:
        await plane.stop()
        raise
    emulator.workloads = plane
    return plane
