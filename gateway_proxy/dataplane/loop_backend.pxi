# The backend side of an exchange (upstream.UpstreamProtocol, Exchange.response_*), textually part of
# loop_exchange.pyx: the two sides call each other at every step, which a pair of Cython modules
# cannot do without a cyclic cimport, so the seam is a file, not a module.

cdef void _upstream_done(LoopState *L, Upstream *u, bint ok) noexcept nogil:
    """Exchange.upstream_done then UpstreamProtocol.release: account, pool or close the connection."""
    cdef Client *c = u.client
    if c == NULL:
        upstream_close(L, u)
        return
    if not ok:
        if not c.head_sent:
            _fail(L, c, 502)
            return
        c.keep_alive = 0
        out_free(&c.held)  # a head held back for a body that never came is never written
    timer_clear(L, c)
    c.responded = 1
    observe(c.block, c.status, now() - c.started)
    _release_plan(L, c)
    c.up = NULL
    u.client = NULL
    # A connection that carried an offer to switch protocols is never pooled (as exchange's).
    if (ok and not c.tunnel and u.reusable and u.request_done and not u.closed and _pending(&u.inb) == 0
            and u.phase == U_ACTIVE):
        u.phase = U_IDLE
        u.reused = 0
        give_response_head(L, u.head)  # an idle connection holds no head
        u.head = NULL
        if not pool_put(L, u):
            upstream_close(L, u)
    else:
        upstream_close(L, u)


cdef void _upstream_failed(LoopState *L, Upstream *u) noexcept nogil:
    """Exchange.upstream_failed: no response head. A pooled connection the backend closed while
    idle is retried once on a fresh one for a request without body; anything else is 502."""
    cdef Client *c = u.client
    cdef bint reused = u.reused, connecting = u.phase == U_CONNECTING
    cdef uint8_t key[19]
    memcpy(key, u.key, 19)
    upstream_close(L, u)
    if c == NULL or c.closed or c.responded:
        return
    if reused and not c.retried and not c.has_body:
        c.retried = 1
        _connect(L, c, key)
        return
    if connecting:
        _connect_failed(L, c)  # the request never left
        return
    _fail(L, c, 502)  # lost after the request was sent: never retried


cdef void _send_body(LoopState *L, Client *c, const char *data, uint32_t n) noexcept nogil:
    """Exchange.response_body: the held head, then the piece (re-chunked for an HTTP/1.1 client)."""
    if c.closed:
        return
    if _pending(&c.held):
        if not out_put(&c.out, c.held.data + c.held.start, _pending(&c.held)):
            client_close(L, c)
            return
        c.held.start = c.held.end = 0
    if c.out_chunked:
        if not (out_put_hex_line(&c.out, n) and out_put(&c.out, data, n) and out_put(&c.out, "\r\n", 2)):
            client_close(L, c)
            return
    elif not out_put(&c.out, data, n):
        client_close(L, c)
        return
    client_flush(L, c)


cdef void _response_end(LoopState *L, Upstream *u, Client *c) noexcept nogil:
    """Exchange.response_end: whatever is still held, the last chunk, then upstream_done."""
    if not c.closed:
        if _pending(&c.held):
            if not out_put(&c.out, c.held.data + c.held.start, _pending(&c.held)):
                client_close(L, c)
            c.held.start = c.held.end = 0
        if not c.closed and c.out_chunked and not out_put(&c.out, _LAST_CHUNK, 5):
            client_close(L, c)
        if not c.closed:
            client_flush(L, c)
    _upstream_done(L, u, True)


