"""Two connections joined after a ``101 Switching Protocols``: bytes both ways until either side ends.

Why it exists: a WebSocket (or any HTTP/1.1 upgrade) is routed like a request, but once the
backend agrees to switch, what follows on both sockets is no longer HTTP. The exchange relays the
101 and hands both transports here (``transport.set_protocol``), so the HTTP parsers are out of
the way and cost nothing per byte; the client connection is consumed by the tunnel and the
backend connection never returns to the pool.

What it guarantees:

- Backpressure: each side is an asyncio protocol whose ``pause_writing`` pauses reading on the
  other side, so a slow reader holds at most one transport's write buffer (its high-water mark)
  plus one read, never an unbounded queue.
- Half-close: an EOF from one side is passed on with ``write_eof`` and the other direction keeps
  flowing; when both sides have ended, or one side is lost or cannot pass an EOF on (TLS), both
  close after flushing what they hold.
- Idle timeout: no byte read from either side for ``idle_timeout`` seconds aborts both (Envoy's
  stream idle timeout plays this part; its default of 5 minutes is ours).
- Metrics: the upgraded connection counts once, code 101, its duration from the request head to
  the end of the tunnel (:meth:`gateway_proxy.metrics.BackendMetrics.observe`).

Plain Python in both builds: the per-byte work is the transports', and the few callbacks here run
once per read.
"""

from __future__ import annotations

import time

DEFAULT_IDLE_TIMEOUT = 300.0
SWITCHED = 101

_clock = time.perf_counter


class _End:
    """The protocol of one transport of the tunnel; ``peer`` is the other end."""

    __slots__ = ("tunnel", "transport", "peer", "ended", "write_paused")

    def __init__(self, tunnel: "Tunnel", transport, write_paused: bool):
        self.tunnel = tunnel
        self.transport = transport
        self.peer: _End | None = None
        self.ended = False  # this side sent its EOF
        self.write_paused = write_paused

    # asyncio protocol callbacks (connection_made is never called: the transport exists already)
    def data_received(self, data: bytes) -> None:
        self.tunnel.last_read = self.tunnel.loop.time()
        self.peer.transport.write(data)

    def eof_received(self) -> bool:
        return self.tunnel.ended(self)

    def connection_lost(self, exc) -> None:
        self.tunnel.close()

    def pause_writing(self) -> None:
        # What this side is sent outruns what it reads: stop reading from the side that sends it.
        self.write_paused = True
        _pause(self.peer.transport)

    def resume_writing(self) -> None:
        self.write_paused = False
        if not self.peer.ended:
            _resume(self.peer.transport)


def _pause(transport) -> None:
    if not transport.is_closing() and transport.is_reading():
        transport.pause_reading()


def _resume(transport) -> None:
    if not transport.is_closing() and not transport.is_reading():
        transport.resume_reading()


class Tunnel:
    """Client and backend transports, joined; ``close`` ends both once and records the metrics."""

    __slots__ = ("loop", "client", "backend", "idle_timeout", "last_read", "timer", "metrics", "started", "closed")

    def __init__(self, loop, client_transport, backend_transport, *, client_write_paused: bool,
                 idle_timeout: float, metrics, started: float):
        self.loop = loop
        self.client = _End(self, client_transport, client_write_paused)
        self.backend = _End(self, backend_transport, False)
        self.client.peer = self.backend
        self.backend.peer = self.client
        self.idle_timeout = idle_timeout
        self.last_read = loop.time()
        self.timer = None
        self.metrics = metrics
        self.started = started
        self.closed = False

    def start(self, to_backend: bytes, to_client: bytes) -> None:
        """Take both transports over; ``to_backend`` and ``to_client`` are bytes each side sent
        after its head, before the switch was complete (the client's were held unread)."""
        client, backend = self.client, self.backend
        client.transport.set_protocol(client)
        backend.transport.set_protocol(backend)
        if to_backend:
            backend.transport.write(to_backend)
        if to_client:
            client.transport.write(to_client)
        if client.transport.is_closing() or backend.transport.is_closing():
            self.close()
            return
        # Reading was paused by the HTTP side (the held client bytes, a slow client); from here each
        # side reads while the other can take what it sends.
        for end in (client, backend):
            if end.peer.write_paused:
                _pause(end.transport)
            else:
                _resume(end.transport)
        if self.idle_timeout:
            self.timer = self.loop.call_later(self.idle_timeout, self._idle)

    def ended(self, end: _End) -> bool:
        """``end`` sent EOF: pass it on and keep the other direction open, or close when both ended."""
        end.ended = True
        peer = end.peer
        if peer.ended or not peer.transport.can_write_eof():
            self.close()
            return False
        peer.transport.write_eof()
        return True

    def _idle(self) -> None:
        self.timer = None
        if self.closed:
            return
        left = self.last_read + self.idle_timeout - self.loop.time()
        if left > 0:
            self.timer = self.loop.call_later(left, self._idle)
            return
        # Nothing moved for the whole timeout; what is still buffered will not be read either.
        self.client.transport.abort()
        self.backend.transport.abort()
        self.close()

    def close(self) -> None:
        """End both sides (each flushes what it holds first) and count the connection, once."""
        if self.closed:
            return
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.client.transport.close()
        self.backend.transport.close()
        self.metrics.observe(SWITCHED, _clock() - self.started)
