"""The demo application: one HTTP service that can be told to fail or slow down.

The demo runs two copies (stable and canary). Analysis must catch a faulty canary from
its real traffic, so the fault is injected here, in the backend, exactly as a bad release
would behave: a share of requests answered 500, and extra latency. Both can be changed
while it runs (``POST /control``) so one process can play a healthy and a faulty release.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
from collections.abc import Sequence

from aiohttp import web

CONTROL_PATH = "/control"
HEALTH_PATH = "/healthz"


@dataclasses.dataclass
class Behaviour:
    """How the app answers: the release it claims to be, its error share and added latency."""

    version: str
    error_rate: float = 0.0  # share of requests answered 500, 0..1
    latency_ms: float = 0.0  # mean extra latency per request
    latency_jitter: float = 0.2  # relative spread of the extra latency
    served: int = 0  # requests answered, health and control excluded (shows that mirrored copies arrive)

    def validate(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"errorRate must be within 0..1, got {self.error_rate}")
        if self.latency_ms < 0:
            raise ValueError(f"latencyMs must be >= 0, got {self.latency_ms}")

    def as_json(self) -> dict:
        return {"version": self.version, "errorRate": self.error_rate, "latencyMs": self.latency_ms,
                "served": self.served}


def build_app(behaviour: Behaviour, *, seed: int | None = None) -> web.Application:
    behaviour.validate()
    rng = random.Random(seed)
    app = web.Application()

    async def serve(request: web.Request) -> web.StreamResponse:
        if request.path == HEALTH_PATH:
            return web.json_response({"ok": True, **behaviour.as_json()})
        if request.path == CONTROL_PATH and request.method == "POST":
            return await _control(request)
        if behaviour.latency_ms > 0:
            spread = behaviour.latency_ms * behaviour.latency_jitter
            await asyncio.sleep(max(0.0, rng.gauss(behaviour.latency_ms, spread)) / 1000.0)
        await request.read()  # drain a request body so keep-alive stays usable
        behaviour.served += 1
        status = 500 if rng.random() < behaviour.error_rate else 200
        return web.json_response(
            {"version": behaviour.version, "path": request.path, "status": status},
            status=status, headers={"X-Demo-Version": behaviour.version},
        )

    async def _control(request: web.Request) -> web.Response:
        try:
            changes = await request.json()
            candidate = dataclasses.replace(
                behaviour,
                error_rate=float(changes.get("errorRate", behaviour.error_rate)),
                latency_ms=float(changes.get("latencyMs", behaviour.latency_ms)),
                version=str(changes.get("version", behaviour.version)),
            )
            candidate.validate()
        except (ValueError, TypeError, AttributeError, json.JSONDecodeError) as error:
            return web.json_response({"error": str(error)}, status=400)
        behaviour.error_rate, behaviour.latency_ms, behaviour.version = (
            candidate.error_rate, candidate.latency_ms, candidate.version)
        return web.json_response(behaviour.as_json())

    app.router.add_route("*", "/{tail:.*}", serve)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Demo backend for routeshift demo.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--version", dest="app_version", default="v1", help="release name reported in replies")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered 500 (0..1)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="mean extra latency per request")
    parser.add_argument("--seed", type=int, default=None, help="seed the fault injection for replayable runs")
    args = parser.parse_args(argv)
    behaviour = Behaviour(args.app_version, args.error_rate, args.latency_ms)
    try:
        app = build_app(behaviour, seed=args.seed)
    except ValueError as error:
        parser.error(str(error))
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
