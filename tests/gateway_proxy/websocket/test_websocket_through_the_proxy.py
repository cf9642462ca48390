"""WebSocket through the proxy: routed and weighted like a request, then tunnelled (issue 14).

A real aiohttp client shakes hands and exchanges frames with real aiohttp backends through the
proxy of each build. What the user sees: echoes arrive, the split follows the weights, a backend
that does not switch is answered as HTTP, header filters reach the handshake, an ``Upgrade``
without ``Connection: upgrade`` is a plain request, and each upgraded connection is counted once
with code 101 when it ends.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import time

import aiohttp
import pytest

import gw_harness
from gw_harness import backend, deploy, path_match, route, rule
from routeshift.testing.polling import until_async

HANDSHAKE = (b"GET /chat HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
             b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")


def _url(proxy, path: str = "/chat") -> str:
    return f"http://127.0.0.1:{proxy.port}{path}"


def _requests(proxy, route_name: str, backend_name: str, code: int) -> float:
    value = proxy.runtime.metrics.registry.get_sample_value("routeshift_gateway_requests_total", {
        "namespace": "default", "route": route_name, "backend_namespace": "default", "backend": backend_name,
        "code": str(code)})
    return value or 0.0


def _durations(proxy, route_name: str, backend_name: str) -> tuple[float, float]:
    labels = {"namespace": "default", "route": route_name, "backend_namespace": "default", "backend": backend_name}
    registry = proxy.runtime.metrics.registry
    return (registry.get_sample_value("routeshift_gateway_request_duration_seconds_count", labels) or 0.0,
            registry.get_sample_value("routeshift_gateway_request_duration_seconds_sum", labels) or 0.0)


async def test_websocket_echo_through_a_weighted_route(proxy, websocket_backends):
    stable, canary = await websocket_backends("stable"), await websocket_backends("canary")
    deploy(proxy, {"stable": stable, "canary": canary},
           [route("chat", [rule([backend("stable", 3), backend("canary", 1)])])])
    big = bytes(range(256)) * 4096  # 1 MiB in one frame: more than any socket buffer holds
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(_url(proxy), max_msg_size=0) as ws:
            greeting = await ws.receive_str(timeout=10)
            assert greeting in ("hello from stable", "hello from canary")
            for text in ("one", "two", "three"):
                await ws.send_str(text)
                assert await ws.receive_str(timeout=10) == text
            await ws.send_bytes(big)
            assert await ws.receive_bytes(timeout=10) == big


async def test_upgraded_connections_follow_the_weights(proxy, websocket_backends):
    stable, canary = await websocket_backends("stable"), await websocket_backends("canary")
    deploy(proxy, {"stable": stable, "canary": canary},
           [route("split", [rule([backend("stable", 3), backend("canary", 1)])])])
    connections = 240
    seen: collections.Counter = collections.Counter()

    async def one(session):
        async with session.ws_connect(_url(proxy)) as ws:
            seen[(await ws.receive_str(timeout=10)).removeprefix("hello from ")] += 1

    async with aiohttp.ClientSession() as session:
        for _ in range(connections // 24):  # 24 at a time: a burst of upgrades, not a flood
            await asyncio.gather(*(one(session) for _ in range(24)))
    assert sum(seen.values()) == connections
    # 3:1 gives the canary 25 %; 0.1 is four standard deviations of 240 draws.
    assert abs(seen["canary"] / connections - 0.25) < 0.1, seen
    # Each upgraded connection counted once, code 101, for the backend it reached.
    await until_async(lambda: (_requests(proxy, "split", "stable", 101), _requests(proxy, "split", "canary", 101))
          == (seen["stable"], seen["canary"]), 10, description="one 101 per tunnel")


async def test_a_tunnel_is_counted_with_code_101_once_it_ends(proxy, websocket_backends):
    echo = await websocket_backends("echo")
    deploy(proxy, {"echo": echo}, [route("counted", [rule([backend("echo")])])])
    before = _durations(proxy, "counted", "echo")
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(_url(proxy))
        open_from = time.perf_counter()
        await ws.receive_str(timeout=10)
        await ws.send_str("still open")
        assert await ws.receive_str(timeout=10) == "still open"
        # A tunnel still open is not a request answered yet.
        assert _requests(proxy, "counted", "echo", 101) == 0
        assert _durations(proxy, "counted", "echo") == before
        await ws.close()
        open_for = time.perf_counter() - open_from
    await until_async(lambda: _requests(proxy, "counted", "echo", 101) == 1, 10, description="counted when it ended")
    count, total = _durations(proxy, "counted", "echo")
    assert count == before[0] + 1
    assert total - before[1] >= open_for  # from the handshake to the end of the tunnel


@pytest.mark.parametrize("status", [200, 404])
async def test_a_backend_that_does_not_switch_is_answered_as_http(proxy, websocket_backends, status):
    echo = await websocket_backends("echo")
    deploy(proxy, {"echo": echo}, [route(f"declined-{status}", [rule([backend("echo")])])])
    head = HANDSHAKE.replace(b"/chat", b"/chat?status=%d" % status) + b"\r\n"
    reply = await asyncio.to_thread(gw_harness.raw_exchange, proxy.port, head, 10)
    status_line, _, rest = reply.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 %d" % status)
    fields, _, body = rest.partition(b"\r\n\r\n")
    assert body == b"echo does not switch (%d)" % status
    assert b"connection: close" in fields.lower()  # the offer to switch ends the connection either way
    # The backend saw the offer, and the answer is counted as the status it was.
    assert echo.plain[-1]["Upgrade"] == "websocket" and "upgrade" in echo.plain[-1]["Connection"].lower()
    await until_async(lambda: _requests(proxy, f"declined-{status}", "echo", status) == 1, 10)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        async with aiohttp.ClientSession() as session:
            await session.ws_connect(_url(proxy, f"/chat?status={status}"))
    assert refused.value.status == status


async def test_a_backend_that_refuses_connections_gives_502(proxy):
    closed_port = gw_harness.free_port()
    deploy(proxy, {}, [route("refused", [rule([backend("gone")])])],
           extra=gw_harness.service("gone", closed_port))
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        async with aiohttp.ClientSession() as session:
            await session.ws_connect(_url(proxy))
    assert refused.value.status == 502


async def test_header_filters_apply_to_the_upgrade_request_and_its_101(proxy, websocket_backends):
    echo = await websocket_backends("echo")
    deploy(proxy, {"echo": echo}, [route("filtered", [rule([backend("echo")], filters=[
        {"type": "RequestHeaderModifier",
         "requestHeaderModifier": {"set": [{"name": "X-Tenant", "value": "blue"}], "remove": ["X-Drop"]}},
        {"type": "ResponseHeaderModifier",
         "responseHeaderModifier": {"add": [{"name": "X-Served-By", "value": "routeshift"}]}}])])])
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(_url(proxy), headers={"X-Drop": "secret", "X-Keep": "yes"}) as ws:
            assert ws._response.headers["X-Served-By"] == "routeshift"
            assert await ws.receive_str(timeout=10) == "hello from echo"
    seen = echo.handshakes[-1]
    assert seen["X-Tenant"] == "blue" and seen["X-Keep"] == "yes" and "X-Drop" not in seen
    assert seen["Upgrade"] == "websocket" and seen["Connection"].lower() == "upgrade"
    assert seen["Sec-WebSocket-Version"] == "13" and "Sec-WebSocket-Key" in seen


async def test_matches_and_precedence_pick_the_upgrade_route(proxy, websocket_backends):
    chat, rest = await websocket_backends("chat"), await websocket_backends("rest")
    deploy(proxy, {"chat": chat, "rest": rest}, [
        route("everything", [rule([backend("rest")])]),
        route("sockets", [rule([backend("chat")], matches=[path_match("/socket", headers=[
            {"name": "Upgrade", "value": "websocket"}])])]),
    ])
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(_url(proxy, "/socket/room")) as ws:
            assert await ws.receive_str(timeout=10) == "hello from chat"
        async with session.ws_connect(_url(proxy, "/other")) as ws:
            assert await ws.receive_str(timeout=10) == "hello from rest"


def _two_requests_on_one_connection(port: int, first: bytes) -> list[bytes]:
    """Send ``first``, read its answer, then a plain GET on the same connection."""
    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")
        for head in (first, b"GET /again HTTP/1.1\r\nHost: example.com\r\n\r\n"):
            sock.sendall(head)
            status = reader.readline()
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            answers.append(status + reader.read(length))
    return answers


async def test_upgrade_without_connection_upgrade_is_a_plain_request(proxy, websocket_backends):
    echo = await websocket_backends("echo")
    deploy(proxy, {"echo": echo}, [route("plain", [rule([backend("echo")])])])
    offer = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\r\n"
    first, second = await asyncio.to_thread(_two_requests_on_one_connection, proxy.port, offer)
    assert first.startswith(b"HTTP/1.1 200") and first.endswith(b"plain answer from echo")
    assert second.startswith(b"HTTP/1.1 200")  # still an HTTP keep-alive connection
    assert "Upgrade" not in echo.plain[0] and not echo.handshakes  # hop-by-hop: not forwarded
    await until_async(lambda: _requests(proxy, "plain", "echo", 200) == 2, 10)
