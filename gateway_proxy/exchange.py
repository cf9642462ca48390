"""One request through the proxy: route, filter, pick a backend, stream both ways, account for it.

The decisions come from the hot path of the same build (the pure one here, the compiled one in
``_exchange_c``, this source compiled with ``_exchange_c.pxd``); this module wires them to
sockets. It is callback-driven rather than a coroutine per request: with a pooled backend
connection a request runs start to end inside the parsers' callbacks, with no task, future or
timeout context to create, which is most of the per-request cost a Python proxy can save. Only
opening a new backend connection goes through the event loop. The response head is held until
the first body bytes (or the end) so that both usually leave in one write.

A rule's retry policy (:mod:`gateway_proxy.retries`) may end an attempt before anything reached
the client and start another after a backoff, to a backend picked by weight again; a CORS filter
(:mod:`gateway_proxy.cors`) answers preflights here and adds its fields to response heads; session
persistence (:mod:`gateway_proxy.sessions`) picks the pinned backend before the weights and adds
its cookie to the response head. Rules without them pay one attribute test each.
"""

from __future__ import annotations

import random
import time

from gateway_proxy import filters, request_rules, tunnel
from gateway_proxy.wire import PAUSE_BODY, simple_response
from gateway_proxy.mirroring import EVERY as _EVERY, Mirror
from gateway_proxy import cors, retries, sessions

# One source, two builds (see serving.data_path): the compiled twin of this module,
# ``_exchange_c``, calls the compiled hot path directly in C; this one calls the pure one.
# ``replace_prefix`` is imported by name because it is passed as a value, which a module the
# compiled build cimports cannot provide.
if __name__.endswith("_c"):
    from gateway_proxy import _hotpath_c as impl
    from gateway_proxy._hotpath_c import replace_prefix
else:
    from gateway_proxy import _hotpath_py as impl
    from gateway_proxy._hotpath_py import replace_prefix

_random = random.random
_clock = time.perf_counter
_wallclock = time.time  # session tokens carry wall-clock seconds: they outlive the process
_CHUNKED = b"transfer-encoding: chunked\r\n"
_NO_BODY_STATUS = (204, 304)


def prepare(request, parser) -> None:
    """Fill a request from its parsed head; a request that cannot be served gets ``error``.

    The head's rules beyond llhttp's (version, target form, Host, HTTP/1.0 framing) are
    :mod:`gateway_proxy.request_rules`', the ones the C data plane's parser applies."""
    method = parser.get_method().decode("latin-1")
    version = parser.get_http_version()
    request.method = method
    headers = impl.index_headers(request.raw_headers)
    request.headers = headers
    request.keep_alive = request_rules.keep_alive(version, parser.should_keep_alive(), headers.get("connection"))
    target = request.target
    request.error = request_rules.head_status(method, target, version, request.host_fields,
                                              "transfer-encoding" in headers)
    if target[:1] == b"/":
        question = target.find(b"?")
        raw_path = target if question < 0 else target[:question]
        query = b"" if question < 0 else target[question + 1:]
        hash_at = query.find(b"#") if query else raw_path.find(b"#")
        if hash_at >= 0:
            if query:
                query = query[:hash_at]
            else:
                raw_path = raw_path[:hash_at]
        request.path = raw_path.decode("latin-1")
        request.query = query.decode("latin-1")
    else:
        parts = None if request.error else request_rules.split_absolute(target)
        if parts is None:
            request.path, request.query = "/", ""
        else:
            request.path = parts[2].decode("latin-1")
            request.query = parts[3].decode("latin-1")
            # RFC 9112 3.2.2: an absolute-form target's authority replaces Host's value.
            headers["host"] = parts[1].decode("latin-1")
    request.host = impl.normalize_host(headers.get("host", ""))
    request.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    length = headers.get("content-length")
    request.has_body = request.chunked or bool(length and length != "0")
    # llhttp's rule (Connection: upgrade and an Upgrade field); tunnelled for a GET without body
    # only, as WebSocket asks (RFC 6455 4.1). Such a connection ends with its answer or its tunnel.
    offered = headers.get("upgrade")
    if offered and method == "GET" and not request.has_body and parser.should_upgrade():
        request.upgrade = offered
        request.keep_alive = False
    else:
        request.upgrade = ""


