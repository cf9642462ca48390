"""Connections to backends: a keep-alive pool and the protocol that streams one response at a time.

The response body is never buffered: each parsed chunk goes straight to the exchange's sink,
which writes it to the client. Everything is reported through the sink's callbacks
(``response_head``, ``response_body``, ``response_end``, ``upstream_done``, ``upstream_failed``),
so a request on a pooled connection needs no future or task. Flow control is symmetric: a client
that reads slowly pauses the backend socket, a backend that reads slowly pauses the client
socket (see :mod:`.exchange`). A connection goes back to the pool only when both the request
and the response ended cleanly and the backend allowed keep-alive; anything else closes it, so
no stale bytes reach the next request. ``_upstream_c`` is this source compiled with its ``.pxd``.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque

import httptools

MAX_IDLE_PER_ENDPOINT = 256


class UpstreamError(Exception):
    """The backend failed before a complete response head (connect error, reset, garbage)."""


class UpstreamProtocol:
    """One backend connection; carries one exchange at a time. An asyncio protocol by its
    methods, without the base class, so that the compiled build can make it an extension type."""

    __slots__ = ("pool", "key", "transport", "parser", "sink", "status", "raw_headers", "reusable", "closed",
                 "no_body", "request_done", "reason", "reused")

    def __init__(self, pool: "Pool", key: tuple[str, int]):
        self.pool = pool
        self.key = key
        self.transport = None
        self.parser = httptools.HttpResponseParser(self)
        self.sink = None
        self.status = 0
        self.raw_headers: list = []
        self.reusable = False
        self.closed = False
        self.no_body = False
        self.request_done = False
        self.reason = b""
        self.reused = False  # taken from the pool: the backend may have closed it meanwhile

    # asyncio callbacks
    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        if self.sink is None:
            # Bytes with no request outstanding: the connection is out of step, drop it.
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as switch:
            sink = self.sink
            if self.status == 101 and sink is not None:
                # The bytes after the 101 head are the switched protocol's: the tunnel's to relay.
                self.sink = None
                sink.switched(data[switch.args[0]:])
            else:
                self._fail(UpstreamError("backend switched protocols"))
        except httptools.HttpParserError as error:
            self._fail(UpstreamError(f"invalid response from backend: {error}"))

    def connection_lost(self, exc):
        self.closed = True
        self.pool.forget(self)
        sink = self.sink
        self.sink = None
        if sink is None:
            return
        if not self.status:
            sink.upstream_failed(UpstreamError(f"backend closed the connection: {exc}"))
        elif self._framed():
            sink.upstream_done(False)  # a framed body was cut short
        else:
            sink.response_end()  # a body delimited by connection close ends here
            sink.upstream_done(True)

    def eof_received(self):
        return None  # a backend that half-closes is done: the transport closes, connection_lost follows

    def pause_writing(self):
        if self.sink is not None:
            self.sink.upstream_paused()

    def resume_writing(self):
        if self.sink is not None:
            self.sink.upstream_resumed()

    # httptools callbacks (no on_message_begin: start() and an interim response reset the head)
    def on_header(self, name, value):
        self.raw_headers.append((name, value))

    def on_status(self, reason):
        self.reason = reason

    def on_headers_complete(self):
        status = self.parser.get_status_code()
        if status < 200:
            sink = self.sink
            if status == 101 and sink is not None and sink.request.upgrade:
                # Switching Protocols, offered by the request: the exchange holds the head and
                # data_received hands the rest over once llhttp stops (it does for a 101 that says
                # Connection: upgrade; one that does not is malformed and ends in a 502).
                self.status = status
                sink.response_head(status, self.reason, self.raw_headers)
                return
            # Interim responses (100 Continue, 103) are consumed here; the client gets the final one.
            self.raw_headers = []
            return
        self.status = status
        if self.sink is not None:
            # From the callback, so that no body chunk can overtake the head.
            self.sink.response_head(status, self.reason, self.raw_headers)
        if self.no_body:
            # A response to HEAD carries framing headers but no body; llhttp cannot be told, so
            # finish here and never reuse the connection.
            self.reusable = False
            if self.sink is not None:
                self.sink.response_end()
            self._finish(True)

    def on_body(self, body):
        if self.sink is not None and not self.no_body:
            self.sink.response_body(body)

    def on_message_complete(self):
        if self.status < 200 or self.no_body:
            return
        self.reusable = self.parser.should_keep_alive()
        if self.sink is not None:
            self.sink.response_end()
        self._finish(True)  # reads the sink again: writing the end may have aborted the exchange

    # used by the exchange
    def start(self, sink, no_body: bool) -> None:
        self.sink = sink
        self.raw_headers = []
        self.status = 0
        self.reason = b""
        self.no_body = no_body
        self.reusable = False
        self.request_done = False

    def _framed(self) -> bool:
        for name, _ in self.raw_headers:
            if name.lower() in (b"content-length", b"transfer-encoding"):
                return True
        return False

    def _finish(self, ok: bool) -> None:
        sink = self.sink
        if sink is not None:
            sink.upstream_done(ok)

    def _fail(self, error: Exception) -> None:
        sink = self.sink
        self.close()
        if sink is not None:
            if self.status:
                sink.upstream_done(False)
            else:
                sink.upstream_failed(error)

    def release(self) -> None:
        """Back to the pool when the exchange ended cleanly on both sides, else closed."""
        self.sink = None
        if self.reusable and self.request_done and not self.closed:
            self.pool.put(self)
        else:
            self.close()

    def close(self) -> None:
        self.sink = None
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()


class Pool:
    """Idle keep-alive connections per (host, port), most recently used first."""

    __slots__ = ("idle", "loop")

    def __init__(self):
        self.idle: dict[tuple[str, int], deque] = {}
        self.loop = None

    def take(self, key: tuple[str, int]) -> UpstreamProtocol | None:
        """An idle connection to ``key``, or None."""
        connections = self.idle.get(key)
        while connections:
            connection = connections.pop()
            if not connection.closed and not connection.transport.is_closing():
                connection.reused = True
                return connection
        return None

    async def connect(self, key: tuple[str, int]) -> UpstreamProtocol:
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await loop.create_connection(lambda: UpstreamProtocol(self, key), key[0], key[1])
        except OSError as error:
            raise UpstreamError(f"cannot connect to {key[0]}:{key[1]}: {error}") from error
        return protocol

    def put(self, connection: UpstreamProtocol) -> None:
        connections = self.idle.get(connection.key)
        if connections is None:
            connections = self.idle[connection.key] = deque()
        elif len(connections) >= MAX_IDLE_PER_ENDPOINT:
            connection.close()
            return
        connections.append(connection)

    def forget(self, connection: UpstreamProtocol) -> None:
        connections = self.idle.get(connection.key)
        if connections:
            try:
                connections.remove(connection)
            except ValueError:
                pass

    def close(self) -> None:
        for connections in self.idle.values():
            for connection in list(connections):
                connection.close()
        self.idle.clear()
