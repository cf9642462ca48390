"""One request through the C event loop: the client side and the backend side of an exchange.

Why it exists: this is the asyncio path's ``downstream.ClientProtocol``, ``exchange.Exchange`` and
``upstream.UpstreamProtocol`` as C state machines over the structs of loop_types.pxd, so that a
request costs system calls and no Python object. Each function names the reference method whose
behaviour it keeps; where the wire could differ (which status, which head, when to close) the
reference decides. loop.pyx owns the epoll loop and calls in here per event.

A client connection is in one phase at a time: C_HEAD (reading a request head), C_EXCHANGE (one
request in flight: its body forwarded to the backend as it arrives, the response streamed back),
C_TUNNEL (the backend agreed to an upgrade the request offered, a WebSocket say: bytes both ways,
loop_tunnel.pxi) and C_CLOSING (flushing, then closing). A request a RequestMirror copies also
goes, head and body, to one connection per copy (loop_mirror.pxi) that nothing here waits on; a
CORS preflight is answered here from the rule's compiled policy, and the filter's fields join
the response head (loop_cors.pyx); a rule's retry policy may end an attempt before anything
reached the client and start another after a backoff, to a backend picked by weight again
(loop_retry.pxi); a session rule's valid token picks the backend before any draw, and the
response head carries the session's cookie or header (loop_sessions.pyx). Flow control is symmetric, as on the asyncio path: a client
that reads slowly stops the backend socket being read once BACKLOG bytes wait for it, and a
backend that reads slowly stops the client socket. The backend side lives in
loop_backend.pxi, the tunnel in loop_tunnel.pxi, the copies in loop_mirror.pxi and the retries
in loop_retry.pxi, included at the end: both sides call each other at every step.
"""

from libc.errno cimport EAGAIN
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, realloc
from libc.string cimport memcpy, memset
from posix.unistd cimport close

from gateway_proxy import retries as _retries
from gateway_proxy.dataplane.http1 cimport (FLAG_CONNECTION_UPGRADE, FLAG_EXPECT_CONTINUE, FRAMING_CHUNKED,
                                            FRAMING_CLOSE, FRAMING_LENGTH, FRAMING_NONE, METHOD_GET, METHOD_HEAD,
                                            RequestHead, ResponseHead, chunked_decode,
                                            chunked_done, chunked_reset, parse_request, parse_response,
                                            request_reset, response_reset)
from gateway_proxy.dataplane.loop_cors cimport cors_preflight, cors_response_lines
from gateway_proxy.dataplane.loop_heads cimport (Out, out_compact, out_field, out_free, out_location, out_put,
                                                 out_put_hex_line, out_request_head, out_response_head, out_simple,
                                                 out_switch_head, response_framed)
from gateway_proxy.dataplane.loop_io cimport (EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP, epoll_add,
                                              epoll_rearm, sock_connect, sock_recv, sock_send, sock_shut_write)
from gateway_proxy.dataplane.loop_support cimport (defer_free, give_request_head, give_response_head, now, observe,
                                                   wall_clock,
                                                   pool_forget, pool_put, pool_take, rs_load_int, rs_store_int,
                                                   take_request_head,
                                                   take_response_head, timer_clear, timer_set)
from gateway_proxy.dataplane.loop_types cimport (C_CLOSING, C_EXCHANGE, C_HEAD, C_TUNNEL, KIND_MIRROR, KIND_UPSTREAM,
                                                 U_ACTIVE, U_CONNECTING, U_IDLE, Affinity, Client, LoopState, Mirror,
                                                 Plan, Upstream)
from gateway_proxy.dataplane.spans cimport Span
from gateway_proxy.dataplane.table cimport (RETRY_CODE_BYTES, RETRY_LOWEST_CODE, STATUS_PREFLIGHT, CEndpoint, CRule,
                                            CTable, Decision, PinBackend, RouteRequest, RouteTable, next_endpoint,
                                            pick_backend, rng_random, route_decide)