class Exchange:
    """Sink for both directions of one proxied request; ``done`` once answered or abandoned."""

    __slots__ = ("conn", "request", "rule", "backend", "match", "started", "upstream", "out_chunked", "head_sent",
                 "held", "status", "mirrors", "keep_alive", "timer", "connecting", "done", "head", "endpoint",
                 "retried", "affinity", "attempts", "replay", "replayed", "attempt_timer", "head_parts")

    def __init__(self, conn, request, rule, backend, match, started):
        self.conn = conn
        self.request = request
        self.rule = rule
        self.backend = backend
        self.match = match
        self.started = started
        self.upstream = None
        self.out_chunked = False
        self.head_sent = False
        self.held = None
        self.status = 0
        self.mirrors = ()
        self.keep_alive = request.keep_alive
        self.timer = None
        self.connecting = None
        self.done = False
        self.head = b""
        self.endpoint = None
        self.retried = False
        self.affinity = None  # the request's session (sessions.Affinity) on a sessionPersistence rule
        self.attempts = 1  # attempts made, the first included (rules[].retry)
        self.replay = None  # the request body sent so far, kept for a retry; None when it cannot be resent
        self.replayed = 0
        self.attempt_timer = None  # backendRequest timeout of one attempt, or the backoff before the next
        self.head_parts = None  # (target, host, framing): a retry to another backend rebuilds the head

    def begin(self) -> None:
        conn = self.conn
        request = self.request
        rule = self.rule
        runtime = conn.runtime
        host = request.headers.get("host", "")
        target = request.target.decode("latin-1") if request.target[:1] == b"/" else \
            request.path + ("?" + request.query if request.query else "")
        if rule.rewrite is not None:
            if rule.rewrite.path is not None:
                target = filters.rewrite_target(rule.rewrite, request.path, request.query, self.match.path_value,
                                                replace_prefix)
            if rule.rewrite.hostname:
                host = rule.rewrite.hostname
        if request.upgrade:
            # Hop-by-hop, yet kept for this hop: the backend must see the offer to switch (RFC 9110 7.8).
            framing = b"connection: upgrade\r\nupgrade: " + request.upgrade.encode("latin-1") + b"\r\n"
        elif request.chunked:
            framing = _CHUNKED
        elif "content-length" in request.headers:
            framing = b"content-length: " + request.headers["content-length"].encode("latin-1") + b"\r\n"
        else:
            framing = b""
        backend = self.backend
        ops = backend.request_headers if backend.request_headers is not None else rule.request_headers
        self.held = impl.request_head(request.method, target, request.raw_headers, request.headers, host, ops,
                                      conn.peer, rule.scheme, framing)
        if rule.mirrors and not request.upgrade:  # a mirror cannot join a tunnel: upgrades are not copied
            mirrors = []
            for mirror_to in rule.mirrors:
                # A mirror backend's weight is the share of requests it copies, out of EVERY.
                if mirror_to.count and (mirror_to.weight >= _EVERY or _random() * _EVERY < mirror_to.weight):
                    mirrors.append(Mirror.start(runtime.loop, mirror_to.next_endpoint(), self.held, request.chunked,
                                                mirror_to.metrics))
            self.mirrors = tuple(mirrors)
            if not request.has_body:
                for mirror in self.mirrors:
                    mirror.request_end()
        # request and backendRequest both end in 504; with one attempt per request the nearer wins.
        # With retries the request timeout covers every attempt and backendRequest each one (_attempt).
        timeout = rule.request_timeout
        if rule.retry is not None:
            self.replay = []
            self.head_parts = (target, host, framing)
        elif rule.backend_timeout and (not timeout or rule.backend_timeout < timeout):
            timeout = rule.backend_timeout
        if timeout:
            self.timer = runtime.loop.call_later(timeout, self.fail, 504)
        self._attempt()

    def _attempt(self) -> None:
        """Send the request to an endpoint of ``self.backend``, over a pooled connection if one is idle."""
        runtime = self.conn.runtime
        rule = self.rule
        if rule.retry is not None and rule.backend_timeout:
            self.attempt_timer = runtime.loop.call_later(rule.backend_timeout, self._attempt_expired)
        self.endpoint = self.backend.next_endpoint()
        upstream = runtime.pool.take(self.endpoint)
        if upstream is not None:
            self.attach(upstream)
        else:
            self._connect()

    def _attempt_expired(self) -> None:
        self.attempt_timer = None
        if not self._retry(504):
            self.fail(504)

    def _retry(self, status: int) -> bool:
        """Schedule the next attempt if the rule retries and the request can be sent again; the
        attempt that failed with ``status`` is counted for its backend. False: answer as usual."""
        policy = self.rule.retry
        if policy is None or self.done or self.head_sent or self.replay is None or \
                not retries.may_retry(policy, self.attempts):
            return False
        self.backend.metrics.observe(status, _clock() - self.started)
        if self.attempt_timer is not None:
            self.attempt_timer.cancel()
        if self.connecting is not None:
            self.connecting.cancel()
            self.connecting = None
        upstream, self.upstream = self.upstream, None
        if upstream is not None:
            upstream.close()  # what is left of a retried response is not wanted
        request = self.request
        request.writer = None  # body arriving meanwhile waits in request.buffer
        if self.held is None:
            self.held = self.head  # it was sent: the next attempt sends it again
        if not request.complete:
            for mirror in self.mirrors:
                mirror.drop()  # a copy that would miss the rest of the body; not counted (see mirroring)
        self.mirrors = ()
        delay = retries.backoff(policy, self.attempts, _random())
        self.attempts += 1
        self.attempt_timer = self.conn.runtime.loop.call_later(delay, self._next_attempt)
        return True

    def _next_attempt(self) -> None:
        """The backoff is over: pick a backend of the rule by weight again and resend."""
        self.attempt_timer = None
        if self.done:
            return
        rule = self.rule
        request = self.request
        backend = impl.pick_backend(rule, _random())
        if backend is None or backend.status:
            if backend is not None:
                self.backend = backend
            self.fail(500 if backend is None else backend.status)
            return
        previous, self.backend = self.backend, backend
        if backend is not previous and backend.request_headers is not previous.request_headers:
            target, host, framing = self.head_parts
            ops = backend.request_headers if backend.request_headers is not None else rule.request_headers
            self.held = impl.request_head(request.method, target, request.raw_headers, request.headers, host, ops,
                                          self.conn.peer, rule.scheme, framing)
        # Resend what the last attempt sent, then what arrived since.
        request.buffer = self.replay + request.buffer
        self.replay = []
        self.replayed = 0
        self.started = _clock()
        self._attempt()

    def _connect(self) -> None:
        runtime = self.conn.runtime
        self.connecting = runtime.loop.create_task(runtime.pool.connect(self.endpoint))
        self.connecting.add_done_callback(self._connected)

    def _connected(self, task) -> None:
        self.connecting = None
        if task.cancelled():
            return
        error = task.exception()
        if self.done:
            if error is None:
                task.result().close()
            return
        if error is not None:
            if not self._retry(502):  # the request never left: safe to retry whatever its method
                self.fail(502)
            return
        self.attach(task.result())

    def attach(self, upstream) -> None:
        request = self.request
        self.upstream = upstream
        upstream.start(self, request.method == "HEAD")
        head, self.held = self.held, None
        self.head = head
        if request.has_body:
            upstream.transport.write(head)
            for chunk in request.buffer:
                self.request_body(chunk)
            request.buffer = []
            if request.complete:
                self.request_end()
            else:
                request.writer = self
                self.conn.resume_reading(PAUSE_BODY)
        else:
            upstream.transport.write(head)
            upstream.request_done = True
        if self.conn.write_paused:
            upstream.transport.pause_reading()

    # request body, client -> backend (and mirrors)
    def request_body(self, chunk: bytes) -> None:
        replay = self.replay
        if replay is not None:
            self.replayed += len(chunk)
            if self.replayed > retries.REPLAY_LIMIT:
                self.replay = None  # too long to keep: this request is no longer resent
            else:
                replay.append(chunk)
        if self.request.chunked:
            if chunk:
                self.upstream.transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        else:
            self.upstream.transport.write(chunk)
        for mirror in self.mirrors:
            mirror.request_body(chunk)

    def request_end(self) -> None:
        if self.request.chunked:
            self.upstream.transport.write(b"0\r\n\r\n")
        self.upstream.request_done = True
        for mirror in self.mirrors:
            mirror.request_end()

    def upstream_paused(self) -> None:
        self.conn.pause_reading(PAUSE_BODY)

    def upstream_resumed(self) -> None:
        self.conn.resume_reading(PAUSE_BODY)

    # response, backend -> client
    def response_head(self, status: int, reason: bytes, raw: list) -> None:
        policy = self.rule.retry
        if policy is not None and retries.retried_status(policy, status) and self._retry(status):
            return
        headers = impl.index_headers(raw)
        if status == 101:
            # The backend switched (the backend side checked that the request offered it). The head
            # keeps the switch's own fields and leaves in ``switched``, nothing is sent before.
            self.status = status
            ops = self.backend.response_headers
            if ops is None:
                ops = self.rule.response_headers
            framing = b"connection: upgrade\r\nupgrade: " + headers.get("upgrade", "").encode("latin-1") + b"\r\n"
            self.held = impl.response_head(status, reason or b"Switching Protocols", raw, headers, ops, framing, True)
            return
        request = self.request
        length = headers.get("content-length")
        if request.method == "HEAD" or status in _NO_BODY_STATUS:
            framing = b"content-length: " + length.encode("latin-1") + b"\r\n" if length and status != 204 else b""
        elif length is not None and "chunked" not in headers.get("transfer-encoding", "").lower():
            framing = b"content-length: " + length.encode("latin-1") + b"\r\n"
        elif self.conn.parser.get_http_version() == "1.1":
            framing = _CHUNKED
            self.out_chunked = True
        else:
            framing = b""
            self.keep_alive = False  # an HTTP/1.0 client reads this body until close
        rule = self.rule
        if rule.cors is not None:
            origin = request.headers.get("origin")
            if origin is not None:
                raw, added = cors.response_fields(rule.cors, origin, raw)
                framing = added + framing
        if rule.session is not None:
            framing = sessions.response_field(rule.session, self.affinity, rule.backends.index(self.backend),
                                              _wallclock(), sessions.cookie_path(
                                                  self.match.path_kind == impl.PATH_REGEX,
                                                  self.match.path_value)) + framing
        self.status = status
        self.head_sent = True
        ops = self.backend.response_headers
        if ops is None:
            ops = self.rule.response_headers
        self.held = impl.response_head(status, reason or b"OK", raw, headers, ops, framing, self.keep_alive)

    def response_body(self, chunk: bytes) -> None:
        if self.out_chunked:
            chunk = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        held = self.held
        if held is not None:
            self.held = None
            chunk = held + chunk
        conn = self.conn
        if not conn.closing:
            conn.transport.write(chunk)

    def response_end(self) -> None:
        tail = b"0\r\n\r\n" if self.out_chunked else b""
        held = self.held
        if held is not None:
            self.held = None
            tail = held + tail
        if tail:
            self.conn.write(tail)

    def upstream_done(self, ok: bool) -> None:
        """The backend's response ended; ``ok`` is False when it was cut short."""
        if self.done:
            return
        if not ok:
            if not self.head_sent:
                self.fail(502)
                return
            self.keep_alive = False
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
        if self.attempt_timer is not None:
            self.attempt_timer.cancel()
        self.request.writer = None
        upstream, self.upstream = self.upstream, None
        if upstream is not None:
            if self.request.upgrade:
                upstream.close()  # it carried an offer to switch protocols: never pooled
            else:
                upstream.release()
        self.conn.finished(self.request, self.keep_alive)
        self.backend.metrics.observe(self.status, _clock() - self.started)

    def switched(self, rest: bytes) -> None:
        """The backend answered 101 and ``rest`` followed its head: relay the 101, then both
        connections belong to a tunnel, which counts this request when it ends."""
        if self.done:
            return
        self.done = True
        if self.timer is not None:  # the request's timeouts end with its answer, which the 101 is
            self.timer.cancel()
            self.timer = None
        if self.attempt_timer is not None:
            self.attempt_timer.cancel()
            self.attempt_timer = None
        conn = self.conn
        request = self.request
        request.writer = None
        upstream, self.upstream = self.upstream, None
        upstream.sink = None
        upstream.closed = True  # its transport is the tunnel's now
        head, self.held = self.held, None
        self.head_sent = True
        conn.write(head)
        early = b"".join(request.buffer)
        request.buffer = []
        runtime = conn.runtime
        joined = tunnel.Tunnel(runtime.loop, conn.transport, upstream.transport, client_write_paused=conn.write_paused,
                               idle_timeout=runtime.tunnel_idle_timeout, metrics=self.backend.metrics,
                               started=self.started)
        conn.tunnelled()
        joined.start(early, rest)

    def upstream_failed(self, error: Exception) -> None:
        """No response head came. A pooled connection the backend closed while idle is the usual
        cause; a request without body is sent once more on a fresh connection, anything else is 502."""
        upstream = self.upstream
        if (not self.retried and upstream is not None and upstream.reused and not self.request.has_body
                and not self.done):
            self.retried = True
            self.upstream = None
            self.held = self.head
            self._connect()
            return
        self.fail(502)

    def client_paused(self) -> None:
        if self.upstream is not None and not self.upstream.closed:
            self.upstream.transport.pause_reading()

    def client_resumed(self) -> None:
        if self.upstream is not None and not self.upstream.closed:
            self.upstream.transport.resume_reading()

    def fail(self, status: int) -> None:
        """502 or 504 when nothing was sent yet; otherwise closing is the only honest signal left."""
        if self.done:
            return
        self.abort()
        conn = self.conn
        if self.head_sent:
            conn.close()
        else:
            self.status = status
            conn.write(simple_response(status, self.request.keep_alive))
            conn.finished(self.request, self.request.keep_alive)
        self.backend.metrics.observe(status, _clock() - self.started)

    def abort(self) -> None:
        """Stop everything this exchange holds: timer, connect attempt, backend connection."""
        self.done = True
        self.held = None
        self.request.writer = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.attempt_timer is not None:
            self.attempt_timer.cancel()
            self.attempt_timer = None
        if self.connecting is not None:
            self.connecting.cancel()
            self.connecting = None
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None


