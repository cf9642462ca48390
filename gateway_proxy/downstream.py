"""The client side of the proxy: parse HTTP/1.1 with httptools, enforce limits, run exchanges in order.

Thin on purpose (uvicorn's httptools protocol is the model): callbacks collect the request
head, hand it to :func:`gateway_proxy.exchange.handle`, and route body chunks to whatever the
exchange attached. Requests on one connection are answered strictly in order; a pipelined
request waits in ``pending``, and its body is buffered only up to a bound before reading pauses.

Limits answer with a status and close the connection, because after a framing error nothing
that follows on the socket can be trusted: malformed 400 (including Content-Length together
with Transfer-Encoding, which llhttp refuses), URI too long 414, header block too large 431,
and a header-read timeout (408) against clients that trickle their headers. What llhttp accepts
but the C data plane's parser refuses (a version other than 1.0 and 1.1, a bad or second Host,
Transfer-Encoding other than one ``chunked``, a malformed Connection list) is refused here too,
field by field as the C parser does, by the rules of :mod:`gateway_proxy.request_rules`.

After an upgrade request (WebSocket) nothing more is parsed: reading pauses and the bytes already
read are held until the backend answers. A ``101`` hands the transport to a
:class:`gateway_proxy.tunnel.Tunnel` (:meth:`ClientProtocol.tunnelled`); any other answer closes.

The source stays plain Python; ``_downstream_c`` is the same source compiled with its ``.pxd``
(one source, two builds, chosen with the hot path's build by :func:`gateway_proxy.serving.data_path`).
"""

from __future__ import annotations

import logging
import socket
from collections import deque

import httptools

from gateway_proxy import errors, request_rules
from gateway_proxy.wire import PAUSE_BODY, PAUSE_PIPELINE, PAUSE_REJECTED, PAUSE_UPGRADE, simple_response

# One source, two builds (see serving.data_path): the compiled twin of this module,
# ``_downstream_c``, hands requests to the compiled exchange, this one to the pure one.
if __name__.endswith("_c"):
    from gateway_proxy import _exchange_c as exchange
else:
    from gateway_proxy import exchange

logger = logging.getLogger("gateway_proxy")

MAX_URI = 8 * 1024
MAX_HEAD = 32 * 1024
MAX_HEADERS = 100
MAX_BUFFERED_BODY = 256 * 1024

class Request:
    """One parsed request head and the state of its body."""

    __slots__ = ("method", "target", "path", "query", "raw_headers", "headers", "host", "keep_alive",
                 "chunked", "has_body", "buffer", "buffered", "complete", "writer", "responded", "error",
                 "host_fields", "upgrade")

    def __init__(self):
        self.target = b""
        self.raw_headers: list = []
        self.buffer: list = []
        self.buffered = 0
        self.complete = False
        self.writer = None
        self.responded = False
        self.chunked = False
        self.has_body = False
        self.host_fields = 0  # Host field lines seen: a second one is refused (RFC 9112 3.2)
        self.upgrade = ""  # the Upgrade field of a request the proxy may tunnel (exchange.prepare)