cdef enum:
    INB_FIRST = 16 * 1024
    INB_MAX = 64 * 1024 + 4096     # a whole head (downstream.MAX_HEAD) and then some
    BACKLOG = 256 * 1024           # bytes owed to one side above which the other is not read
    STEPS = 4096                   # bound of every state-machine loop
    MAX_SPANS = 32

cdef const char *_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
cdef const char *_LAST_CHUNK = b"0\r\n\r\n"


cdef inline uint32_t _pending(const Out *o) noexcept nogil:
    return o.end - o.start


cdef inline bint _read_all(int64_t got, uint32_t asked, uint8_t hangup) noexcept nogil:
    """Whether a read of ``got`` bytes, ``asked`` for, left the stream socket empty, so that the
    next bytes to arrive are a new epoll edge and no read has to find EAGAIN first: epoll(7), for
    stream sockets, counts a read shorter than asked as exhausting them; nginx's ``ngx_unix_recv``
    saves the same read. Not once epoll reported a shutdown or an error (``hangup``, nginx's
    ``pending_eof``): the end of stream may then be queued behind those bytes, with no edge to
    come, and only a read returning 0 finds it."""
    return got < asked and not hangup


cdef bint _inb_room(Out *o) noexcept nogil:
    """Make room to receive into ``o``; False when it is full at INB_MAX."""
    cdef uint32_t cap
    cdef char *grown
    if o.cap - o.end >= 2048:
        return True
    out_compact(o)
    if o.cap - o.end >= 2048 or (o.cap >= INB_MAX and o.end < o.cap):
        return True
    if o.cap >= INB_MAX:
        return False
    cap = INB_FIRST if o.cap == 0 else (o.cap * 2 if o.cap * 2 < INB_MAX else INB_MAX)
    grown = <char *>realloc(o.data, cap)
    if grown == NULL:
        return False
    o.data = grown
    o.cap = cap
    return True


cdef void _release_plan(LoopState *L, Client *c) noexcept nogil:
    cdef Plan *p = c.plan
    if p == NULL:
        return
    c.plan = NULL
    p.inflight -= 1
    if p != L.current and p.inflight == 0:
        rs_store_int(&p.retired, 1)


# ---- closing and writing ----

cdef void upstream_close(LoopState *L, Upstream *u) noexcept nogil:
    if u.closed:
        return
    u.closed = 1
    pool_forget(L, u)
    close(u.fd)
    out_free(&u.inb)
    out_free(&u.out)
    give_response_head(L, u.head)
    u.head = NULL
    if u.client != NULL and u.client.up == u:
        u.client.up = NULL
    u.client = NULL
    defer_free(L, u)


cdef void client_close(LoopState *L, Client *c) noexcept nogil:
    """ClientProtocol.connection_lost: abort what runs, forget the connection."""
    if c.closed:
        return
    c.closed = 1
    timer_clear(L, c)
    if c.phase == C_TUNNEL:
        observe(c.block, 101, now() - c.started)  # Tunnel.close: counted once, when it ends
    if c.up != NULL:
        upstream_close(L, c.up)
    if c.mirrors != NULL:
        _mirrors_release(L, c, False)
    _release_plan(L, c)
    close(c.fd)
    out_free(&c.inb)
    out_free(&c.out)
    out_free(&c.held)
    out_free(&c.retry)
    out_free(&c.origin)
    out_free(&c.replay)
    give_request_head(L, c.head)
    c.head = NULL
    if c.prev != NULL:
        c.prev.next = c.next
    else:
        L.clients = c.next
    if c.next != NULL:
        c.next.prev = c.prev
    defer_free(L, c)


cdef void client_flush(LoopState *L, Client *c) noexcept nogil:
    cdef int64_t n
    cdef uint32_t step
    for step in range(STEPS):
        if c.closed or _pending(&c.out) == 0:
            break
        n = sock_send(c.fd, c.out.data + c.out.start, _pending(&c.out))
        if n > 0:
            c.out.start += <uint32_t>n
        elif n == -EAGAIN:
            return
        else:
            client_close(L, c)
            return
    if c.closed:
        return
    if _pending(&c.out):
        epoll_rearm(L.ep, c.fd, c)  # stopped at the step bound, not at EAGAIN
        return
    c.out.start = c.out.end = 0
    if c.phase == C_CLOSING:
        client_close(L, c)


