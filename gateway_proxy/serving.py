"""Assemble one proxy process: the routing state, the listening socket, the reload loop.

:class:`Runtime` is the only mutable state the data path reads: ``compiled`` is swapped whole
on reload (one attribute store, so a request sees either the old table or the new one, never a
mix). Large reloads parse and compile in a worker thread so the event loop keeps answering
while a big directory is read; small edits load inline, which is faster than a thread handoff.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from types import ModuleType

from gateway_proxy import compiling, downstream, gc_pause, hotpath, tls, tunnel, upstream, watching
from gateway_proxy.http2 import accepting as http2_accepting, upstream as http2_upstream
from gateway_proxy.errors import ConfigError
from gateway_proxy.loading import DirectoryLoader
from gateway_proxy.metrics import Metrics

logger = logging.getLogger("gateway_proxy")

RELOAD_INTERVAL = 0.025  # the poll of the config directory where inotify is unavailable
WATCHED_POLL_INTERVAL = 1.0  # and where it is: a look now and then, should an event be lost
INLINE_BYTES = 256 * 1024
INLINE_ROUTES = 200


def compiled_data_path() -> tuple[ModuleType, ModuleType] | None:
    """The Cython build of the client and backend sides, or None when it was not compiled.

    One source, two builds, as for the hot path: ``_downstream_c``, ``_exchange_c`` and
    ``_upstream_c`` are ``downstream.py``, ``exchange.py`` and ``upstream.py`` compiled with the
    ``.pxd`` beside them (the ``.py`` files of those names are symlinks, not builds).
    """
    try:
        from gateway_proxy import _downstream_c, _exchange_c, _upstream_c
    except Exception as error:  # a partial or stale build fails to link its C types in several ways
        logger.info("gateway_proxy: the compiled data path cannot be imported (%s)", error)
        return None
    if any((module.__file__ or "").endswith((".py", ".pyc")) for module in (_downstream_c, _exchange_c, _upstream_c)):
        return None
    return _downstream_c, _upstream_c


def data_path(impl) -> tuple[ModuleType, ModuleType]:
    """The client-protocol and backend-pool modules that serve with the hot-path build ``impl``.

    The compiled hot path gets the compiled data path and the pure one the pure one, so that
    ROUTESHIFT_NO_EXTENSIONS=1 turns both off and every test run against both hot-path builds
    runs both data paths too. Each data path calls the hot path of its own build; should only the
    data path be missing, the pure one serves tables the compiled build made, which it reads the
    same way, only slower.
    """
    if impl is not hotpath.PURE:
        build = compiled_data_path()
        if build is not None:
            return build
        logger.info("gateway_proxy: pure-Python data path in use (its compiled build is missing)")
    return downstream, upstream


class Runtime:
    """What the data path of one process needs; ``compiled`` is None until a config loaded."""

    def __init__(self, loop, impl=None, metrics: Metrics | None = None, header_timeout: float = 10.0,
                 data_plane: str | None = None, tunnel_idle_timeout: float = tunnel.DEFAULT_IDLE_TIMEOUT):
        self.loop = loop
        self.impl = impl if impl is not None else hotpath.impl
        self.metrics = metrics if metrics is not None else Metrics()
        self.header_timeout = header_timeout
        # Seconds an upgraded connection (WebSocket) may carry no byte either way; 0 disables.
        self.tunnel_idle_timeout = tunnel_idle_timeout
        # The hot-path build compiles the tables and decides which build serves requests.
        self.client_side, self.backend_side = data_path(self.impl)
        self.pool = self.backend_side.Pool()
        self.grpc_pool = http2_upstream.Pool()  # h2c connections to GRPCRoute backends
        self.compiled: compiling.Compiled | None = None
        self.errors: dict[str, str] = {}
        self.loaded_at = 0.0
        self.tls = tls.CertificateStore()
        # "c": the plain-HTTP socket is served by the C event loop when the build and the table
        # allow (gateway_proxy.dataplane.worker); opt-in, ROUTESHIFT_DATA_PLANE is the default.
        self.data_plane = data_plane or os.environ.get("ROUTESHIFT_DATA_PLANE") or "asyncio"
        if self.data_plane not in ("asyncio", "c"):
            raise ValueError(f"data plane must be asyncio or c, not {self.data_plane!r}")
        self.plane = None

    def install(self, compiled: compiling.Compiled) -> None:
        with gc_pause.paused():  # binding 10,000 rules and building their C table allocate for keeps
            self.metrics.bind_rules(compiled.rules)
            grpc = compiled.grpc
            if grpc:
                self.metrics.bind_grpc_rules(grpc.rules)
            self.tls.update(compiled.certificates)
            self.tls.offer_h2(grpc.tls_hosts() if grpc else None)
            self.compiled = compiled
            if self.plane is not None:
                self.plane.install(compiled)
        self.loaded_at = time.time()


def listen_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    """A bound, listening TCP socket; SO_REUSEPORT lets several worker processes share the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def c_data_plane(runtime: Runtime):
    """The C data plane's control module, or None (logged) when this process cannot run it."""
    if runtime.impl is hotpath.PURE:
        logger.info("gateway_proxy: --data-plane c needs the compiled build; the asyncio path serves")
        return None
    try:
        from gateway_proxy.dataplane import worker
    except ImportError as error:
        logger.info("gateway_proxy: the C data plane is not built (%s); the asyncio path serves", error)
        return None
    return worker


