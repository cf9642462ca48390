# RequestMirror in the C loop (mirroring.Mirror), textually part of loop_exchange.pyx: a copy starts
# where an exchange begins (_forward) and is fed where its request body is read (_body), so it
# shares their helpers; loop.pyx hands it its socket's events and expires it.
#
# What mirroring.py documents, kept here: each copy has its own connection, never a pooled one,
# closed once its response has arrived; it is sent the very head the primary backend is sent
# (Client.retry) and then the body pieces as they arrive, re-chunked as the primary's are; at most
# LoopState.mirror_buffer bytes wait for it, past that (or on any error) it is dropped. Nothing of
# the client's exchange ever waits on a copy: a copy is never read for flow control, and a slow,
# refusing or silent mirror backend only costs its own buffer until its deadline. A copy counts
# once for its backend: its response's status, 502 when the connection is refused, 504 at the
# deadline (Mirror._count); a copy the proxy drops itself counts nothing. Two choices the
# asyncio path leaves open are made here: a response delimited by the backend's close counts
# when that close comes, and a copy whose client went before the body ended is dropped (it would
# miss the rest, as a retried exchange's copies are).
#
# A copy outlives its client's exchange, so it holds no plan, only its backend's counter block.
# While the body is copied, the client links its copies (Client.mirrors, through ``sibling``);
# a copy closed meanwhile stays allocated until the client lets go of it.


cdef void _mirror_close(LoopState *L, Mirror *m) noexcept nogil:
    """Mirror.drop: close the connection; the struct is freed once no client links it."""
    if m.closed:
        return
    m.closed = 1
    if m.prev != NULL:
        m.prev.next = m.next
    else:
        L.mirrors_first = m.next
    if m.next != NULL:
        m.next.prev = m.prev
    else:
        L.mirrors_last = m.prev
    m.prev = m.next = NULL
    close(m.fd)
    out_free(&m.out)
    out_free(&m.inb)
    give_response_head(L, m.head)
    m.head = NULL
    if m.client == NULL:
        defer_free(L, m)


cdef void _mirror_count(LoopState *L, Mirror *m, int status) noexcept nogil:
    """Mirror._count then drop: the copy's outcome counted for its backend, once."""
    observe(m.block, status, now() - m.started)
    _mirror_close(L, m)


cdef void _mirror_flush(LoopState *L, Mirror *m) noexcept nogil:
    cdef int64_t n
    cdef uint32_t step
    if m.closed or not m.connected:
        return
    for step in range(STEPS):
        if _pending(&m.out) == 0:
            m.out.start = m.out.end = 0
            return
        n = sock_send(m.fd, m.out.data + m.out.start, _pending(&m.out))
        if n > 0:
            m.out.start += <uint32_t>n
        elif n == -EAGAIN:
            return
        else:
            _mirror_close(L, m)  # connection_lost: the copy is gone, nothing to count
            return
    epoll_rearm(L.ep, m.fd, m)  # stopped at the step bound, not at EAGAIN


cdef bint _mirror_room(LoopState *L, Mirror *m, uint64_t n) noexcept nogil:
    """Mirror._send's bound: False (and the copy dropped) when ``n`` more bytes would leave more
    than mirror_buffer waiting for its backend."""
    if m.closed:
        return False
    if _pending(&m.out) + n > L.mirror_buffer:
        _mirror_close(L, m)
        return False
    return True


cdef void _mirror_open(LoopState *L, Client *c, Plan *p, int32_t endpoint) noexcept nogil:
    """Mirror.start: a copy of the request the client's exchange just sent its head for."""
    cdef const CEndpoint *ep = &p.table.endpoints[endpoint]
    cdef uint8_t key[19]
    cdef Mirror *m = <Mirror *>calloc(1, sizeof(Mirror))
    if m == NULL:
        return
    m.kind = KIND_MIRROR
    m.block = p.backend_blocks[ep.backend]
    m.started = now()
    m.head_request = c.head_request
    # What the primary was sent so far: its head, and the last chunk of an upgrade request (_attach).
    if (not out_put(&m.out, c.retry.data + c.retry.start, _pending(&c.retry))
            or (c.upgrade and c.chunked and not out_put(&m.out, _LAST_CHUNK, 5))):
        out_free(&m.out)
        free(m)
        return
    _endpoint_key(ep, key)
    m.fd = sock_connect(key)
    if m.fd < 0:
        out_free(&m.out)
        observe(m.block, 502, now() - m.started)  # create_connection's OSError
        free(m)
        return
    if not epoll_add(L.ep, m.fd, m, False):
        close(m.fd)
        out_free(&m.out)
        free(m)
        return
    m.deadline = m.started + L.mirror_deadline
    m.prev = L.mirrors_last
    if L.mirrors_last != NULL:
        L.mirrors_last.next = m
    else:
        L.mirrors_first = m
    L.mirrors_last = m
    if not c.body_done:
        m.client = c
        m.sibling = c.mirrors
        c.mirrors = m


cdef void _mirrors_copy(LoopState *L, Client *c, const char *data, uint32_t n) noexcept nogil:
    """Mirror.request_body: a piece of the request body for every copy, framed as the primary's."""
    cdef Mirror *m = c.mirrors
    while m != NULL:
        if c.chunked:
            if _mirror_room(L, m, n + 20) and not (
                    out_put_hex_line(&m.out, n) and out_put(&m.out, data, n) and out_put(&m.out, "\r\n", 2)):
                _mirror_close(L, m)
        elif _mirror_room(L, m, n) and not out_put(&m.out, data, n):
            _mirror_close(L, m)
        m = m.sibling


