"""Backends that switch protocols, for the tunnel tests: a WebSocket echo (aiohttp) and a raw one.

Both listen on a free 127.0.0.1 port in the test's event loop and are stopped by their fixture.
The WebSocket echo answers a real RFC 6455 handshake and frames; the raw backend answers any
request with a bare ``101`` and then runs a test-given coroutine on the connection, for what a
WebSocket library hides (half-close, bytes sent before the switch, a reader that stops).
"""

from __future__ import annotations

import asyncio

from aiohttp import WSMsgType, web

RAW_SWITCH = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n"


class WebSocketEcho:
    """Greets with its name, echoes text and binary frames, ends the session on "bye" with code 4001.

    ``?status=N`` answers N with a body instead of switching; a request that is no WebSocket
    handshake gets a plain 200. ``handshakes`` holds the request headers of each switch and
    ``closes`` the close code each session ended with, as this backend saw it."""

    def __init__(self, name: str):
        self.name = name
        self.handshakes: list[dict] = []
        self.plain: list[dict] = []
        self.closes: list[int | None] = []
        self.port = 0
        self._runner = None

    async def start(self) -> "WebSocketEcho":
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if "status" in request.query:
            status = int(request.query["status"])
            self.plain.append(dict(request.headers))
            return web.Response(status=status, text=f"{self.name} does not switch ({status})")
        session = web.WebSocketResponse()
        if not session.can_prepare(request).ok:
            self.plain.append(dict(request.headers))
            return web.Response(text=f"plain answer from {self.name}")
        self.handshakes.append(dict(request.headers))
        await session.prepare(request)
        await session.send_str(f"hello from {self.name}")
        async for message in session:
            if message.type == WSMsgType.TEXT:
                if message.data == "bye":
                    await session.close(code=4001, message=b"backend ends")
                    break
                await session.send_str(message.data)
            elif message.type == WSMsgType.BINARY:
                await session.send_bytes(message.data)
        self.closes.append(session.close_code)
        return session


class RawSwitch:
    """Answers the first request head on a connection with ``RAW_SWITCH`` and ``first`` bytes,
    then hands the connection to ``behaviour(reader, writer)``; ``heads`` holds each request head."""

    def __init__(self, behaviour, first: bytes = b""):
        self.behaviour = behaviour
        self.first = first
        self.heads: list[bytes] = []
        self.port = 0
        self._server = None

    async def start(self) -> "RawSwitch":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            self.heads.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(RAW_SWITCH + self.first)
            await self.behaviour(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
