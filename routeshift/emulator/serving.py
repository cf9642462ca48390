"""Run the emulator on a loopback port: in the current event loop, and write kubeconfigs for it.

``kmock.Server`` also patches aiohttp's resolver process-wide and requires servers to stop in
reverse start order; with emulators in several threads (tests, the demo) that order cannot
be promised, and nothing here needs name resolution (clients use ``http://127.0.0.1:PORT``),
so :class:`LoopbackServer` keeps kmock's server without the interceptor. Shutdown first ends
the open watch streams, so stopping never waits for aiohttp's long graceful timeout. The
workload controllers and the kubelet (:mod:`routeshift.emulator.workloads`) run with the
server unless ``workloads=False``, and stop with it, on every exit path.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self

import aiohttp
import attrs
import kmock
import yaml

from routeshift.emulator import emulator as emulating
from routeshift.emulator import faults
from routeshift.emulator import workloads as _workloads

CONTEXT = "routeshift-emulator"


@attrs.mutable
class LoopbackServer(kmock.Server):
    """``kmock.Server`` without the process-wide DNS interception."""

    async def __aenter__(self) -> Self:
        if self._managed_server is not None:
            raise RuntimeError("The server can be started only once.")
        self._managed_server = self._server_cls(self.handler, host=self._host, port=self._port)
        await self._managed_server.__aenter__()
        self._managed_client = aiohttp.ClientSession(self._managed_server.make_url("/"),
                                                     connector=aiohttp.TCPConnector(force_close=True))
        await self._managed_client.__aenter__()
        self.handler.servers.append(self)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc_value: BaseException | None,
                        traceback: TracebackType | None) -> None:
        self.handler.servers.remove(self)
        assert self._managed_client is not None and self._managed_server is not None
        await self._managed_client.close()
        await self._managed_server.close()
        self._managed_client = None
        self._managed_server = None


def kubeconfig(url: str, *, namespace: str = "default") -> dict[str, Any]:
    """A kubeconfig for the emulator: plain HTTP, an empty user, one current context."""
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": CONTEXT, "cluster": {"server": url}}],
        "users": [{"name": CONTEXT, "user": {}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}],
        "current-context": CONTEXT,
    }


def write_kubeconfig(path: pathlib.Path | str, url: str) -> pathlib.Path:
    """Write atomically: whoever waits for the file to exist (the demo, tests) reads it whole."""
    target = pathlib.Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    partial.write_text(yaml.safe_dump(kubeconfig(url), sort_keys=False))
    os.replace(partial, target)
    return target


@attrs.define
class RunningEmulator:
    """A serving emulator: its URL, its store (``.emulator``) and its fault rules."""

    emulator: emulating.Emulator
    server: LoopbackServer
    workloads: _workloads.ControlPlane | None = None

    @property
    def url(self) -> str:
        return str(self.server.url).rstrip("/")

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def faults(self) -> faults.Faults:
        return self.emulator.faults

    def write_kubeconfig(self, path: pathlib.Path | str) -> pathlib.Path:
        return write_kubeconfig(path, self.url)


@contextlib.asynccontextmanager
async def serve(host: str = "127.0.0.1", port: int = 0, *,
                workloads: bool | _workloads.WorkloadSettings | dict[str, Any] = True,
                **options: Any) -> AsyncIterator[RunningEmulator]:
    """Serve a fresh emulator on ``host:port`` (0: a free port) until the block exits.

    ``workloads`` runs the Deployment/ReplicaSet/EndpointSlice controllers, the garbage
    collector, the scheduler and the local kubelet (default), or not (``False``), or with
    the given :class:`~routeshift.emulator.workloads.WorkloadSettings` (or a dict of them).
    """
    config = _workloads.coerce(workloads)
    handler = emulating.Emulator(**options)
    async with handler:
        server = LoopbackServer(handler, host=host, port=port or None)
        async with server:
            plane = await _workloads.start(handler, config) if config.enabled else None
            try:
                yield RunningEmulator(handler, server, plane)
            finally:
                handler.close_watches()
                if plane is not None:
                    await plane.stop()