cdef void _answer(LoopState *L, Client *c, int status, bint keep_alive, const char *extra, uint32_t n) noexcept nogil:
    """The proxy's own answer to the current request (wire.simple_response)."""
    if not out_simple(&c.out, status, keep_alive, extra, n):
        client_close(L, c)
        return
    c.status = <uint16_t>status
    c.responded = 1
    if not keep_alive:
        c.keep_alive = 0
    client_flush(L, c)


cdef void _reject(LoopState *L, Client *c, int status) noexcept nogil:
    """ClientProtocol.reject: answer, then close; nothing after a framing error can be trusted.
    A request still unanswered is abandoned (its backend connection dropped), as eof_received does."""
    if c.closed:
        return
    if c.phase == C_EXCHANGE and not c.responded:
        if c.up != NULL:
            upstream_close(L, c.up)
        _release_plan(L, c)
        if c.head_sent:
            client_close(L, c)
            return
    c.phase = C_CLOSING
    out_free(&c.held)
    if not timer_set(L, c, now() + L.header_timeout) or not out_simple(&c.out, status, False, NULL, 0):
        client_close(L, c)
        return
    client_flush(L, c)


# ---- the exchange: client -> backend ----

cdef void _fail(LoopState *L, Client *c, int status) noexcept nogil:
    """Exchange.fail: 502 or 504 if nothing was sent yet, else closing is the only signal left."""
    if c.closed or c.phase != C_EXCHANGE or c.responded:
        return
    timer_clear(L, c)
    c.waiting = 0
    if c.up != NULL:
        upstream_close(L, c.up)
    out_free(&c.held)
    observe(c.block, status, now() - c.started)
    _release_plan(L, c)
    if c.head_sent:
        client_close(L, c)
        return
    _answer(L, c, status, c.request_keep_alive, NULL, 0)


cdef void _attach(LoopState *L, Client *c, Upstream *u) noexcept nogil:
    """Exchange.attach: the request head (and the body read so far) go to ``u``."""
    c.up = u
    u.client = c
    u.got_head = 0
    u.reusable = 0
    u.request_done = c.body_done
    u.inb.start = u.inb.end = 0
    if u.head == NULL:
        u.head = take_response_head(L)
        if u.head == NULL:
            _fail(L, c, 502)
            return
    response_reset(u.head)
    if not out_put(&u.out, c.retry.data + c.retry.start, _pending(&c.retry)):
        _fail(L, c, 502)
        return
    if c.upgrade and c.chunked and not out_put(&u.out, _LAST_CHUNK, 5):
        _fail(L, c, 502)
        return
    if c.retries and not _replay_into(c, u):
        _fail(L, c, 502)
        return
    _flush_upstream(L, u)


cdef void _connect(LoopState *L, Client *c, const uint8_t *key) noexcept nogil:
    """Pool.connect; a connection that fails at once is a 502, as create_connection's OSError."""
    cdef Upstream *u = <Upstream *>calloc(1, sizeof(Upstream))
    if u == NULL:
        _fail(L, c, 502)
        return
    u.kind = KIND_UPSTREAM
    u.pool_slot = -1
    u.phase = U_CONNECTING
    memcpy(u.key, key, 19)
    u.fd = sock_connect(key)
    if u.fd < 0 or not epoll_add(L.ep, u.fd, u, False):
        if u.fd >= 0:
            close(u.fd)
        free(u)
        _connect_failed(L, c)
        return
    _attach(L, c, u)


