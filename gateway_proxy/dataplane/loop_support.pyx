"""The C event loop's small machinery, kept apart from its state machines (loop.pyx).

Why each piece is shaped the way it is:

- Timers are one intrusive min-heap of clients keyed by ``Client.deadline``: a client has at most
  one deadline at a time (the head timeout while it waits for a request, the route's 504 timeout
  while a request is in flight, a flush deadline while closing), so re-arming is an update in
  place and nothing stale accumulates; ``epoll_wait`` sleeps until the earliest.
- Idle backend connections are kept per endpoint address (not per table endpoint id, which a
  reload renumbers), most recently used first, as ``upstream.Pool`` does.
- Request and response heads (~1.7 KB each) are lent out only while a head is being parsed and
  returned to short free lists, so an idle keep-alive connection holds none.
- A connection closed while handling one epoll batch may still be named by a later event of the
  same batch: it is freed after the batch (``defer_free``).
- Counters are per label set, written by the loop thread, read racily by Python at scrape time.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcmp, memcpy
from posix.time cimport CLOCK_MONOTONIC, CLOCK_REALTIME, clock_gettime, timespec

from gateway_proxy import metrics as _metrics
from gateway_proxy.dataplane.http1 cimport RequestHead, ResponseHead
from gateway_proxy.dataplane.loop_types cimport (BUCKET_COUNT, CODE_SLOTS, MAX_IDLE_PER_ENDPOINT, POOL_SLOTS,
                                                Client, LoopState, MetricBlock, PoolSlot, Upstream)

cdef enum:
    FREE_LIST = 64   # heads kept for reuse; more in-progress heads than this are malloc'd and freed

# metrics.BUCKETS: an observation counts in the first bucket whose bound is >= it (bisect_left).
cdef double _BOUNDS[BUCKET_COUNT - 1]
if len(_metrics.BUCKETS) != BUCKET_COUNT - 1:
    raise ImportError("gateway_proxy.dataplane.loop_support: metrics.BUCKETS changed size")
for _i, _bound in enumerate(_metrics.BUCKETS):
    _BOUNDS[_i] = _bound


cdef double now() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef double wall_clock() noexcept nogil:
    """time.time(): seconds since the epoch, for what outlives the process (session tokens)."""
    cdef timespec ts
    clock_gettime(CLOCK_REALTIME, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


# ---- timers ----

cdef inline void _place(LoopState *L, int64_t i, Client *c) noexcept nogil:
    L.heap[i] = c
    c.heap_index = i


cdef void _up(LoopState *L, int64_t i) noexcept nogil:
    cdef Client *c = L.heap[i]
    cdef int64_t parent
    while i > 0:
        parent = (i - 1) >> 1
        if L.heap[parent].deadline <= c.deadline:
            break
        _place(L, i, L.heap[parent])
        i = parent
    _place(L, i, c)


cdef void _down(LoopState *L, int64_t i) noexcept nogil:
    cdef Client *c = L.heap[i]
    cdef int64_t child
    while True:
        child = 2 * i + 1
        if child >= L.heap_len:
            break
        if child + 1 < L.heap_len and L.heap[child + 1].deadline < L.heap[child].deadline:
            child += 1
        if L.heap[child].deadline >= c.deadline:
            break
        _place(L, i, L.heap[child])
        i = child
    _place(L, i, c)


cdef bint timer_set(LoopState *L, Client *c, double deadline) noexcept nogil:
    """Arm or move ``c``'s one deadline; False when the heap cannot grow (the caller closes ``c``)."""
    cdef Client **grown
    cdef int64_t cap
    c.deadline = deadline
    if c.heap_index >= 0:
        _up(L, c.heap_index)
        _down(L, c.heap_index)
        return True
    if L.heap_len == L.heap_cap:
        cap = L.heap_cap * 2 if L.heap_cap else 256
        grown = <Client **>realloc(L.heap, cap * sizeof(Client *))
        if grown == NULL:
            return False
        L.heap = grown
        L.heap_cap = cap
    L.heap_len += 1
    _place(L, L.heap_len - 1, c)
    _up(L, L.heap_len - 1)
    return True


cdef void timer_clear(LoopState *L, Client *c) noexcept nogil:
    cdef int64_t i = c.heap_index
    cdef Client *last
    if i < 0:
        return
    c.heap_index = -1
    L.heap_len -= 1
    if i == L.heap_len:
        return
    last = L.heap[L.heap_len]
    _place(L, i, last)
    _up(L, i)
    _down(L, last.heap_index)


cdef Client *timer_due(LoopState *L, double at) noexcept nogil:
    """The client with the earliest deadline if it is due at ``at`` (removed from the heap), else NULL."""
    cdef Client *c
    if L.heap_len == 0 or L.heap[0].deadline > at:
        return NULL
    c = L.heap[0]
    timer_clear(L, c)
    return c


# ---- the idle backend pool ----

