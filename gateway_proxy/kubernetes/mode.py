"""The proxy's ``--kubernetes`` mode: serve what the API says, and say so in the API's status.

Watches every kind routing depends on, and after each burst of events rebuilds the Config
of the Gateways whose GatewayClass names our controller, installs its compiled table into
the running :class:`~gateway_proxy.serving.Runtime` (only when it changed), then plans the
status writes that report it. The order matters to the canary controller: a route's
``Accepted=True`` for a generation is written only after that generation serves.

Bursts are coalesced: a rebuild starts once events have been quiet for ``quiet`` seconds, and
at most ``max_delay`` after the first one, so a ``kubectl apply`` of many objects costs one
compile while a lone weight patch is live within milliseconds (DESIGN.md section 7: p99 under
100 ms). Nothing is installed before every kind has been listed once: a table built from
routes without their Services would answer 500 and report BackendNotFound for a moment.

With ``--workers N`` the admin process alone watches and writes status, and relays every change
to the workers, which follow it instead of the API; status then also waits until every worker
has installed the change (:mod:`gateway_proxy.kubernetes.relay`). The same class runs both ends:
with a ``fanout`` it is the admin process, with a ``follower`` a worker.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time

import aiohttp

from gateway_proxy import compiling, gc_pause
from gateway_proxy.kubernetes import (catalog as kube_catalog, client as kube_client,
                                       conditions as kube_conditions, status as kube_status)
from gateway_proxy.kubernetes.relay import Fanout, Follower
from gateway_proxy.kubernetes.status_writer import StatusWriter
from gateway_proxy.kubernetes.watching import Key, Kind, Watcher

logger = logging.getLogger("gateway_proxy")

CONTROLLER = kube_status.CONTROLLER
QUIET = 0.005
MAX_DELAY = 0.02
RETRY_DELAY = 0.2
WATCH_TIMEOUT = 300
# Below this many routes, or when only routes changed (a warm compile cache), compiling inline
# beats a worker thread, which would queue for the GIL behind the busy event loop.
INLINE_ROUTES = 200


class KubernetesMode:
    """One proxy's view of the cluster; :meth:`run` until ``stop`` is set."""

    def __init__(self, runtime, client: kube_client.KubeClient | None, *, controller: str = CONTROLLER,
                 quiet: float = QUIET, max_delay: float = MAX_DELAY, watch_timeout: int = WATCH_TIMEOUT,
                 ready: asyncio.Event | None = None, addresses: tuple[kube_status.Address, ...] = (),
                 fanout: Fanout | None = None, follower: Follower | None = None):
        self.runtime = runtime
        self.client = client
        self.controller = controller
        self.quiet = quiet
        self.max_delay = max_delay
        self.watch_timeout = watch_timeout
        self.write_status = follower is None  # the admin process alone writes status
        self.ready = ready if ready is not None else asyncio.Event()
        self.addresses = tuple(addresses)
        self.fanout = fanout
        self.follower = follower
        self.catalog = kube_catalog.Catalog()
        # A follower's stores stand in for watchers (same kind, objects, synced, error).
        self.watchers: dict[Kind, Watcher] = follower.stores if follower is not None else {}  # type: ignore[assignment]
        self.writer = StatusWriter(client, self.watchers, controller, self._retry_later,
                                   barrier=fanout.installed if fanout is not None else None)
        self.installs = 0
        self._config = None
        self._built: tuple | None = None  # (catalog revision, build() result)
        self._memo = kube_status.RouteMemo()
        # Keyed by route record identity, which the catalog preserves for unchanged routes.
        self._compile_cache = compiling.CompileCache()
        self._dirty = asyncio.Event()
        self._busy = False

    @property
    def idle(self) -> bool:
        """No event waiting, no rebuild running, no status write pending or in flight."""
        return not self._dirty.is_set() and not self._busy and self.writer.idle

    def _changed(self, watcher: Watcher, keys: set[Key] | None) -> None:
        if keys is None or keys:
            self.catalog.update(watcher, keys)
        if self.fanout is not None:
            self.fanout.forward(watcher, keys)
        self._dirty.set()

    def _position(self) -> int:
        """How far the catalog is along the relayed changes (0 without workers)."""
        if self.fanout is not None:
            return self.fanout.seq
        if self.follower is not None:
            return self.follower.applied
        return 0

    def _retry_later(self) -> None:
        asyncio.get_running_loop().call_later(RETRY_DELAY, self._dirty.set)

    async def _kinds(self, stop: asyncio.Event) -> tuple[Kind, ...]:
        """The base kinds, plus ReferenceGrant v1 (v1.3+ CRDs) and GRPCRoute v1 where the API serves them."""
        failures = 0
        while True:
            try:
                served = await self.client.served_resources(kube_catalog.GATEWAY, "v1")
            except (kube_client.ApiError, aiohttp.ClientError, OSError, asyncio.TimeoutError) as error:
                message = f"API discovery failed: {error!r}"
                self.runtime.errors = {"kubernetes": message}
                delay = min(0.05 * 2 ** failures, 5.0)
                failures += 1
                logger.warning("gateway_proxy: %s; retrying in %.2fs", message, delay)
                if await kube_client.sleep_or_stop(stop, delay):
                    return ()
                continue
            extra = (kube_catalog.GRANTS_V1,) if "referencegrants" in served else ()
            if "grpcroutes" in served:
                extra += (kube_catalog.GRPC_ROUTES,)
            return kube_catalog.BASE_KINDS + extra

    async def _sources(self, stop: asyncio.Event) -> list[asyncio.Task]:
        """Start what feeds the catalog: watches of the API, or a follower of the admin process."""
        loop = asyncio.get_running_loop()
        if self.follower is not None:
            return [loop.create_task(self.follower.run(self._changed), name="follow the admin process")]
        kinds = await self._kinds(stop)
        if stop.is_set():
            return []
        if self.fanout is not None:
            await self.fanout.open()
            self.fanout.announce(kinds)
        for kind in kinds:
            self.watchers[kind] = Watcher(self.client, kind, self._changed, timeout_seconds=self.watch_timeout)
        return [loop.create_task(watcher.run(), name=f"watch {kind.label}") for kind, watcher in self.watchers.items()]

    async def run(self, stop: asyncio.Event) -> None:
        """Serve (and report) what the API says until ``stop`` is set, or until a follower's parent is gone."""
        tasks = await self._sources(stop)
        if not tasks:
            return
        loop = asyncio.get_running_loop()
        # A follower ends when the admin process is gone, and the mode with it; watches never end.
        ends = list(tasks) if self.follower is not None else []
        for task in ends:
            task.add_done_callback(lambda _: self._dirty.set())
        if self.write_status:
            tasks.append(loop.create_task(self.writer.run(), name="status writer"))
        stopper = loop.create_task(self._wake_on(stop))
        try:
            while not stop.is_set():
                await self._dirty.wait()
                if stop.is_set() or any(task.done() for task in ends):
                    return
                self._busy = True
                try:
                    await self._coalesce(loop)
                    if self.watchers and all(watcher.synced.is_set() for watcher in self.watchers.values()):
                        await self.sync()
                    else:
                        self.runtime.errors = self._watch_errors()
                finally:
                    self._busy = False
        finally:
            stopper.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(stopper, *tasks, return_exceptions=True)
            if self.fanout is not None:
                self.fanout.close()

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._dirty.set()

    async def _coalesce(self, loop: asyncio.AbstractEventLoop) -> None:
        deadline = loop.time() + self.max_delay
        while True:
            self._dirty.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(self._dirty.wait(), min(self.quiet, remaining))
            except TimeoutError:
                return

    def _watch_errors(self) -> dict[str, str]:
        return {f"watch {kind.label}": watcher.error for kind, watcher in self.watchers.items() if watcher.error}

    async def sync(self) -> None:
        """Install the current snapshot if it changed, publish errors, plan status writes.

        A follower acknowledges the relayed position of the snapshot once its table is in; the
        admin process hands that position to the writer, which waits for the acknowledgements.
        """
        position = self._position()
        if self._built is None or self._built[0] != self.catalog.revision:
            self._built = (self.catalog.revision, self.catalog.build(self.controller))
        config, classes, rejected, errors = self._built[1]
        errors = dict(errors)
        errors.update(self._watch_errors())
        errors.update(self.writer.errors)
        if config != self._config:
            started = time.perf_counter()
            try:
                impl = self.runtime.impl
                with gc_pause.paused():  # as a file reload: no full collections while the table grows
                    if self._compile_cache.warm(config, impl) or len(config.routes) < INLINE_ROUTES:
                        compiled = compiling.compile_config(config, impl, self._compile_cache)
                    else:
                        compiled = await asyncio.get_running_loop().run_in_executor(
                            None, compiling.compile_config, config, impl, self._compile_cache)
            except Exception as error:  # a compile bug must not stop the watch; report it like a bad object
                self.runtime.errors = dict(errors, config=f"cannot compile: {error!r}")
                logger.exception("gateway_proxy: config could not be compiled")
                return
            self.runtime.install(compiled)
            self._config = config
            self.installs += 1
            self.ready.set()
            logger.info("gateway_proxy: config from the API loaded: %d gateways, %d routes, %d matches in %.1f ms",
                        len(config.gateways), len(config.routes), compiled.rule_count,
                        (time.perf_counter() - started) * 1000)
        if errors != self.runtime.errors:
            for source, message in errors.items():
                if source not in self.runtime.errors:
                    logger.error("gateway_proxy: %s", message)
        self.runtime.errors = errors
        if self.follower is not None:
            self.follower.ack(position)
        if not self.write_status:
            return
        statuses = kube_status.compute(self._config, classes, self.controller, rejected, self._memo, self.addresses)
        self.writer.plan(statuses, kube_conditions.timestamp(datetime.datetime.now(datetime.timezone.utc)), position)


