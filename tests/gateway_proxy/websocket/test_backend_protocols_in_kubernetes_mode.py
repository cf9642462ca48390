"""Service port ``appProtocol`` in Kubernetes mode (GEP-1911): ``kubernetes.io/ws`` is spoken, h2c is not.

The proxy watches the API emulator as it would a cluster. A backend Service port declaring
``kubernetes.io/ws`` resolves and carries a real WebSocket session (the upstream conformance test
``HTTPRouteBackendProtocolWebSocket`` does the same), and a plain request to it is served as the
HTTP/1.1 it is. ``kubernetes.io/h2c`` cannot be spoken (the proxy talks HTTP/1.1 to backends):
the spec makes such a backendRef invalid, so the route says ``ResolvedRefs: False,
UnsupportedProtocol`` and that backend's share of requests is answered 500.
"""

from __future__ import annotations

import asyncio
import os
import sys

import aiohttp
import pytest

import gw_harness
from routeshift.testing.polling import until_async

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kubernetes"))
import kube_harness  # noqa: E402


@pytest.fixture
def kube_proxy(kubeconfig):
    started = []

    def start(**options):
        proxy = kube_harness.KubeProxy(kubeconfig, **options).start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in reversed(started):
        proxy.stop()


def _service(name: str, port: int, app_protocol: str, backend_port: int) -> list[dict]:
    """A Service whose one port declares ``app_protocol``, and its EndpointSlice."""
    service, endpoints = gw_harness.service(name, backend_port)
    service["spec"]["ports"] = [{"name": "app", "port": port, "protocol": "TCP", "appProtocol": app_protocol}]
    endpoints["ports"] = [{"name": "app", "port": backend_port, "appProtocol": app_protocol}]
    return [service, endpoints]


def _resolved_refs(k8s_api, route: str):
    for parent in kube_harness.route_parents(k8s_api, route):
        for condition in parent["conditions"]:
            if condition["type"] == "ResolvedRefs":
                return condition
    return None


async def test_a_websocket_service_port_resolves_and_carries_websocket(k8s_api, kube_proxy, websocket_backends):
    echo = await websocket_backends("ws-app")
    kube_harness.create_all(k8s_api, [
        kube_harness.gateway_class(), gw_harness.gateway(), *_service("ws-app", 8082, "kubernetes.io/ws", echo.port),
        gw_harness.route("backend-protocol-ws", [gw_harness.rule([gw_harness.backend("ws-app", port=8082)])]),
    ])
    proxy = kube_proxy()
    resolved = await until_async(lambda: _resolved_refs(k8s_api, "backend-protocol-ws"), 10)
    assert (resolved["status"], resolved["reason"]) == ("True", "ResolvedRefs")
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"http://127.0.0.1:{proxy.port}/") as ws:
            assert await ws.receive_str(timeout=10) == "hello from ws-app"
            await ws.send_str("conformance")
            assert await ws.receive_str(timeout=10) == "conformance"
        async with session.get(f"http://127.0.0.1:{proxy.port}/page") as plain:
            assert (plain.status, await plain.text()) == (200, "plain answer from ws-app")


async def test_an_h2c_service_port_is_reported_unsupported_and_answered_500(k8s_api, kube_proxy, echo_factory):
    echo = echo_factory("plain")
    kube_harness.create_all(k8s_api, [
        kube_harness.gateway_class(), gw_harness.gateway(), *kube_harness.echo_backend("plain", echo),
        *_service("grpc-app", 8081, "kubernetes.io/h2c", gw_harness.free_port()),
        gw_harness.route("half-h2c", [gw_harness.rule([gw_harness.backend("plain", 1),
                                                       gw_harness.backend("grpc-app", 1, port=8081)])]),
    ])
    proxy = kube_proxy()
    resolved = await until_async(lambda: _resolved_refs(k8s_api, "half-h2c"), 10)
    assert (resolved["status"], resolved["reason"]) == ("False", "UnsupportedProtocol")
    assert "kubernetes.io/h2c" in resolved["message"]
    split = await asyncio.to_thread(kube_harness.backends, proxy, 60)
    assert set(split) == {"plain", 500}, split