cdef void _response_head(LoopState *L, Upstream *u, Client *c, uint32_t head_len) noexcept nogil:
    """UpstreamProtocol.on_headers_complete and Exchange.response_head."""
    cdef ResponseHead *h = u.head
    cdef const char *base = u.inb.data + u.inb.start
    cdef CTable *t = c.plan.table
    cdef bint keep_alive = c.keep_alive, chunked = False, built
    cdef Out cors
    cdef Out lead
    cdef const CRule *rule
    if c.retries and _retried_status(_rule_of(c), h.status) and _retry(L, c, h.status):
        return
    c.held.start = c.held.end = 0
    memset(&lead, 0, sizeof(Out))
    if c.session and L.sessions != NULL:
        # sessions.response_field, before the CORS lines: a new, re-pinned or refreshed session.
        rule = _rule_of(c)
        if not L.sessions.field(&lead, t, t.backends[c.backend].rule, &c.affinity,
                                c.backend - <int32_t>rule.backend_first, wall_clock(), t.matches[c.match].cookie_path):
            out_free(&lead)
            client_close(L, c)
            return
    if c.cors:
        # cors.response_fields: the filter's lines, and the backend's own fields it owns dropped.
        memset(&cors, 0, sizeof(Out))
        built = (cors_response_lines(&cors, t, &t.cors[t.rules[t.backends[c.backend].rule].cors], c.origin.data,
                                     c.origin.end, base, h.headers, h.header_count)
                 and out_response_head(&c.held, base, h, t, t.backends[c.backend].response_ops, c.head_request,
                                       c.client_11, &keep_alive, &chunked, &lead if lead.end else NULL, &cors))
        out_free(&cors)
    else:
        built = out_response_head(&c.held, base, h, t, t.backends[c.backend].response_ops, c.head_request,
                                  c.client_11, &keep_alive, &chunked, &lead if lead.end else NULL, NULL)
    out_free(&lead)
    if not built:
        client_close(L, c)
        return
    c.keep_alive = keep_alive
    c.out_chunked = chunked
    c.status = h.status
    c.head_sent = 1
    u.got_head = 1
    u.framing = h.framing
    u.body_left = h.content_length
    u.framed = response_framed(base, h)
    u.reusable = h.keep_alive
    if h.framing == FRAMING_CHUNKED:
        chunked_reset(&u.chunks, 502)
    u.inb.start += head_len
    if h.framing == FRAMING_NONE:
        if c.head_request:
            u.reusable = 0  # llhttp cannot be told a response answers HEAD: never reused
        _response_end(L, u, c)
    elif h.framing == FRAMING_LENGTH and u.body_left == 0:
        _response_end(L, u, c)


cdef bint _response_body(LoopState *L, Upstream *u, Client *c) noexcept nogil:
    """UpstreamProtocol.on_body and on_message_complete; True when bytes were consumed."""
    cdef Span spans[MAX_SPANS]
    cdef uint32_t count = 0, i, n = _pending(&u.inb)
    cdef int64_t offset
    if u.framing == FRAMING_LENGTH:
        if n > u.body_left:
            n = <uint32_t>u.body_left
        if n == 0:
            return False
        _send_body(L, c, u.inb.data + u.inb.start, n)
        if u.closed:
            return False
        u.inb.start += n
        u.body_left -= n
        if u.body_left == 0:
            _response_end(L, u, c)
        return True
    if u.framing == FRAMING_CHUNKED:
        offset = chunked_decode(&u.chunks, u.inb.data, u.inb.start, u.inb.end, spans, MAX_SPANS, &count)
        if offset < 0:
            _upstream_done(L, u, False)
            return False
        for i in range(count):
            if spans[i].len:
                _send_body(L, c, u.inb.data + spans[i].off, spans[i].len)
                if u.closed:
                    return False
        if offset == u.inb.start and not chunked_done(&u.chunks):
            return False
        u.inb.start = <uint32_t>offset
        if chunked_done(&u.chunks):
            _response_end(L, u, c)
        return True
    if n == 0:
        return False
    _send_body(L, c, u.inb.data + u.inb.start, n)  # FRAMING_CLOSE: until the backend closes
    if u.closed:
        return False
    u.inb.start = u.inb.end
    return True