async def serve(runtime: Runtime, sock: socket.socket, terminate_tls: bool = False):
    """Serve every listener on ``sock``; with ``terminate_tls``, HTTPS listeners only, over TLS.

    Returns the asyncio server, or the C data plane (same ``close``/``wait_closed``) when the
    runtime asked for it and it can run here; TLS stays on the asyncio path."""
    if runtime.data_plane == "c" and not terminate_tls and runtime.plane is None:
        worker = c_data_plane(runtime)
        if worker is not None:
            runtime.plane = worker.start(runtime, sock)
            return runtime.plane
    # HTTP/1.1 by the build's ClientProtocol; HTTP/2 (gRPC) too while GRPCRoutes are served.
    if terminate_tls:
        if runtime.data_plane == "c":
            logger.info("gateway_proxy: TLS listeners on %s are served by the asyncio path (the C data plane "
                        "serves plain HTTP only)", sock.getsockname())
        return await runtime.loop.create_server(http2_accepting.protocol_factory(runtime, True), sock=sock,
                                                ssl=runtime.tls.server_context())
    return await runtime.loop.create_server(http2_accepting.protocol_factory(runtime), sock=sock)


class Reloader:
    """Polls a config directory and installs each good compile into the runtime."""

    def __init__(self, runtime: Runtime, directory: str, interval: float = RELOAD_INTERVAL):
        self.runtime = runtime
        self.loader = DirectoryLoader(directory)
        self.interval = interval
        self.last_duration = 0.0
        self.cache = compiling.CompileCache()

    def _compile(self, config):
        return compiling.compile_config(config, self.runtime.impl, self.cache)

    async def reload(self, force: bool = False) -> bool:
        """One poll: True when a new table was installed.

        Small edits run inline on the event loop: a worker thread would wait for the GIL behind a
        busy loop and add tens of milliseconds to propagation, while parsing one small file and
        recompiling with a warm cache takes a few. Big parses and cold compiles (a Service changed,
        a large table) go to a worker thread so the loop keeps serving meanwhile. Full garbage
        collections wait until the table is installed (:mod:`gateway_proxy.gc_pause`).
        """
        with gc_pause.paused():
            return await self._reload(force)

    async def _reload(self, force: bool) -> bool:
        if not force and not self.loader.changed():
            return False
        started = time.perf_counter()
        loop = self.runtime.loop
        try:
            if self.loader.pending_bytes() < INLINE_BYTES:
                config = self.loader.load(force)
            else:
                config = await loop.run_in_executor(None, self.loader.load, force)
            if config is None:
                compiled = None
            elif self.cache.warm(config, self.runtime.impl) or len(config.routes) < INLINE_ROUTES:
                compiled = self._compile(config)
            else:
                compiled = await loop.run_in_executor(None, self._compile, config)
            self.last_duration = time.perf_counter() - started
        except ConfigError as error:
            self.runtime.errors = {"config": str(error)}
            logger.error("gateway_proxy: config rejected, keeping the last good one: %s", error)
            return False
        except Exception as error:  # a compile bug must not stop reloading; report it like a bad file
            self.runtime.errors = {"config": f"cannot compile: {error!r}"}
            logger.exception("gateway_proxy: config could not be compiled")
            return False
        errors = dict(self.loader.errors)
        if errors != self.runtime.errors:
            for message in errors.values():
                logger.error("gateway_proxy: invalid config file, its last good content keeps serving: %s", message)
        self.runtime.errors = errors
        if compiled is None:
            return False
        self.runtime.install(compiled)
        logger.info("gateway_proxy: config loaded: %d matches in %.3fs", compiled.rule_count, self.last_duration)
        return True

    async def run(self) -> None:
        # Woken by inotify when the directory changes (gateway_proxy.watching); polled otherwise.
        events = watching.watch(self.runtime.loop, self.loader.directory)
        try:
            while True:
                await self.reload()
                if events is None:
                    await asyncio.sleep(self.interval)
                else:
                    await events.wait(WATCHED_POLL_INTERVAL)
        finally:
            if events is not None:
                events.close()