async def run_kubernetes(runtime, *, kubeconfig: str | None, stop: asyncio.Event,
                         controller_name: str = CONTROLLER, ready: asyncio.Event | None = None,
                         addresses: tuple[kube_status.Address, ...] = (), fanout: Fanout | None = None) -> None:
    """Keep ``runtime`` serving the Gateways of ``controller_name``'s classes until ``stop`` is set.

    ``kubeconfig`` None means in-cluster when in a Pod, else $KUBECONFIG or ~/.kube/config.
    ``ready`` is set once the first table from the API is installed (bind the data socket after
    it). ``addresses`` are published in every Gateway's status. With worker processes, pass the
    ``fanout`` that relays to them (see :func:`follow`).
    """
    client = kube_client.KubeClient.from_kubeconfig(kubeconfig)
    async with client:
        await KubernetesMode(runtime, client, controller=controller_name, ready=ready, addresses=addresses,
                             fanout=fanout).run(stop)


async def follow(runtime, follower: Follower, *, stop: asyncio.Event, controller_name: str = CONTROLLER,
                 ready: asyncio.Event | None = None) -> None:
    """A worker: serve what the admin process relays until ``stop`` is set or the admin process is gone."""
    await KubernetesMode(runtime, None, controller=controller_name, ready=ready, follower=follower).run(stop)