cdef void _endpoint_key(const CEndpoint *ep, uint8_t *key) noexcept nogil:
    """The pool key of an address endpoint: family, port (2), address (16)."""
    memset(key, 0, 19)
    key[0] = <uint8_t>ep.family
    key[1] = ep.port >> 8
    key[2] = ep.port & 255
    memcpy(key + 3, ep.addr, 16)


cdef void _forward(LoopState *L, Client *c, Plan *p, const Decision *d, const char *base) noexcept nogil:
    """Exchange.begin: the backend's request head, the copies for mirrors, the 504 timer, a
    pooled or new connection."""
    cdef CTable *t = p.table
    cdef const CRule *rule = &t.rules[d.rule]
    cdef uint8_t key[19]
    cdef double timeout = rule.request_timeout
    cdef uint32_t i
    cdef Upstream *u
    c.plan = p
    p.inflight += 1
    c.block = p.backend_blocks[d.backend]
    c.backend = d.backend
    c.retry.start = c.retry.end = 0
    if not out_request_head(&c.retry, base, c.head, t, d, c.peer, c.peer_len, c.tunnel):
        client_close(L, c)
        return
    # request and backendRequest both end in 504; with one attempt per request the nearer wins.
    # With retries the request timeout covers every attempt and backendRequest each one.
    c.retries = rule.retry_attempts > 0
    if c.retries:
        c.attempt_deadline = c.started + rule.backend_timeout if rule.backend_timeout else 0
    elif rule.backend_timeout and (not timeout or rule.backend_timeout < timeout):
        timeout = rule.backend_timeout
    c.request_deadline = c.started + timeout if timeout else 0
    if not _arm(L, c):
        client_close(L, c)
        return
    if not c.tunnel:  # a mirror cannot join a tunnel: upgrades are not copied (exchange.begin)
        for i in range(d.mirror_count):
            if d.mirror_endpoints[i] >= 0:
                _mirror_open(L, c, p, d.mirror_endpoints[i])
    _endpoint_key(&t.endpoints[d.endpoint], key)
    u = pool_take(L, key)
    if u != NULL:
        u.reused = 1
        u.phase = U_ACTIVE
        _attach(L, c, u)
    else:
        _connect(L, c, key)


cdef int _redirect(LoopState *L, Client *c, Plan *p, const Decision *d, const char *base) noexcept nogil:
    """exchange.handle's RequestRedirect answer, the Location from filters.location, built from the
    rule's CRedirect and the request's spans without the GIL (loop_heads.out_location); -1 when it
    could not be built (the caller answers 500 and closes, as ClientProtocol._start does)."""
    cdef Out line
    cdef int outcome = -1
    memset(&line, 0, sizeof(Out))
    if out_location(&line, base, c.head, p.table, d) and out_simple(&c.out, d.status, c.keep_alive, line.data,
                                                                      line.end):
        outcome = 0
    out_free(&line)
    return outcome


cdef bint _keep_origin(Client *c, const char *base) noexcept nogil:
    """Exchange.response_head reads the request's Origin for a CORS rule: kept until then."""
    cdef bint found
    c.origin.start = c.origin.end = 0
    if not out_field(&c.origin, base, c.head.headers, c.head.header_count, b"origin", 6, &found):
        return False
    c.cors = found
    return True


cdef void _preflight(LoopState *L, Client *c, Plan *p, const Decision *d, const char *base) noexcept nogil:
    """exchange.handle's CORS preflight: answered from the rule's policy, never forwarded."""
    cdef CTable *t = p.table
    cdef Out scratch
    cdef int status
    memset(&scratch, 0, sizeof(Out))
    status = cors_preflight(&c.out, &scratch, base, c.head.headers, c.head.header_count, t,
                            &t.cors[t.rules[d.rule].cors], c.keep_alive)
    out_free(&scratch)
    if status < 0:
        client_close(L, c)
        return
    c.status = <uint16_t>status
    c.responded = 1
    observe(p.rule_blocks[d.rule], status, now() - c.started)
    client_flush(L, c)


cdef struct _Pinning:
    LoopState *L
    Client *c