def handle(conn, request) -> None:
    """Serve one request; ends with ``conn.finished`` or a closed connection, now or from callbacks."""
    runtime = conn.runtime
    started = _clock()
    if request.error:
        conn.write(simple_response(request.error, False))
        conn.finished(request, False)
        return
    compiled = runtime.compiled
    if compiled is None:
        conn.write(simple_response(503, request.keep_alive))
        conn.finished(request, request.keep_alive)
        return
    table = compiled.tls_table if conn.tls else compiled.table
    match = impl.route(table, request.host, request.method, request.path, request.query, request.headers)
    if match is None:
        conn.write(simple_response(404, request.keep_alive))
        conn.finished(request, request.keep_alive)
        runtime.metrics.unrouted.observe(404, _clock() - started)
        return
    rule = match.rule
    if rule.cors is not None and cors.is_preflight(request.method, request.headers):
        # Answered here, never forwarded (the CORS filter's preflight).
        status, response = cors.preflight_response(rule.cors, request.headers, request.keep_alive)
        conn.write(response)
        conn.finished(request, request.keep_alive)
        rule.metrics.observe(status, _clock() - started)
        return
    if rule.redirect is not None:
        where = filters.location(rule.redirect, rule.scheme, rule.listener_port, request.host, request.path,
                                 request.query, match.path_value, replace_prefix)
        conn.write(simple_response(rule.redirect.status, request.keep_alive,
                                   b"location: " + where.encode("latin-1") + b"\r\n"))
        conn.finished(request, request.keep_alive)
        rule.metrics.observe(rule.redirect.status, _clock() - started)
        return
    affinity = None
    if rule.session is not None:
        affinity = sessions.resume(rule.session, rule.backends, request.headers, _wallclock())
    backend = impl.pick_backend(rule, _random()) if affinity is None else rule.backends[affinity.index]
    if backend is None or backend.status:
        status = 500 if backend is None else backend.status
        conn.write(simple_response(status, request.keep_alive))
        conn.finished(request, request.keep_alive)
        (rule.metrics if backend is None else backend.metrics).observe(status, _clock() - started)
        return
    exchange = Exchange(conn, request, rule, backend, match, started)
    exchange.affinity = affinity
    conn.running = exchange  # before begin: the connection must be able to abort it from here on
    exchange.begin()