cdef void _upstream_lost(LoopState *L, Upstream *u) noexcept nogil:
    """UpstreamProtocol.connection_lost: before a head, after a framed body cut short, or the end
    of a body delimited by the close."""
    if u.client == NULL:
        upstream_close(L, u)
    elif not u.got_head:
        _upstream_failed(L, u)
    elif u.framed:
        u.reusable = 0
        _upstream_done(L, u, False)
    else:
        u.reusable = 0
        _response_end(L, u, u.client)


cdef void _flush_upstream(LoopState *L, Upstream *u) noexcept nogil:
    cdef int64_t n
    cdef uint32_t step
    if u.closed or u.phase == U_CONNECTING:
        return
    for step in range(STEPS):
        if _pending(&u.out) == 0:
            u.out.start = u.out.end = 0
            return
        n = sock_send(u.fd, u.out.data + u.out.start, _pending(&u.out))
        if n > 0:
            u.out.start += <uint32_t>n
        elif n == -EAGAIN:
            return
        else:
            _upstream_lost(L, u)
            return
    epoll_rearm(L.ep, u.fd, u)  # stopped at the step bound, not at EAGAIN


cdef void _upstream_drive(LoopState *L, Upstream *u) noexcept nogil:
    cdef int step, result
    cdef int64_t n
    cdef uint32_t room
    cdef Client *c
    for step in range(STEPS):
        if u.closed or u.client == NULL:
            return
        c = u.client
        if _pending(&u.inb):
            if not u.got_head:
                result = parse_response(u.head, u.inb.data + u.inb.start, _pending(&u.inb), &L.limits, c.head_request)
                if result > 0 and u.head.status == 101 and c.tunnel and u.head.flags & FLAG_CONNECTION_UPGRADE:
                    _tunnel_start(L, u, c, <uint32_t>result)  # the switch the request offered
                    return
                if result < 0 or (result > 0 and u.head.status == 101):
                    _upstream_failed(L, u)  # garbage, or a protocol switch never asked for
                    return
                if result > 0:
                    if u.head.status < 200:
                        u.inb.start += <uint32_t>result  # 100 Continue, 103: consumed here
                        response_reset(u.head)
                    else:
                        _response_head(L, u, c, <uint32_t>result)
                    continue
            elif _response_body(L, u, c):
                continue
        if u.closed or u.client == NULL or c.closed or _pending(&c.out) >= BACKLOG:
            return  # a slow client: the backend is read again once it drained (loop.pyx)
        if not u.readable or not _inb_room(&u.inb):
            return
        room = u.inb.cap - u.inb.end
        n = sock_recv(u.fd, u.inb.data + u.inb.end, room)
        if n > 0:
            u.inb.end += <uint32_t>n
            if _read_all(n, room, u.hangup):
                u.readable = 0
        elif n == -EAGAIN:
            u.readable = 0
            return
        else:
            _upstream_lost(L, u)
            return
    epoll_rearm(L.ep, u.fd, u)  # stopped at the step bound, not at EAGAIN


cdef void upstream_event(LoopState *L, Upstream *u, unsigned int events) noexcept nogil:
    cdef Client *c = u.client
    if u.closed:
        return
    if c != NULL and c.phase == C_TUNNEL:
        if events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP):
            u.readable = 1
        _tunnel_pump(L, c)
        return
    if u.phase == U_CONNECTING:
        if events & (EPOLLERR | EPOLLHUP):
            _upstream_failed(L, u)
            if c != NULL and not c.closed:
                client_drive(L, c)
            return
        u.phase = U_ACTIVE
    if events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP):
        u.readable = 1
    if events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP):
        u.hangup = 1
    if u.phase == U_IDLE:
        # Closed by the backend while idle, or bytes nobody asked for; a write-space edge is not news.
        if events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP):
            upstream_close(L, u)
        return
    _flush_upstream(L, u)
    if not u.closed:
        _upstream_drive(L, u)
    if c != NULL and not c.closed:
        client_drive(L, c)
