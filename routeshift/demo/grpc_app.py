"""The demo's gRPC application: one unary method that can be told to fail or slow down.

The gRPC scenario rolls out releases of a gRPC service behind a GRPCRoute, and analysis
must catch a faulty release from its real calls, judged on ``grpc-status`` (a gRPC call
ends with HTTP 200 whatever happened). So the fault is injected here, as a bad release
would behave: a share of calls ends with UNAVAILABLE, and extra latency. Every answer,
failed or not, names the release in the trailing metadata ``x-demo-version`` so the load
generator can count the split the gateway made.

There is no protoc step: the method handles raw bytes (grpcio's generic handlers) and
answers JSON, which any gRPC client can call by its path ``/routeshift.demo.Demo/Call``.
The kubelet of the API emulator runs it for the images ``ghcr.io/routeshift/demo-grpc-app:<tag>``
with the tag as the version (:mod:`routeshift.emulator.workloads.images`).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import signal
from collections.abc import Sequence

import grpc

SERVICE = "routeshift.demo.Demo"
METHOD = "Call"
PATH = f"/{SERVICE}/{METHOD}"
VERSION_KEY = "x-demo-version"  # gRPC metadata keys are lower case


@dataclasses.dataclass(frozen=True)
class Behaviour:
    """How the app answers: the release it claims to be, its failure share and added latency."""

    version: str
    error_rate: float = 0.0  # share of calls ended with UNAVAILABLE, 0..1
    latency_ms: float = 0.0  # mean extra latency per call
    latency_jitter: float = 0.2  # relative spread of the extra latency

    def validate(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"error rate must be within 0..1, got {self.error_rate}")
        if self.latency_ms < 0:
            raise ValueError(f"latency must be >= 0 ms, got {self.latency_ms}")


def handler(behaviour: Behaviour, *, seed: int | None = None) -> grpc.GenericRpcHandler:
    """The ``routeshift.demo.Demo`` service with its one method ``Call``."""
    behaviour.validate()
    rng = random.Random(seed)

    async def call(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        if behaviour.latency_ms > 0:
            spread = behaviour.latency_ms * behaviour.latency_jitter
            await asyncio.sleep(max(0.0, rng.gauss(behaviour.latency_ms, spread)) / 1000.0)
        context.set_trailing_metadata(((VERSION_KEY, behaviour.version),))
        if rng.random() < behaviour.error_rate:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"{behaviour.version} was told to fail")
        return json.dumps({"version": behaviour.version, "request": request.decode(errors="replace")}).encode()

    return grpc.method_handlers_generic_handler(SERVICE, {METHOD: grpc.unary_unary_rpc_method_handler(call)})


async def serve(behaviour: Behaviour, host: str, port: int, *, seed: int | None = None,
                stop: asyncio.Event | None = None) -> None:
    """Serve on ``host:port`` (cleartext HTTP/2) until ``stop`` is set, then end in-flight calls."""
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler(behaviour, seed=seed),))
    server.add_insecure_port(f"{host}:{port}")
    await server.start()
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        await server.stop(grace=1.0)


async def _serve_until_signalled(behaviour: Behaviour, host: str, port: int, seed: int | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve(behaviour, host, port, seed=seed, stop=stop)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Demo gRPC backend for routeshift demo --scenario grpc.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--version", dest="app_version", default="v1", help="release name reported in answers")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of calls ended with UNAVAILABLE (0..1)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="mean extra latency per call")
    parser.add_argument("--seed", type=int, default=None, help="seed the fault injection for replayable runs")
    args = parser.parse_args(argv)
    behaviour = Behaviour(args.app_version, args.error_rate, args.latency_ms)
    try:
        behaviour.validate()
    except ValueError as error:
        parser.error(str(error))
    asyncio.run(_serve_until_signalled(behaviour, args.host, args.port, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
