"""``--data-plane c`` with a WebSocket backend: the asyncio path, which tunnels, serves the table.

The C event loop does not tunnel upgrades. A table with a backend whose Service port declares
``kubernetes.io/ws`` is one it cannot serve (``dataplane.worker.unsupported``), so the loop stands
aside, the asyncio path accepts on the same socket, and the WebSocket session works; once the
table no longer needs it, the C loop serves again.
"""

from __future__ import annotations

import importlib
import os

import aiohttp
import pytest

import gw_harness
from gateway_proxy import hotpath
from gw_harness import backend, deploy, route, rule
from routeshift.testing.polling import until_async


def _compiled_build():
    try:
        importlib.import_module("gateway_proxy.dataplane.loop")
    except ImportError:
        if os.environ.get("ROUTESHIFT_NO_EXTENSIONS") == "1":
            pytest.skip("the C data plane is not built (ROUTESHIFT_NO_EXTENSIONS=1)")
        pytest.fail("the C data plane is not built: run `make build`")
    build = hotpath.compiled()
    if build is None:
        pytest.fail("the compiled hot path is not built")
    return build


def _declared_websocket(name: str, port: int) -> list[dict]:
    service, endpoints = gw_harness.service(name, port)
    service["spec"]["ports"][0]["appProtocol"] = "kubernetes.io/ws"
    return [service, endpoints]


@pytest.fixture
def c_plane_proxy(monkeypatch, tmp_path):
    monkeypatch.setenv("ROUTESHIFT_DATA_PLANE", "c")
    running = gw_harness.Proxy(_compiled_build(), str(tmp_path)).start()
    assert running.runtime.plane is not None, "the C data plane did not start"
    yield running
    running.stop()


async def test_a_websocket_backend_is_served_by_the_asyncio_path(c_plane_proxy, websocket_backends):
    proxy = c_plane_proxy
    plane = proxy.runtime.plane
    echo = await websocket_backends("ws-app")
    deploy(proxy, {"ws-app": echo}, [route("chat", [rule([backend("ws-app")])])])
    await until_async(lambda: plane.serving_c is True, 10, description="the C loop serves a plain table")

    deploy(proxy, {}, [route("chat", [rule([backend("ws-app")])])], extra=_declared_websocket("ws-app", echo.port))
    await until_async(lambda: plane.serving_c is False, 10, description="the C loop stood aside")
    assert "kubernetes.io/ws" in plane.reason
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"http://127.0.0.1:{proxy.port}/chat") as ws:
            assert await ws.receive_str(timeout=10) == "hello from ws-app"
            await ws.send_str("through asyncio")
            assert await ws.receive_str(timeout=10) == "through asyncio"

    deploy(proxy, {"ws-app": echo}, [route("chat", [rule([backend("ws-app")])])])
    await until_async(lambda: plane.serving_c is True, 10, description="the C loop serves again")
