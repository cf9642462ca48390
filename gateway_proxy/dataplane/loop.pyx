"""The C event loop of one worker process: epoll, accept, timers, and the handoff with Python.

Why it exists (issue 13): the asyncio path spends most of a request in CPython's object model.
Here the request path is C: :meth:`Loop.run` releases the GIL and runs ``epoll_wait`` over the
listening socket (SO_REUSEPORT spreads connections over worker processes), the client
connections and the backend connections, edge-triggered and non-blocking, until :meth:`stop`.
Connections are malloc'd structs (loop_types.pxd); what happens to a request is loop_exchange's
job (its RequestMirror copies included, which have their own connections and deadline queue), the
bytes written are loop_heads'. Python (gateway_proxy.dataplane.worker) keeps what is not
per request and talks to the running loop through four atomics, read after every wakeup (and a
fifth, ``set_tunnel_idle_timeout``, read when a tunnel's timer fires):

- ``publish(plan)``: the route table to use from now on. The loop makes it current, marks the
  plan it replaces retired once no exchange uses it, and reports the current one (``current_is``),
  so that Python frees a table only when the loop is done with it.
- ``reweigh(update)``: new backend weights for rules of the current table (a reload that changed
  nothing else, see worker.py). The loop copies them into its table between two events, so no
  request sees a rule half updated, and reports whether it did.
- ``set_accepting(on)``: whether the listening socket is watched; off while the asyncio path
  serves a table the loop cannot (see worker.py), so only one of them accepts.
- ``drain()``: idle clients are closed and the others closed after their current answer, so that
  clients reconnect to whoever accepts now.

An eventfd wakes the loop for each; ``epoll_wait`` otherwise sleeps until the earliest timer (a
client's, or the oldest mirror copy's deadline).
A second eventfd goes the other way: the loop rings it once it took a plan or a reweigh, and
``await_current``/``reweigh`` sleep on it (poll, GIL released) instead of polling the atomics.
"""

from libc.errno cimport EINTR, errno
from libc.stdint cimport uint8_t, uint32_t, uint64_t, uintptr_t
from libc.stdlib cimport calloc, free
from posix.unistd cimport close

from gateway_proxy import downstream as _downstream, mirroring as _mirroring, tunnel as _tunnel

try:  # built only where OpenSSL's headers were (setup.py): without it session rules stay on asyncio
    from gateway_proxy.dataplane import loop_sessions as _loop_sessions
except ImportError:
    _loop_sessions = None
from gateway_proxy.dataplane.http1 cimport RequestHead, ResponseHead
from gateway_proxy.dataplane.loop_exchange cimport (client_close, client_drive, client_flush, client_timeout,
                                                    mirror_event, mirrors_close_all, mirrors_expire, upstream_close,
                                                    upstream_event)
from gateway_proxy.dataplane.loop_io cimport (EPOLL_CLOEXEC, EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP,
                                              epoll_add, epoll_create1, epoll_del, epoll_event, epoll_wait,
                                              sock_accept, wake_drain, wake_make, wake_ring, wake_wait)
from gateway_proxy.dataplane.loop_plans cimport Counters, LoopPlan, Reweighing, reweigh_apply
from gateway_proxy.dataplane.loop_support cimport (free_dead, now, rs_load_int, rs_load_ptr, rs_store_int,
                                                   rs_store_ptr, rs_swap_ptr, timer_due, timer_set)
from gateway_proxy.dataplane.loop_types cimport (C_HEAD, KIND_CLIENT, KIND_LISTENER, KIND_MIRROR, KIND_UPSTREAM,
                                                 KIND_WAKE, POOL_SLOTS, REWEIGH_APPLIED, REWEIGH_PENDING,
                                                 REWEIGH_REFUSED, Client, LoopState, Marker, Mirror, Plan, Reweigh,
                                                 SessionHooks, Upstream)
from gateway_proxy.dataplane.table cimport rng_seed

cdef enum:
    EVENTS = 256
    ACCEPTS = 64        # per wakeup; the listener is level-triggered, so the rest wait their turn
    FREE_LIST = 64      # loop_support's free list length


cdef void _accept(LoopState *L) noexcept nogil:
    """asyncio's accept plus ClientProtocol.connection_made: a client struct, its head timer."""
    cdef Client *c
    cdef int fd, i
    for i in range(ACCEPTS):
        c = <Client *>calloc(1, sizeof(Client))
        if c == NULL:
            return
        fd = sock_accept(L.listener.fd, c.peer, &c.peer_len)
        if fd < 0:
            free(c)
            return
        c.kind = KIND_CLIENT
        c.fd = fd
        c.heap_index = -1
        c.backend = -1
        c.phase = C_HEAD
        if not epoll_add(L.ep, fd, c, False):
            close(fd)
            free(c)
            continue
        c.next = L.clients
        if L.clients != NULL:
            L.clients.prev = c
        L.clients = c
        L.accepted += 1
        if not timer_set(L, c, now() + L.header_timeout):
            client_close(L, c)