cdef void _mirrors_flush(LoopState *L, Client *c) noexcept nogil:
    cdef Mirror *m = c.mirrors
    while m != NULL:
        _mirror_flush(L, m)
        m = m.sibling


cdef void _mirrors_release(LoopState *L, Client *c, bint complete) noexcept nogil:
    """The client lets go of its copies: Mirror.request_end when the body is ``complete``, else
    dropped, since they would miss the rest of it."""
    cdef Mirror *m = c.mirrors
    cdef Mirror *next_m
    c.mirrors = NULL
    while m != NULL:
        next_m = m.sibling
        m.sibling = NULL
        m.client = NULL
        if m.closed:
            defer_free(L, m)
        elif not complete:
            _mirror_close(L, m)
        elif not c.chunked or (_mirror_room(L, m, 5) and out_put(&m.out, _LAST_CHUNK, 5)):
            _mirror_flush(L, m)
        else:
            _mirror_close(L, m)
        m = next_m


cdef bint _mirror_discard(LoopState *L, Mirror *m) noexcept nogil:
    """The response body, read and dropped; counted once it ended. True when bytes were consumed."""
    cdef Span spans[MAX_SPANS]
    cdef uint32_t count = 0, n = _pending(&m.inb)
    cdef int64_t offset
    if m.framing == FRAMING_LENGTH:
        if n > m.body_left:
            n = <uint32_t>m.body_left
        if n == 0:
            return False
        m.inb.start += n
        m.body_left -= n
        if m.body_left == 0:
            _mirror_count(L, m, m.status)
        return True
    if m.framing == FRAMING_CHUNKED:
        offset = chunked_decode(&m.chunks, m.inb.data, m.inb.start, m.inb.end, spans, MAX_SPANS, &count)
        if offset < 0:
            _mirror_close(L, m)  # the parser's error: dropped, not counted
            return False
        if offset == m.inb.start and not chunked_done(&m.chunks):
            return False
        m.inb.start = <uint32_t>offset
        if chunked_done(&m.chunks):
            _mirror_count(L, m, m.status)
        return True
    if n == 0:
        return False
    m.inb.start = m.inb.end  # FRAMING_CLOSE: until the backend closes
    return True


cdef void _mirror_read(LoopState *L, Mirror *m) noexcept nogil:
    """Mirror.data_received: parse the response head, discard the body, count it at its end."""
    cdef int step, result
    cdef int64_t n
    cdef uint32_t room
    for step in range(STEPS):
        if m.closed:
            return
        if _pending(&m.inb):
            if not m.got_head:
                if m.head == NULL:
                    m.head = take_response_head(L)
                    if m.head == NULL:
                        _mirror_close(L, m)
                        return
                    response_reset(m.head)
                result = parse_response(m.head, m.inb.data + m.inb.start, _pending(&m.inb), &L.limits,
                                        m.head_request)
                if result < 0:
                    _mirror_close(L, m)
                    return
                if result > 0:
                    m.inb.start += <uint32_t>result
                    if m.head.status < 200 and m.head.status != 101:
                        response_reset(m.head)  # 100 Continue, 103: the answer is still to come
                        continue
                    m.got_head = 1
                    m.status = m.head.status
                    m.framing = m.head.framing
                    m.body_left = m.head.content_length
                    give_response_head(L, m.head)
                    m.head = NULL
                    if m.framing == FRAMING_CHUNKED:
                        chunked_reset(&m.chunks, 502)
                    if m.status == 101 or m.framing == FRAMING_NONE or (
                            m.framing == FRAMING_LENGTH and m.body_left == 0):
                        _mirror_count(L, m, m.status)
                        return
                    continue
            elif _mirror_discard(L, m):
                continue
        if not m.readable:
            return
        if not _inb_room(&m.inb):
            _mirror_close(L, m)  # a head past every limit
            return
        room = m.inb.cap - m.inb.end
        n = sock_recv(m.fd, m.inb.data + m.inb.end, room)
        if n > 0:
            m.inb.end += <uint32_t>n
            if _read_all(n, room, m.hangup):
                m.readable = 0
        elif n == -EAGAIN:
            m.readable = 0
            return
        elif n == 0 and m.got_head and m.framing == FRAMING_CLOSE:
            _mirror_count(L, m, m.status)
            return
        else:
            _mirror_close(L, m)  # connection_lost before a whole response: nothing to count
            return
    epoll_rearm(L.ep, m.fd, m)  # stopped at the step bound, not at EAGAIN


cdef void mirror_event(LoopState *L, Mirror *m, unsigned int events) noexcept nogil:
    if m.closed:
        return
    if not m.connected:
        if events & (EPOLLERR | EPOLLHUP):
            _mirror_count(L, m, 502)  # refused: create_connection's OSError
            return
        m.connected = 1
    if events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP):
        m.readable = 1
    if events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP):
        m.hangup = 1
    _mirror_flush(L, m)
    if not m.closed:
        _mirror_read(L, m)


cdef void mirrors_expire(LoopState *L, double at) noexcept nogil:
    """Mirror._expire: copies still open at their deadline count 504 and close."""
    while L.mirrors_first != NULL and L.mirrors_first.deadline <= at:
        _mirror_count(L, L.mirrors_first, 504)


cdef void mirrors_close_all(LoopState *L) noexcept nogil:
    """The loop stops: every copy still open is dropped (clients, closed first, let go of theirs)."""
    while L.mirrors_first != NULL:
        _mirror_close(L, L.mirrors_first)
