# A client and a backend connection joined after a 101 (gateway_proxy.tunnel.Tunnel in C), textually
# part of loop_exchange.pyx as loop_backend.pxi is: the switch happens in the backend side's parser
# loop, and ending a tunnel is ending its client connection (client_close counts it, code 101).
#
# Each direction is one buffer: the bytes read from one socket wait in the other's ``out`` until
# written, and a side is read only while that buffer holds less than TUNNEL_HOLD, so a slow reader
# holds the other side back (its kernel buffers fill, then its sender's) instead of filling memory.
# An EOF is passed on with shutdown(SHUT_WR) once everything read before it was written, and the
# other direction keeps flowing; when both EOFs were passed on, or either socket fails, both close.
# The idle timeout is the client's timer: re-armed lazily from ``last_read``, not on every read.

cdef enum:
    TUNNEL_HOLD = 64 * 1024     # bytes read from one side and not yet written to the other, at most


cdef int _carry(int src, uint8_t *readable, uint8_t *eof, Out *buf, int dst, uint8_t *shut,
                double *last_read) noexcept nogil:
    """One step of one direction: write what is held, read while there is room, pass an EOF on.
    1 when something moved, 0 when nothing could, -1 when a socket failed."""
    cdef int64_t n
    cdef int moved = 0
    cdef char *grown
    while _pending(buf):
        n = sock_send(dst, buf.data + buf.start, _pending(buf))
        if n > 0:
            buf.start += <uint32_t>n
            moved = 1
        elif n == -EAGAIN:
            break
        else:
            return -1
    if _pending(buf) == 0:
        buf.start = buf.end = 0
    if readable[0] and not eof[0] and _pending(buf) < TUNNEL_HOLD:
        if buf.cap < TUNNEL_HOLD:
            grown = <char *>realloc(buf.data, TUNNEL_HOLD)
            if grown == NULL:
                return -1
            buf.data = grown
            buf.cap = TUNNEL_HOLD
        if buf.end == buf.cap:
            out_compact(buf)
        n = sock_recv(src, buf.data + buf.end, buf.cap - buf.end)
        if n > 0:
            buf.end += <uint32_t>n
            last_read[0] = now()
            moved = 1
        elif n == 0:
            eof[0] = 1
            readable[0] = 0
            moved = 1
        elif n == -EAGAIN:
            readable[0] = 0
        else:
            return -1
    if eof[0] and not shut[0] and _pending(buf) == 0:
        if not sock_shut_write(dst):
            return -1
        shut[0] = 1
        moved = 1
    return moved


cdef void _tunnel_pump(LoopState *L, Client *c) noexcept nogil:
    """Move bytes both ways until neither socket can give or take more for now (edge-triggered)."""
    cdef Upstream *u = c.up
    cdef int step, up, down
    if c.closed:
        return
    if u == NULL or u.closed:
        client_close(L, c)
        return
    for step in range(STEPS):
        up = _carry(c.fd, &c.readable, &c.eof, &u.out, u.fd, &u.shut, &c.last_read)
        down = _carry(u.fd, &u.readable, &u.eof, &c.out, c.fd, &c.shut, &c.last_read)
        if up < 0 or down < 0 or (u.shut and c.shut):
            client_close(L, c)  # a side failed, or both ended: closes the backend and counts the tunnel
            return
        if up == 0 and down == 0:
            return
    epoll_rearm(L.ep, c.fd, c)  # stopped at the step bound, not at EAGAIN
    epoll_rearm(L.ep, u.fd, u)


cdef inline double _idle_timeout(LoopState *L) noexcept nogil:
    return rs_load_int(&L.tunnel_idle_ms) / 1000.0


cdef void _tunnel_idle(LoopState *L, Client *c) noexcept nogil:
    """Tunnel._idle: nothing read either way for the whole timeout ends both sides, else re-arm."""
    cdef double idle = _idle_timeout(L)
    cdef double due = c.last_read + idle
    if idle > 0 and due > now():
        if not timer_set(L, c, due):
            client_close(L, c)
        return
    client_close(L, c)


cdef void _tunnel_start(LoopState *L, Upstream *u, Client *c, uint32_t head_len) noexcept nogil:
    """Exchange.switched: relay the 101, then the bytes each side sent past its head, then join.
    The request's timeouts end with its answer, which the 101 is; the plan is let go (counter
    blocks outlive plans), so a long tunnel holds no route table."""
    cdef const char *base = u.inb.data + u.inb.start
    cdef CTable *t = c.plan.table
    if not out_switch_head(&c.out, base, u.head, t, t.backends[c.backend].response_ops):
        client_close(L, c)
        return
    c.status = 101
    c.head_sent = 1
    u.inb.start += head_len
    if not out_put(&c.out, u.inb.data + u.inb.start, _pending(&u.inb)) or \
            not out_put(&u.out, c.inb.data + c.inb.start, _pending(&c.inb)):
        client_close(L, c)
        return
    out_free(&u.inb)
    out_free(&c.inb)
    out_free(&c.held)
    out_free(&c.retry)
    give_response_head(L, u.head)
    u.head = NULL
    _release_plan(L, c)
    c.phase = C_TUNNEL
    c.readable = 1  # whatever arrived while the offer was held is read now
    u.readable = 1
    c.last_read = now()
    if _idle_timeout(L) > 0:
        if not timer_set(L, c, c.last_read + _idle_timeout(L)):
            client_close(L, c)
            return
    else:
        timer_clear(L, c)
    _tunnel_pump(L, c)
