"""The admin endpoints (DESIGN.md section 5 contract): /ready, /metrics, /config.

Served by aiohttp on its own socket, apart from the data path: the admin side is low-rate and
wants a complete HTTP server more than speed. ``/ready`` is 200 only once a config with a Gateway is loaded
(and, when the process that serves admin is not the one serving data, once ``waiting`` names
nothing still to wait for); ``/config`` shows the compiled table and the errors of files currently rejected.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway_proxy.serving import Runtime


def application(runtime: Runtime, metrics_text: Callable[[], bytes] | None = None,
                waiting: Callable[[], dict[str, str]] | None = None) -> web.Application:
    render = metrics_text or (lambda: generate_latest(runtime.metrics.registry))

    async def ready(request: web.Request) -> web.Response:
        # Loaded means something to serve: an empty or not-yet-written directory is not ready.
        if runtime.compiled is None or not runtime.compiled.gateways:
            return web.json_response({"ready": False, "errors": runtime.errors}, status=503)
        pending = waiting() if waiting is not None else {}
        if pending:
            return web.json_response({"ready": False, "errors": runtime.errors, "waiting": pending}, status=503)
        return web.json_response({"ready": True, "errors": runtime.errors})

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def config(request: web.Request) -> web.Response:
        compiled = runtime.compiled
        body = {"loaded": compiled is not None, "loaded_at": runtime.loaded_at, "errors": runtime.errors,
                "tls_errors": runtime.tls.errors,
                "table": compiled.describe() if compiled is not None else None}
        return web.Response(text=json.dumps(body, indent=1, sort_keys=True), content_type="application/json")

    app = web.Application()
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/config", config)
    return app


async def start(runtime: Runtime, host: str, port: int, metrics_text=None, waiting=None) -> web.AppRunner:
    runner = web.AppRunner(application(runtime, metrics_text, waiting), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_address=True).start()
    return runner
