"""``--data-plane c`` with a WebSocket backend: the C event loop serves the table and tunnels.

A backend whose Service port declares ``kubernetes.io/ws`` needs upgrades tunnelled, which the C
loop does itself (dataplane/loop_tunnel.pxi); so such a table stays on the C loop (no fallback to
the asyncio path, ``dataplane.worker.unsupported``) and the WebSocket session works through it.
"""

from __future__ import annotations

import aiohttp

import gw_harness
from gw_harness import backend, deploy, route, rule
from routeshift.testing.polling import until_async


def _declared_websocket(name: str, port: int) -> list[dict]:
    service, endpoints = gw_harness.service(name, port)
    service["spec"]["ports"][0]["appProtocol"] = "kubernetes.io/ws"
    return [service, endpoints]


async def test_a_websocket_backend_is_served_by_the_c_loop(c_proxy, websocket_backends):
    proxy = c_proxy
    plane = proxy.runtime.plane
    echo = await websocket_backends("ws-app")
    tunnels_before = proxy.runtime.metrics.registry.get_sample_value("routeshift_gateway_requests_total", {
        "namespace": "default", "route": "chat-ws", "backend_namespace": "default", "backend": "ws-app",
        "code": "101"}) or 0.0
    deploy(proxy, {}, [route("chat-ws", [rule([backend("ws-app")])])], extra=_declared_websocket("ws-app", echo.port))
    assert plane.serving_c is True, plane.reason
    requests_before = plane.loop.stats[1]
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"http://127.0.0.1:{proxy.port}/chat") as ws:
            assert await ws.receive_str(timeout=10) == "hello from ws-app"
            await ws.send_str("through the C loop")
            assert await ws.receive_str(timeout=10) == "through the C loop"
    assert plane.loop.stats[1] == requests_before + 1  # the handshake went through the C loop
    assert plane.serving_c is True

    def tunnels() -> float:
        return proxy.runtime.metrics.registry.get_sample_value("routeshift_gateway_requests_total", {
            "namespace": "default", "route": "chat-ws", "backend_namespace": "default", "backend": "ws-app",
            "code": "101"}) or 0.0

    await until_async(lambda: tunnels() == tunnels_before + 1, 10, description="the tunnel counted with 101")
