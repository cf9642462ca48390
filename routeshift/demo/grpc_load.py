"""Steady gRPC calls through the gateway, counted by the release that answered.

The gRPC scenario's analysis judges live calls, and its view shows the split the proxy
actually made; both come from this generator, the gRPC twin of :mod:`routeshift.demo.load`.
It calls ``/routeshift.demo.Demo/Call`` at a fixed rate (open loop, so a slow backend
does not lower the offered load) over one cleartext HTTP/2 channel (grpc.aio) to a
loopback address, naming the route's hostname as the call's authority, and tallies the
calls in the same :class:`~routeshift.demo.load.Tally`: by the ``x-demo-version`` trailing
metadata the demo app sets, and by gRPC status name (``OK``, ``UNAVAILABLE``).
"""

from __future__ import annotations

import asyncio
import ipaddress

import grpc

from routeshift.demo import grpc_app, load
from routeshift.demo.load import Tally

# Statuses that mean the server failed: the default failure codes of grpc-success-rate.
SERVER_FAILURES = frozenset({"UNKNOWN", "DEADLINE_EXCEEDED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS"})


def _loopback_address(target: str) -> bool:
    host, _, port = target.rpartition(":")
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback and port.isdigit()
    except ValueError:  # not an IP address: a name could resolve anywhere
        return False


class GrpcLoadGenerator:
    """Call ``rate`` times per second through ``target`` (``127.0.0.1:PORT``) as ``authority`` until stopped."""

    FAILURE_LABEL = "failed"

    def __init__(self, target: str, *, authority: str, rate: float, timeout: float = 5.0,
                 concurrency: int = 64) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if not _loopback_address(target):
            raise ValueError(f"the demo's gRPC load goes to a loopback HOST:PORT only, got {target!r}")
        self.target = target
        self.authority = authority
        self.rate = rate
        self.timeout = timeout
        self.tally = Tally()
        self._slots = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task | None = None
        self._inflight: set[asyncio.Task] = set()

    @staticmethod
    def failed(status: str) -> bool:
        """Whether a call that ended with ``status`` counts as a server failure."""
        return status in SERVER_FAILURES

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        # No retries: a failed call must be counted as the gateway answered it.
        options = [("grpc.default_authority", self.authority), ("grpc.enable_retries", 0)]
        async with grpc.aio.insecure_channel(self.target, options=options) as channel:
            call = channel.unary_unary(grpc_app.PATH)
            await load.paced(self.rate, self._slots, self._inflight, lambda: self._one(call))

    async def _one(self, method: grpc.aio.UnaryUnaryMultiCallable) -> None:
        try:
            call = method(b"demo", timeout=self.timeout)
            try:
                await call
            except grpc.aio.AioRpcError:
                pass  # its status and metadata are read below, as for a successful call
            status = (await call.code()).name
            trailers = await call.trailing_metadata()
            self.tally.by_status[status] += 1
            version = dict(trailers or ()).get(grpc_app.VERSION_KEY)
            if version:
                self.tally.by_version[version] += 1
        finally:
            self._slots.release()
