"""How a tunnel ends and how it holds back: idle timeout, either side closing, half-close, backpressure.

WebSocket sessions (aiohttp on both ends) show the closes a user sees; a raw switching backend
shows what a WebSocket library hides: bytes sent before the 101, an EOF passed on while the other
direction keeps flowing, and a client that stops reading.
"""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp

from gw_harness import backend, deploy, route, rule
from routeshift.testing.polling import until_async
from ws_backends import RAW_SWITCH

RAW_OFFER = b"GET /raw HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n"


def _url(proxy) -> str:
    return f"http://127.0.0.1:{proxy.port}/chat"


def _counted(proxy, route_name: str) -> float:
    return proxy.runtime.metrics.registry.get_sample_value("routeshift_gateway_requests_total", {
        "namespace": "default", "route": route_name, "backend_namespace": "default", "backend": "echo",
        "code": "101"}) or 0.0


async def test_an_idle_tunnel_is_closed_after_the_idle_timeout(proxy, websocket_backends, tunnel_idle_timeout):
    echo = await websocket_backends("echo")
    deploy(proxy, {"echo": echo}, [route("idle", [rule([backend("echo")])])])
    tunnel_idle_timeout(0.5)
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(_url(proxy), autoping=False) as ws:
            await ws.receive_str(timeout=10)
            await ws.send_str("alive")
            assert await ws.receive_str(timeout=10) == "alive"
            quiet_from = time.monotonic()
            ended = await ws.receive(timeout=10)
            quiet_for = time.monotonic() - quiet_from
    assert ended.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR)
    assert quiet_for >= 0.4  # closed for being idle, not at once
    await until_async(lambda: echo.closes, 10, description="the backend's session ended too")
    await until_async(lambda: _counted(proxy, "idle") == 1, 10)


async def test_the_backend_closing_first_ends_the_session_for_the_client(proxy, websocket_backends):
    echo = await websocket_backends("echo")
    deploy(proxy, {"echo": echo}, [route("backend-ends", [rule([backend("echo")])])])
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(_url(proxy)) as ws:
            await ws.receive_str(timeout=10)
            await ws.send_str("bye")
            ended = await ws.receive(timeout=10)
            assert ended.type == aiohttp.WSMsgType.CLOSE
            assert ws.close_code == 4001 or ended.data == 4001
    await until_async(lambda: echo.closes, 10, description="the backend's session ended with the client's reply")
    await until_async(lambda: _counted(proxy, "backend-ends") == 1, 10)


async def test_the_client_closing_first_ends_the_session_for_the_backend(proxy, websocket_backends):
    echo = await websocket_backends("echo")
    deploy(proxy, {"echo": echo}, [route("client-ends", [rule([backend("echo")])])])
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(_url(proxy))
        await ws.receive_str(timeout=10)
        await ws.close(code=4002, message=b"client leaves")
        assert ws.closed
    await until_async(lambda: echo.closes == [4002], 10, description="the backend saw the client's close code")
    await until_async(lambda: _counted(proxy, "client-ends") == 1, 10)


def _send_then_half_close(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


async def test_a_half_close_is_passed_on_and_the_other_direction_keeps_flowing(proxy, raw_backends):
    async def read_all_then_answer(reader, writer):
        received = await reader.read()  # until the EOF the proxy passes on
        writer.write(b"got " + received)
        await writer.drain()

    switching = await raw_backends(read_all_then_answer, first=b"[first]")
    deploy(proxy, {"echo": switching}, [route("half-close", [rule([backend("echo")])])])
    # "early" follows the head in the same write, before the backend agreed to switch.
    reply = await asyncio.to_thread(_send_then_half_close, proxy.port, RAW_OFFER + b"early+late")
    head, _, tunnelled = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols")
    assert b"upgrade: raw" in head.lower() and b"connection: upgrade" in head.lower()
    assert tunnelled == b"[first]got early+late"
    assert b"connection: upgrade" in switching.heads[0].lower() and b"upgrade: raw" in switching.heads[0].lower()
    await until_async(lambda: _counted(proxy, "half-close") == 1, 10)


async def test_a_client_that_stops_reading_holds_the_backend_back(proxy, raw_backends):
    # Beyond what the kernel buffers between the two ends can hold here (socket buffers autotune
    # up to tcp_rmem + tcp_wmem, 32 + 4 MiB): without backpressure the proxy would read it all.
    cap = 96 * 1024 * 1024
    flow = {"sent": 0, "held_at": None}

    async def send_until_held_back(reader, writer):
        chunk = b"x" * 65536
        while flow["sent"] < cap:
            writer.write(chunk)
            try:
                await asyncio.wait_for(writer.drain(), 0.5)
            except asyncio.TimeoutError:
                flow["held_at"] = flow["sent"]  # nothing drained for half a second: held back
                break
            flow["sent"] += len(chunk)
        await writer.drain()
        flow["sent"] += len(chunk)

    switching = await raw_backends(send_until_held_back)
    deploy(proxy, {"echo": switching}, [route("slow-reader", [rule([backend("echo")])])])
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    client.settimeout(10)
    try:
        client.connect(("127.0.0.1", proxy.port))
        client.sendall(RAW_OFFER)
        await until_async(lambda: flow["held_at"] is not None or flow["sent"] >= cap, 30,
                          description="the backend held back")
        # Held back well before the cap: the proxy did not take the stream into its memory.
        assert flow["held_at"] is not None and flow["held_at"] < cap // 2, flow

        def read_until_closed() -> int:
            total = -len(RAW_SWITCH)
            while chunk := client.recv(1 << 20):
                total += len(chunk)
            return total

        # Reading again lets everything through, in full, then the backend's close.
        assert await asyncio.to_thread(read_until_closed) == flow["sent"]
    finally:
        client.close()
    await until_async(lambda: _counted(proxy, "slow-reader") == 1, 10)