cdef int32_t _pin(void *context, const CTable *t, int32_t rule, const RouteRequest *request) noexcept nogil:
    """exchange.handle's sessions.resume: the backend of the request's valid session, or -1."""
    cdef Client *c = (<_Pinning *>context).c
    (<_Pinning *>context).L.sessions.resume(t, rule, request, wall_clock(), &c.affinity)
    return <int32_t>t.rules[rule].backend_first + c.affinity.index if c.affinity.index >= 0 else -1


cdef void _start(LoopState *L, Client *c, uint32_t head_len) noexcept nogil:
    """ClientProtocol.on_headers_complete then exchange.handle: answer or forward one request."""
    cdef RequestHead *h = c.head
    cdef const char *base = c.inb.data + c.inb.start
    cdef RouteRequest request
    cdef Decision d
    cdef _Pinning pinning
    cdef PinBackend pin
    cdef Plan *p = L.current
    cdef uint64_t buffered = _pending(&c.inb) - head_len
    L.requests += 1
    c.started = now()
    c.phase = C_EXCHANGE
    c.responded = c.head_sent = c.out_chunked = c.retried = c.cors = 0
    c.retries = c.waiting = c.replay_lost = c.session = 0
    c.affinity.index = -1
    c.match = -1
    c.attempts = 1
    c.replayed = 0
    c.request_deadline = c.attempt_deadline = 0
    c.status = 0
    c.block = NULL
    c.backend = -1
    c.upgrade = h.upgrade
    c.keep_alive = h.keep_alive and not c.last
    c.head_request = h.method_id == METHOD_HEAD
    c.client_11 = h.version_minor == 1
    c.chunked = h.framing == FRAMING_CHUNKED
    c.body_left = h.content_length if h.framing == FRAMING_LENGTH else 0
    c.has_body = c.chunked or c.body_left > 0
    # exchange.prepare: a GET without body may be tunnelled, and its connection ends with its
    # answer or with its tunnel.
    c.tunnel = c.upgrade and h.method_id == METHOD_GET and not c.has_body
    if c.tunnel:
        c.keep_alive = 0
    if c.chunked:
        chunked_reset(&c.chunks, 400)
    # Nothing after an upgrade request's head is read as HTTP (llhttp stops there): for a tunnel
    # offer it is held for the tunnel, any other upgrade request is answered as plain HTTP.
    c.body_done = c.upgrade or (not c.chunked and c.body_left == 0)
    if c.eof and not c.chunked and buffered == c.body_left:
        c.keep_alive = 0  # eof_received: the last request read before the client half-closed
    c.request_keep_alive = c.keep_alive
    if c.has_body and h.flags & FLAG_EXPECT_CONTINUE:
        # ClientProtocol.on_headers_complete answers the expectation itself, at once.
        if not out_put(&c.out, _CONTINUE, 25):
            client_close(L, c)
            return
        client_flush(L, c)
        if c.closed:
            return
    if p == NULL:
        _answer(L, c, 503, c.keep_alive, NULL, 0)
    else:
        request.base = base
        request.method = h.method
        request.path = h.path
        request.query = h.query
        request.host = h.host
        request.headers = h.headers
        request.header_count = h.header_count
        request.tls = False
        pinning.L = L
        pinning.c = c
        pin = _pin if L.sessions != NULL else <PinBackend>NULL
        route_decide(p.table, &request, &L.rng, &d, pin, &pinning)
        if d.status == 0:
            c.match = d.match
            c.session = p.table.rules[d.rule].session >= 0
            if p.table.rules[d.rule].cors >= 0 and not _keep_origin(c, base):
                client_close(L, c)
                return
            _forward(L, c, p, &d, base)
        elif d.status == STATUS_PREFLIGHT:
            _preflight(L, c, p, &d, base)
        elif d.status == 404:
            _answer(L, c, 404, c.keep_alive, NULL, 0)
            observe(L.unrouted, 404, now() - c.started)
        elif 300 <= d.status < 400:
            if _redirect(L, c, p, &d, base) < 0:
                _reject(L, c, 500)
            else:
                c.responded = 1
                observe(p.rule_blocks[d.rule], d.status, now() - c.started)
                client_flush(L, c)
        else:
            _answer(L, c, d.status, c.keep_alive, NULL, 0)
            observe(p.rule_blocks[d.rule] if d.backend < 0 else p.backend_blocks[d.backend], d.status,
                    now() - c.started)
    if not c.closed:
        c.inb.start += head_len
    give_request_head(L, c.head)
    c.head = NULL