cdef void _control(LoopState *L) noexcept nogil:
    """Pick up what Python asked for since the last wakeup."""
    cdef Plan *p = <Plan *>rs_load_ptr(<void **>&L.pending)
    cdef Reweigh *w
    cdef Plan *old
    cdef Client *c
    cdef Client *next_c
    cdef int want, seq
    if p != NULL and p != L.current:
        old = L.current
        rs_store_int(&p.seen, 1)
        L.current = p
        rs_store_ptr(<void **>&L.acked, p)
        if old != NULL and old.inflight == 0:
            rs_store_int(&old.retired, 1)
        wake_ring(L.ack)
    # After the plan: a reweigh computed for a plan published just before it finds that plan current.
    w = <Reweigh *>rs_swap_ptr(<void **>&L.reweigh, NULL)
    if w != NULL:
        if w.plan == L.current:
            reweigh_apply(w)
            rs_store_int(&w.outcome, REWEIGH_APPLIED)
        else:
            rs_store_int(&w.outcome, REWEIGH_REFUSED)
        wake_ring(L.ack)
    want = rs_load_int(&L.accepting)
    if want and not L.listening:
        L.listening = epoll_add(L.ep, L.listener.fd, &L.listener, True)
    elif not want and L.listening:
        epoll_del(L.ep, L.listener.fd)
        L.listening = 0
    seq = rs_load_int(&L.drain_seq)
    if seq != L.drained_seq:
        L.drained_seq = seq
        c = L.clients
        while c != NULL:
            next_c = c.next
            c.last = 1
            if c.phase == C_HEAD and c.inb.end == c.inb.start:
                client_close(L, c)
            c = next_c


cdef void _client_event(LoopState *L, Client *c, uint32_t events) noexcept nogil:
    if c.closed:
        return
    if events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP):
        c.readable = 1
    if events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP):
        c.hangup = 1  # loop_exchange._read_all: read on until the end of stream shows
    if events & EPOLLOUT:
        client_flush(L, c)
        # A drained client lets a backend that was held back for it be read again.
        if not c.closed and c.up != NULL and c.up.readable:
            upstream_event(L, c.up, 0)
    if not c.closed:
        client_drive(L, c)


cdef void _run(LoopState *L) noexcept nogil:
    cdef epoll_event events[EVENTS]
    cdef int n, i, timeout
    cdef double wait
    cdef uint8_t kind
    cdef Client *c
    while not rs_load_int(&L.stop):
        timeout = -1
        if L.heap_len or L.mirrors_first != NULL:
            wait = L.heap[0].deadline if L.heap_len else L.mirrors_first.deadline
            if L.mirrors_first != NULL and L.mirrors_first.deadline < wait:
                wait = L.mirrors_first.deadline
            wait -= now()
            timeout = 0 if wait <= 0 else <int>(wait * 1000.0) + 1
        n = epoll_wait(L.ep, events, EVENTS, timeout)
        if n < 0:
            if errno == EINTR:
                continue
            break
        _control(L)
        for i in range(n):
            kind = (<uint8_t *>events[i].data.ptr)[0]
            if kind == KIND_CLIENT:
                _client_event(L, <Client *>events[i].data.ptr, events[i].events)
            elif kind == KIND_UPSTREAM:
                upstream_event(L, <Upstream *>events[i].data.ptr, events[i].events)
            elif kind == KIND_MIRROR:
                mirror_event(L, <Mirror *>events[i].data.ptr, events[i].events)
            elif kind == KIND_LISTENER:
                if L.listening:
                    _accept(L)
            elif kind == KIND_WAKE:
                wake_drain(L.wake.fd)
        wait = now()
        for i in range(1 << 20):
            c = timer_due(L, wait)
            if c == NULL:
                break
            client_timeout(L, c)
        mirrors_expire(L, wait)
        free_dead(L)
    _shutdown(L)


cdef void _shutdown(LoopState *L) noexcept nogil:
    cdef uint32_t slot
    while L.clients != NULL:
        client_close(L, L.clients)
    mirrors_close_all(L)
    for slot in range(POOL_SLOTS):
        while L.pool[slot].first != NULL:
            upstream_close(L, L.pool[slot].first)
    if L.listening:
        epoll_del(L.ep, L.listener.fd)
        L.listening = 0
    if L.current != NULL and L.current.inflight == 0:
        rs_store_int(&L.current.retired, 1)
    free_dead(L)


def serves_sessions():
    """Whether the loop can serve sessionPersistence (loop_sessions was built)."""
    return _loop_sessions is not None