class ClientProtocol:
    """One client connection: an asyncio protocol by its methods, without the base class, so
    that the compiled build can make it an extension type."""

    __slots__ = ("runtime", "transport", "parser", "peer", "request", "pending", "active", "in_head",
                 "head_bytes", "head_size", "url_bytes", "closing", "timer", "read_pauses", "write_paused",
                 "running", "upgrade", "rejected", "waiting_since", "tls")

    def __init__(self, runtime, tls: bool = False):
        self.runtime = runtime
        self.tls = tls  # arrived on the TLS socket: routed with HTTPS listeners only
        self.transport = None
        self.parser = httptools.HttpRequestParser(self)
        self.peer = ""
        self.request: Request | None = None
        self.pending: deque[Request] = deque()
        self.active: Request | None = None
        self.in_head = True
        self.head_bytes = 0  # bytes received while a head is incomplete: bounds httptools' buffering
        self.head_size = 0  # exact size of the current head as parsed
        self.url_bytes = 0
        self.closing = False
        self.timer = None
        # When the connection last started waiting for a head; 0.0 while a request is in flight.
        # The timer is lazy: armed once and re-armed from here, never cancelled per request.
        self.waiting_since = 0.0
        self.read_pauses = 0
        self.write_paused = False
        self.running = None  # the Exchange in flight, aborted if the client goes away
        self.upgrade = False
        self.rejected = 0  # status owed once the requests read before a framing error are answered

    # connection lifecycle
    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else ""
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self._arm_timer()

    def connection_lost(self, exc):
        self.closing = True
        if self.timer is not None:
            self.timer.cancel()
        if self.running is not None:
            self.running.abort()
            self.running = None
        self.pending.clear()

    def _arm_timer(self):
        self.waiting_since = self.runtime.loop.time()
        if self.timer is None:
            self.timer = self.runtime.loop.call_later(self.runtime.header_timeout, self._head_timeout)

    def _head_timeout(self):
        self.timer = None
        if self.closing:
            return
        timeout = self.runtime.header_timeout
        if not self.waiting_since or self.active is not None:
            self.timer = self.runtime.loop.call_later(timeout, self._head_timeout)
            return
        left = self.waiting_since + timeout - self.runtime.loop.time()
        if left > 0:
            self.timer = self.runtime.loop.call_later(left, self._head_timeout)
        elif self.head_bytes:
            self.reject(408)  # a head started and never finished
        else:
            self.close()  # an idle keep-alive connection just closes

    def data_received(self, data):
        if self.closing or self.rejected:
            return
        if self.upgrade:
            self._after_upgrade(data)
            return
        if self.in_head:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            cause = error.__cause__ or error.__context__
            self.reject(cause.status if isinstance(cause, errors.ProtocolError) else 400)
            return
        except httptools.HttpParserUpgrade as switch:
            # What follows an upgrade request is not HTTP: it is never parsed. For a request the proxy
            # tunnels it is held until the backend answers; any other (one with a body, a method
            # other than GET) is answered as plain HTTP, then the connection closes.
            self.upgrade = True
            self.pause_reading(PAUSE_UPGRADE)
            request = self.request
            if self.closing or request is None:
                return
            if request.upgrade:
                self._after_upgrade(data[switch.args[0]:])
            elif self.active is None and not self.pending:
                self.close()  # already answered
            else:
                request.keep_alive = False
                self.on_message_complete()
            return
        except httptools.HttpParserError:
            self.reject(400)
            return
        if self.in_head and self.head_bytes > MAX_HEAD:
            self.reject(431)

    def _after_upgrade(self, data):
        """Bytes after an upgrade request's head: the tunnel's first, if the backend switches."""
        request = self.request
        if data and request is not None and request.upgrade and not request.responded:
            request.buffer.append(data)

    def tunnelled(self):
        """The backend switched protocols and the exchange relayed its 101: the transport now
        belongs to a :class:`gateway_proxy.tunnel.Tunnel`, this protocol lets go of it."""
        self.closing = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.running = None
        self.active = None
        self.pending.clear()

    def eof_received(self):
        # The client half-closed. Requests already read still get their answers, in order; a head
        # cut short gets a 400 after them, so that no input goes unanswered.
        partial = self.in_head and self.head_bytes > 0
        if self.active is None:
            if partial:
                self.reject(400)
            return False
        active = self.active
        if not active.complete:
            # Its body was cut short and can never be completed: abandon the exchange. When
            # nothing was answered yet, the truncated request gets a 400.
            running = self.running
            if not active.responded and (running is None or not running.head_sent):
                if running is not None:
                    running.abort()
                    self.running = None
                self.transport.write(simple_response(400, False))
            self.close()
            return False
        if partial:
            self.rejected = 400
        else:
            last = self.pending[-1] if self.pending else self.active
            last.keep_alive = False
        return True

    # flow control
    def pause_reading(self, reason: int):
        if not self.read_pauses and not self.closing:
            self.transport.pause_reading()
        self.read_pauses |= reason

    def resume_reading(self, reason: int):
        if self.read_pauses & reason:
            self.read_pauses &= ~reason
            if not self.read_pauses and not self.closing:
                self.transport.resume_reading()

    def pause_writing(self):
        self.write_paused = True
        request = self.active
        if request is not None and request.writer is not None:
            request.writer.client_paused()

    def resume_writing(self):
        self.write_paused = False
        request = self.active
        if request is not None and request.writer is not None:
            request.writer.client_resumed()

    # httptools callbacks
    def on_message_begin(self):
        self.request = Request()
        self.in_head = True
        self.url_bytes = 0
        self.head_size = 0

    def on_url(self, url):
        self.url_bytes += len(url)
        self.head_size += len(url)
        if self.url_bytes > MAX_URI:
            raise errors.UriTooLong()
        self.request.target += url

    def on_header(self, name, value):
        request = self.request
        raw = request.raw_headers
        raw.append((name, value))
        if len(raw) > MAX_HEADERS:
            raise errors.HeadersTooLarge()
        # Refused where the C parser refuses them, so that a head breaking several rules gets the
        # same status from both builds: the version with the request line (before any field),
        # then each field as it arrives, then the size of the head so far. llhttp reports chunked
        # trailer fields here too; those are dropped, not forwarded, so these rules skip them.
        if self.in_head:
            if len(raw) == 1 and request_rules.version_status(self.parser.get_http_version()):
                raise errors.BadRequest()
            checked = request_rules.field_status(name, value)
            if checked == request_rules.FIELD_HOST:
                request.host_fields += 1
                if request.host_fields > 1:
                    raise errors.BadRequest()  # RFC 9112 3.2: more than one Host field line
            elif checked:
                raise errors.BadRequest()
        self.head_size += len(name) + len(value) + 4
        if self.head_size > MAX_HEAD:
            raise errors.HeadersTooLarge()

    def on_headers_complete(self):
        request = self.request
        self.in_head = False
        self.head_bytes = 0
        self.waiting_since = 0.0
        exchange.prepare(request, self.parser)
        if request.has_body and not request.error and request.headers.get("expect", "").lower() == "100-continue":
            # Answer the expectation here: the backend never sees Expect, so it never sends 100. A
            # request about to be refused gets only its final status (RFC 9110 10.1.1).
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if self.active is None and not self.pending:
            # The usual case, nothing queued: straight to the exchange.
            if not self.closing:
                self._start(request)
            return
        self.pending.append(request)
        if len(self.pending) > 8:
            self.pause_reading(PAUSE_PIPELINE)
        if self.active is None:
            self._next()

    def on_body(self, body):
        request = self.request
        if request.responded:
            return
        if request.writer is not None:
            request.writer.request_body(body)
            return
        request.buffer.append(body)
        request.buffered += len(body)
        if request.buffered > MAX_BUFFERED_BODY:
            self.pause_reading(PAUSE_BODY)

    def on_message_complete(self):
        request = self.request
        if request is None or request.complete:
            return
        request.complete = True
        self.in_head = True
        if request.writer is not None and not request.responded:
            request.writer.request_end()
        if request.responded and request is self.active:
            self._after(request)

    # exchanges
    def _next(self):
        if self.closing:
            return
        if not self.pending:
            if self.rejected:
                self.transport.write(simple_response(self.rejected, False))
                self.close()
            elif self.active is None:
                self._arm_timer()
            return
        request = self.pending.popleft()
        if self.read_pauses:
            self.resume_reading(PAUSE_PIPELINE)
        self._start(request)

    def _start(self, request):
        """Hand ``request`` to its exchange. A bug in there must not leave the client waiting
        for an answer that never comes: it is logged, answered 500 if nothing was sent yet,
        and the connection closes (what was sent cannot be framed any more)."""
        self.active = request
        try:
            exchange.handle(self, request)
        except Exception:
            logger.exception("gateway_proxy: internal error serving %s %s", request.method, request.path)
            running = self.running
            started = running is not None and running.head_sent
            if running is not None:
                self.running = None
                running.abort()
            if not request.responded and not started and not self.closing:
                self.transport.write(simple_response(500, False))
            self.close()

    def finished(self, request: Request, keep_alive: bool):
        """The exchange wrote its whole response."""
        request.responded = True
        if not keep_alive:
            request.keep_alive = False
        request.writer = None
        if self.read_pauses:
            self.resume_reading(PAUSE_BODY)
        # A connection that will close need not drain the rest of the request body first.
        if request.complete or not request.keep_alive:
            self._after(request)

    def _after(self, request: Request):
        self.active = None
        self.running = None
        if not request.keep_alive or (self.upgrade and not self.pending):
            self.close()
            return
        self._next()

    def write(self, data: bytes):
        if not self.closing:
            self.transport.write(data)

    def reject(self, status: int):
        """Answer a protocol error and close: the rest of the stream cannot be framed.

        Requests read before the error are answered first, in order; then the error.
        """
        if self.closing or self.rejected:
            return
        if self.active is None and not self.pending:
            self.transport.write(simple_response(status, False))
            self.close()
            return
        self.rejected = status
        self.pause_reading(PAUSE_REJECTED)

    def close(self):
        if not self.closing:
            self.closing = True
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            self.transport.close()