cdef void _request_end(LoopState *L, Client *c) noexcept nogil:
    """Exchange.request_end: the last chunk, and the connection may be reused after the response."""
    if c.up == NULL or c.responded:
        return
    if c.chunked and not out_put(&c.up.out, _LAST_CHUNK, 5):
        _fail(L, c, 502)
        return
    c.up.request_done = 1


cdef bint _body(LoopState *L, Client *c) noexcept nogil:
    """ClientProtocol.on_body: request body bytes to the backend, or dropped once answered. True
    when bytes were consumed."""
    cdef Span spans[MAX_SPANS]
    cdef uint32_t count = 0, i, n
    cdef int64_t offset
    cdef bint forward = c.up != NULL and not c.responded
    if _body_held(c):
        return False  # kept in the receive buffer until an attempt has a connection (loop_retry.pxi)
    if forward and _pending(&c.up.out) >= BACKLOG:
        return False  # the backend reads slowly: leave the rest in the receive buffer
    if not c.chunked:
        n = _pending(&c.inb)
        if n > c.body_left:
            n = <uint32_t>c.body_left
        if n == 0:
            return False
        if forward and not (out_put(&c.up.out, c.inb.data + c.inb.start, n)
                            and (not c.retries or _replay_keep(c, c.inb.data + c.inb.start, n))):
            _fail(L, c, 502)
            return False
        if c.mirrors != NULL:
            _mirrors_copy(L, c, c.inb.data + c.inb.start, n)
        c.inb.start += n
        c.body_left -= n
        if c.body_left == 0:
            c.body_done = 1
            _request_end(L, c)
    else:
        offset = chunked_decode(&c.chunks, c.inb.data, c.inb.start, c.inb.end, spans, MAX_SPANS, &count)
        if offset < 0:
            _reject(L, c, <int>-offset)
            return False
        for i in range(count):
            if forward and spans[i].len and not (
                    out_put_hex_line(&c.up.out, spans[i].len) and out_put(&c.up.out, c.inb.data + spans[i].off, spans[i].len)
                    and out_put(&c.up.out, "\r\n", 2)
                    and (not c.retries or _replay_keep(c, c.inb.data + spans[i].off, spans[i].len))):
                _fail(L, c, 502)
                return False
            if c.mirrors != NULL and spans[i].len:
                _mirrors_copy(L, c, c.inb.data + spans[i].off, spans[i].len)
        if offset == c.inb.start and not chunked_done(&c.chunks):
            return False
        c.inb.start = <uint32_t>offset
        if chunked_done(&c.chunks):
            c.body_done = 1
            _request_end(L, c)
    if c.mirrors != NULL:
        if c.body_done:
            _mirrors_release(L, c, True)
        else:
            _mirrors_flush(L, c)
    if c.up != NULL and not c.responded:
        _flush_upstream(L, c.up)
    return True


cdef void _next(LoopState *L, Client *c) noexcept nogil:
    """ClientProtocol._after: close, or wait for the next request with the head timer armed."""
    timer_clear(L, c)
    out_free(&c.held)
    out_free(&c.retry)
    out_free(&c.origin)
    out_free(&c.replay)
    if not c.keep_alive or c.upgrade or c.last or (c.eof and _pending(&c.inb) == 0):
        c.phase = C_CLOSING
        if not timer_set(L, c, now() + L.header_timeout):
            client_close(L, c)
            return
        client_flush(L, c)
        return
    c.phase = C_HEAD
    if _pending(&c.inb) == 0:
        out_free(&c.inb)  # an idle keep-alive connection holds no buffer
    if _pending(&c.out) == 0:
        out_free(&c.out)
    if not timer_set(L, c, now() + L.header_timeout):
        client_close(L, c)