cdef uint32_t _slot_of(LoopState *L, const uint8_t *key, bint create) noexcept nogil:
    """The pool slot of ``key``; POOL_SLOTS when absent (and not created, or the table is full)."""
    cdef uint64_t h = 0xcbf29ce484222325ULL
    cdef uint32_t i, probe, slot
    for i in range(19):
        h = (h ^ key[i]) * 0x100000001b3ULL
    for probe in range(POOL_SLOTS):
        slot = <uint32_t>((h + probe) & (POOL_SLOTS - 1))
        if not L.pool[slot].used:
            if not create:
                return POOL_SLOTS
            L.pool[slot].used = 1
            memcpy(L.pool[slot].key, key, 19)
            return slot
        if memcmp(L.pool[slot].key, key, 19) == 0:
            return slot
    return POOL_SLOTS


cdef Upstream *pool_take(LoopState *L, const uint8_t *key) noexcept nogil:
    cdef uint32_t slot = _slot_of(L, key, False)
    cdef Upstream *u
    if slot == POOL_SLOTS or L.pool[slot].first == NULL:
        return NULL
    u = L.pool[slot].first
    pool_forget(L, u)
    return u


cdef bint pool_put(LoopState *L, Upstream *u) noexcept nogil:
    """Keep ``u`` idle for its endpoint; False when it cannot be kept (the caller closes it)."""
    cdef uint32_t slot = _slot_of(L, u.key, True)
    cdef PoolSlot *s
    if slot == POOL_SLOTS:
        return False
    s = &L.pool[slot]
    if s.count >= MAX_IDLE_PER_ENDPOINT:
        return False
    u.pool_slot = <int32_t>slot
    u.pool_prev = NULL
    u.pool_next = s.first
    if s.first != NULL:
        s.first.pool_prev = u
    s.first = u
    s.count += 1
    return True


cdef void pool_forget(LoopState *L, Upstream *u) noexcept nogil:
    cdef PoolSlot *s
    if u.pool_slot < 0:
        return
    s = &L.pool[u.pool_slot]
    if u.pool_prev != NULL:
        u.pool_prev.pool_next = u.pool_next
    else:
        s.first = u.pool_next
    if u.pool_next != NULL:
        u.pool_next.pool_prev = u.pool_prev
    s.count -= 1
    u.pool_slot = -1
    u.pool_prev = u.pool_next = NULL


# ---- head free lists ----

cdef RequestHead *take_request_head(LoopState *L) noexcept nogil:
    if L.free_head_count:
        L.free_head_count -= 1
        return L.free_heads[L.free_head_count]
    return <RequestHead *>malloc(sizeof(RequestHead))


cdef void give_request_head(LoopState *L, RequestHead *h) noexcept nogil:
    if h == NULL:
        return
    if L.free_head_count < FREE_LIST:
        L.free_heads[L.free_head_count] = h
        L.free_head_count += 1
    else:
        free(h)


cdef ResponseHead *take_response_head(LoopState *L) noexcept nogil:
    if L.free_response_count:
        L.free_response_count -= 1
        return L.free_responses[L.free_response_count]
    return <ResponseHead *>malloc(sizeof(ResponseHead))


cdef void give_response_head(LoopState *L, ResponseHead *h) noexcept nogil:
    if h == NULL:
        return
    if L.free_response_count < FREE_LIST:
        L.free_responses[L.free_response_count] = h
        L.free_response_count += 1
    else:
        free(h)


# ---- deferred frees ----

cdef bint defer_free(LoopState *L, void *p) noexcept nogil:
    """Free ``p`` after the current batch. Should the list not grow, ``p`` is leaked rather than
    freed while an event of this batch may still point at it."""
    cdef void **grown
    cdef uint32_t cap
    if L.dead_len == L.dead_cap:
        cap = L.dead_cap * 2 if L.dead_cap else 64
        grown = <void **>realloc(L.dead, cap * sizeof(void *))
        if grown == NULL:
            return False
        L.dead = grown
        L.dead_cap = cap
    L.dead[L.dead_len] = p
    L.dead_len += 1
    return True


cdef void free_dead(LoopState *L) noexcept nogil:
    cdef uint32_t i
    for i in range(L.dead_len):
        free(L.dead[i])
    L.dead_len = 0


# ---- counters ----

cdef void observe(MetricBlock *block, int code, double seconds) noexcept nogil:
    """BackendMetrics.observe in C: one count per code, one histogram bucket, the sum."""
    cdef int i
    if block == NULL:
        return
    for i in range(CODE_SLOTS):
        if block.codes[i] == code:
            block.counts[i] += 1
            break
        if block.codes[i] == 0:
            block.codes[i] = <uint16_t>code
            block.counts[i] += 1
            break
    else:
        block.overflow += 1
    i = 0
    while i < BUCKET_COUNT - 1 and _BOUNDS[i] < seconds:
        i += 1
    block.buckets[i] += 1
    block.seconds += seconds
