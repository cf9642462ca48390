"""RequestMirror: send a copy of the request to other backends, fire and forget.

The client only ever sees the primary response, so a mirror must never slow it down or fail
it: each mirror has its own connection, buffers at most ``MAX_BUFFER`` bytes of body while it
connects or while its backend reads slowly, and is simply dropped past that or on any error.
Mirror responses are read and discarded, and the connection closed once one has arrived;
their status and duration are counted for the mirror backend (``metrics``), because a mirroring
stage of a rollout is judged on how the canary answered the copies. A mirror the proxy drops
itself (buffer full) is not counted: that says nothing about the backend.

A mirror may copy only a share of the requests (``percent`` or ``fraction``, Gateway API v1.2+),
sampled independently per request. The data path carries that share in the mirror backend's
``weight``, as an integer out of ``EVERY``: a weight already means "how much of the traffic",
and the typed hot-path Backend needs no new field. The scale is fine enough for any fraction
an operator would write, yet a 32-bit C long still holds it. A full share skips the draw.
"""

from __future__ import annotations

import asyncio
import time

import httptools

MAX_BUFFER = 1024 * 1024
MIRROR_DEADLINE = 30.0
EVERY = 1_000_000_000  # the weight of a mirror that copies every request


def weight(numerator: int, denominator: int) -> int:
    """A mirror backend's weight for a share of ``numerator / denominator`` (0 < denominator, 0 <= share <= 1)."""
    return numerator * EVERY // denominator


class Mirror(asyncio.Protocol):
    """One mirrored request; receives the same body chunks as the primary."""

    __slots__ = ("transport", "pending", "size", "dead", "parser", "chunked", "ended", "timer", "metrics",
                 "started")

    def __init__(self, head: bytes, chunked: bool, metrics=None):
        self.transport = None
        self.pending = [head]
        self.size = len(head)
        self.dead = False
        self.chunked = chunked
        self.ended = False
        self.parser = httptools.HttpResponseParser(self)
        self.timer = None
        self.metrics = metrics
        self.started = time.perf_counter()

    @classmethod
    def start(cls, loop, endpoint: tuple[str, int], head: bytes, chunked: bool, metrics=None) -> "Mirror":
        mirror = cls(head, chunked, metrics)
        loop.create_task(mirror._connect(loop, endpoint))
        return mirror

    async def _connect(self, loop, endpoint):
        try:
            await loop.create_connection(lambda: self, endpoint[0], endpoint[1])
        except OSError:
            self._count(502)
            self.dead = True

    def connection_made(self, transport):
        if self.dead:
            transport.close()
            return
        self.transport = transport
        self.timer = asyncio.get_running_loop().call_later(MIRROR_DEADLINE, self._expire)
        transport.writelines(self.pending)
        self.pending = []

    def _send(self, data: bytes):
        if self.dead:
            return
        if self.transport is None:
            self.size += len(data)
            if self.size > MAX_BUFFER:
                self.drop()
            else:
                self.pending.append(data)
            return
        if self.transport.get_write_buffer_size() > MAX_BUFFER:
            self.drop()
            return
        self.transport.write(data)

    def request_body(self, chunk: bytes):
        if chunk:
            self._send(b"%x\r\n%s\r\n" % (len(chunk), chunk) if self.chunked else chunk)

    def request_end(self):
        if self.chunked:
            self._send(b"0\r\n\r\n")

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.drop()

    def on_message_complete(self):
        self._count(self.parser.get_status_code())
        self.drop()

    def _expire(self):
        self._count(504)
        self.drop()

    def _count(self, code: int):
        """Count this mirror's outcome once (a later drop or error counts nothing more)."""
        metrics, self.metrics = self.metrics, None
        if metrics is not None and not self.dead:
            metrics.observe(code, time.perf_counter() - self.started)

    def connection_lost(self, exc):
        self.dead = True
        if self.timer is not None:
            self.timer.cancel()

    def drop(self):
        self.dead = True
        self.pending = []
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.transport is not None:
            self.transport.close()