cdef void client_drive(LoopState *L, Client *c) noexcept nogil:
    """Read and act until the client socket has nothing more for now (edge-triggered)."""
    cdef int step, result
    cdef int64_t n
    cdef uint32_t room
    if c.phase == C_TUNNEL:
        _tunnel_pump(L, c)
        return
    for step in range(STEPS):
        if c.closed or c.phase == C_CLOSING:
            return
        if c.phase == C_EXCHANGE:
            if not c.body_done and _pending(&c.inb) and _body(L, c):
                continue
            if c.closed or c.phase != C_EXCHANGE:
                continue
            if c.responded and c.body_done:
                _next(L, c)
                continue
            if c.eof:
                if not c.body_done and _body_held(c):
                    return  # the body read so far goes out once an attempt has a connection
                if not c.body_done:
                    # eof_received mid-body: a 400 if nothing was answered yet, else just close.
                    if c.responded or c.head_sent:
                        client_close(L, c)
                    else:
                        _reject(L, c, 400)
                return
            if not c.body_done and c.up != NULL and not c.responded and _pending(&c.up.out) >= BACKLOG:
                return
            if c.tunnel:
                return  # downstream's PAUSE_UPGRADE: the bytes after the offer wait for the switch
        else:
            if _pending(&c.out) >= BACKLOG:
                return  # answers pile up unread: parse no further request until the client reads
            if _pending(&c.inb):
                if c.head == NULL:
                    c.head = take_request_head(L)
                    if c.head == NULL:
                        client_close(L, c)
                        return
                    request_reset(c.head)
                result = parse_request(c.head, c.inb.data + c.inb.start, _pending(&c.inb), &L.limits)
                if result > 0:
                    _start(L, c, <uint32_t>result)
                    continue
                if result < 0:
                    _reject(L, c, -result)
                    return
            if c.eof:
                # A head cut short gets a 400; a connection closed between requests just closes.
                if _pending(&c.inb):
                    _reject(L, c, 400)
                else:
                    client_close(L, c)
                return
        if not c.readable or not _inb_room(&c.inb):
            return
        room = c.inb.cap - c.inb.end
        n = sock_recv(c.fd, c.inb.data + c.inb.end, room)
        if n > 0:
            c.inb.end += <uint32_t>n
            if _read_all(n, room, c.hangup):
                c.readable = 0  # what was read is handled first; more bytes come with their own edge
        elif n == 0:
            c.eof = 1
            c.readable = 0
            if c.phase == C_EXCHANGE and c.body_done and _pending(&c.inb) == 0:
                c.request_keep_alive = 0  # eof_received: the request in flight was the last
        elif n == -EAGAIN:
            c.readable = 0
            return
        else:
            client_close(L, c)
            return
    epoll_rearm(L.ep, c.fd, c)  # stopped at the step bound, not at EAGAIN


cdef void client_timeout(LoopState *L, Client *c) noexcept nogil:
    """ClientProtocol._head_timeout (408 for a head started, else close) and the exchange's 504."""
    if c.closed:
        return
    if c.phase == C_HEAD:
        if _pending(&c.inb):
            _reject(L, c, 408)
        else:
            client_close(L, c)
    elif c.phase == C_EXCHANGE:
        if c.attempt_deadline and (not c.request_deadline or c.attempt_deadline < c.request_deadline):
            _attempt_expired(L, c)
        else:
            _fail(L, c, 504)
        if not c.closed:
            client_drive(L, c)
    elif c.phase == C_TUNNEL:
        _tunnel_idle(L, c)
    else:
        client_close(L, c)


include "loop_backend.pxi"
include "loop_tunnel.pxi"
include "loop_mirror.pxi"
include "loop_retry.pxi"