cdef class Loop:
    """One worker's C event loop over ``listen_fd`` (a listening, non-blocking socket Python owns).

    ``run`` blocks until ``stop``; call it from a dedicated thread. The other methods may be called
    from any thread while it runs."""

    def __cinit__(self, int listen_fd, double header_timeout, Counters counters, uint32_t unrouted,
                  uint64_t seed):
        self.L = <LoopState *>calloc(1, sizeof(LoopState))
        if self.L == NULL:
            raise MemoryError()
        L = self.L
        L.ep = -1
        L.wake.fd = -1
        L.ack = -1
        L.free_heads = <RequestHead **>calloc(FREE_LIST, sizeof(RequestHead *))
        L.free_responses = <ResponseHead **>calloc(FREE_LIST, sizeof(ResponseHead *))
        if L.free_heads == NULL or L.free_responses == NULL:
            raise MemoryError()
        L.ep = epoll_create1(EPOLL_CLOEXEC)
        L.wake.fd = wake_make()
        L.wake.kind = KIND_WAKE
        L.ack = wake_make()
        if L.ep < 0 or L.wake.fd < 0 or L.ack < 0 or not epoll_add(L.ep, L.wake.fd, &L.wake, True):
            raise OSError("gateway_proxy: cannot create the C loop's epoll or eventfd")
        L.listener.kind = KIND_LISTENER
        L.listener.fd = listen_fd
        L.header_timeout = header_timeout
        L.tunnel_idle_ms = <int>(_tunnel.DEFAULT_IDLE_TIMEOUT * 1000)
        L.limits.max_uri = _downstream.MAX_URI
        L.limits.max_head = _downstream.MAX_HEAD
        L.limits.max_headers = _downstream.MAX_HEADERS
        L.mirror_buffer = _mirroring.MAX_BUFFER
        L.mirror_deadline = _mirroring.MIRROR_DEADLINE
        rng_seed(&L.rng, seed)
        if _loop_sessions is not None:
            L.sessions = <const SessionHooks *><uintptr_t>_loop_sessions.hooks_address()
        self.counters = counters
        L.unrouted = counters.block(unrouted)

    def __dealloc__(self):
        cdef LoopState *L = self.L
        cdef uint32_t i
        if L == NULL:
            return
        if L.ep >= 0:
            close(L.ep)
        if L.wake.fd >= 0:
            close(L.wake.fd)
        if L.ack >= 0:
            close(L.ack)
        for i in range(L.free_head_count):
            free(L.free_heads[i])
        for i in range(L.free_response_count):
            free(L.free_responses[i])
        free(L.free_heads)
        free(L.free_responses)
        free(L.heap)
        free(L.dead)
        free(L)

    def run(self):
        """Serve until ``stop``; once only."""
        if self.ran:
            raise RuntimeError("a Loop runs once")
        self.ran = True
        with nogil:
            _run(self.L)

    def publish(self, LoopPlan plan):
        rs_store_ptr(<void **>&self.L.pending, &plan.c)
        wake_ring(self.L.wake.fd)

    def current_is(self, LoopPlan plan):
        """The loop took ``plan`` as its table (and any plan published before it is done with)."""
        return rs_load_ptr(<void **>&self.L.acked) == <void *>&plan.c

    def await_current(self, LoopPlan plan, double timeout):
        """Sleep until the loop took ``plan`` (published before), at most ``timeout`` seconds;
        whether it did. The loop rings an eventfd when it takes a plan: no polling in between."""
        cdef double deadline = now() + timeout, left
        while rs_load_ptr(<void **>&self.L.acked) != <void *>&plan.c:
            left = deadline - now()
            if left <= 0:
                return False
            with nogil:
                wake_wait(self.L.ack, left)
        return True

    def reweigh(self, Reweighing update, double timeout):
        """Hand ``update`` to the loop and sleep until it applied or refused it (its plan is not the
        current one): True when applied. When the loop did not take it within ``timeout``, it is
        withdrawn and never applied. One at a time (the caller waits for each)."""
        cdef LoopState *L = self.L
        cdef double deadline = now() + timeout, left
        cdef void *taken
        rs_store_ptr(<void **>&L.reweigh, &update.c)
        wake_ring(L.wake.fd)
        while rs_load_int(&update.c.outcome) == REWEIGH_PENDING:
            left = deadline - now()
            if left <= 0:
                taken = rs_swap_ptr(<void **>&L.reweigh, NULL)
                if taken == <void *>&update.c:
                    return False  # withdrawn before the loop saw it
                # The loop took it and is copying the weights this instant: wait for the outcome.
                deadline = now() + timeout
                while rs_load_int(&update.c.outcome) == REWEIGH_PENDING and now() < deadline:
                    with nogil:
                        wake_wait(L.ack, deadline - now())
                break
            with nogil:
                wake_wait(L.ack, left)
        return rs_load_int(&update.c.outcome) == REWEIGH_APPLIED

    def set_tunnel_idle_timeout(self, double seconds):
        """Seconds a tunnel may carry no byte either way before both sides close (0: never), for
        tunnels from now on and for the idle check of those open (``--tunnel-idle-timeout``)."""
        rs_store_int(&self.L.tunnel_idle_ms, <int>min(seconds * 1000, 2147483647.0) if seconds > 0 else 0)

    def set_accepting(self, bint on):
        rs_store_int(&self.L.accepting, on)
        wake_ring(self.L.wake.fd)

    def drain(self):
        rs_store_int(&self.L.drain_seq, rs_load_int(&self.L.drain_seq) + 1)
        wake_ring(self.L.wake.fd)

    def stop(self):
        rs_store_int(&self.L.stop, 1)
        wake_ring(self.L.wake.fd)

    @property
    def stats(self):
        """(connections accepted, requests started): racy reads, for logs and tests."""
        return self.L.accepted, self.L.requests
