# HTTPRoute rules[].retry in the C loop (Exchange._retry, _next_attempt), textually part of
# loop_exchange.pyx: a retry ends an attempt on the backend side and starts one on the client's,
# so it needs both sides' helpers.
#
# Nothing is decided here that gateway_proxy.retries does not decide: the rule's policy is copied
# into its CRule (layout.retry_policy) and read back as retries.py words it. An attempt that got a
# listed status, could not connect, or hit timeouts.backendRequest is counted for its backend and
# repeated after the backoff (base doubling per retry, jittered up to JITTER more from the loop's
# seeded RNG, capped), which is the client's one timer (Client.attempt_deadline), never a sleep;
# the next attempt goes to a backend picked by weight again, as the asyncio path's does. A
# connection lost after the request was sent is never retried (the backend side answers 502).
# The request body is kept as it is sent (Client.replay, framed as sent) until the attempt sent
# more than REPLAY_LIMIT bytes; after that only a failed connect is retried, since the body is then
# still in the client's buffer: while an attempt connects, and while a backoff runs, the body
# stays there (_body holds it), as the asyncio path buffers it until a connection is attached.

cdef uint64_t _REPLAY_LIMIT = _retries.REPLAY_LIMIT
cdef double _JITTER = _retries.JITTER


cdef inline const CRule *_rule_of(const Client *c) noexcept nogil:
    cdef const CTable *t = c.plan.table
    return &t.rules[t.backends[c.backend].rule]


cdef inline bint _body_held(const Client *c) noexcept nogil:
    """Whether the request body waits in the client's buffer: a backoff runs, or the attempt's
    connection is not established yet (the asyncio path attaches the body once it is)."""
    return c.retries and not c.responded and (c.waiting or (c.up != NULL and c.up.phase == U_CONNECTING))


cdef bint _arm(LoopState *L, Client *c) noexcept nogil:
    """The client's one timer at the nearer of the exchange's deadlines, or none; False when the
    heap cannot grow (the caller closes the client)."""
    cdef double at = c.request_deadline
    if c.attempt_deadline and (not at or c.attempt_deadline < at):
        at = c.attempt_deadline
    if at:
        return timer_set(L, c, at)
    timer_clear(L, c)
    return True


cdef inline bint _retried_status(const CRule *rule, int status) noexcept nogil:
    """retries.retried_status."""
    cdef int offset = status - RETRY_LOWEST_CODE
    return 0 <= offset < RETRY_CODE_BYTES * 8 and rule.retry_codes[offset >> 3] & (1 << (offset & 7))


cdef double _backoff(const CRule *rule, uint32_t retry_number, double fraction) noexcept nogil:
    """retries.backoff, operation for operation so that a seeded draw gives the same delay."""
    cdef uint32_t doublings = retry_number - 1 if retry_number - 1 < 30 else 30
    cdef double delay = rule.retry_backoff * <double>(1 << doublings) * (1.0 + _JITTER * fraction)
    return rule.retry_cap if rule.retry_cap <= delay else delay


cdef bint _replay_keep(Client *c, const char *data, uint32_t n) noexcept nogil:
    """Exchange.request_body's copy of a body piece just sent; past REPLAY_LIMIT bytes in this
    attempt the copy is dropped and the request is no longer resent. False when out of memory."""
    if c.replay_lost:
        return True
    c.replayed += n
    if c.replayed > _REPLAY_LIMIT:
        c.replay_lost = 1
        out_free(&c.replay)
        return True
    if c.chunked:
        return out_put_hex_line(&c.replay, n) and out_put(&c.replay, data, n) and out_put(&c.replay, "\r\n", 2)
    return out_put(&c.replay, data, n)


cdef bint _replay_into(Client *c, Upstream *u) noexcept nogil:
    """Exchange._next_attempt and attach: what the last attempt sent of the body, and its end if
    the body is complete, after the head. False when out of memory."""
    if _pending(&c.replay) and not out_put(&u.out, c.replay.data + c.replay.start, _pending(&c.replay)):
        return False
    if c.attempts > 1 and c.chunked and c.body_done and not c.upgrade:
        return out_put(&u.out, _LAST_CHUNK, 5)
    return True


cdef bint _retry(LoopState *L, Client *c, int status) noexcept nogil:
    """Exchange._retry: schedule the next attempt if the rule retries and the request can be sent
    again, counting the attempt that ended with ``status`` for its backend. False: answer as usual."""
    cdef const CRule *rule
    if not c.retries or c.closed or c.phase != C_EXCHANGE or c.responded or c.head_sent or c.replay_lost:
        return False
    rule = _rule_of(c)
    if c.attempts > rule.retry_attempts:  # retries.may_retry
        return False
    observe(c.block, status, now() - c.started)
    if c.up != NULL:
        upstream_close(L, c.up)  # what is left of a retried response is not wanted
    if c.mirrors != NULL:
        _mirrors_release(L, c, False)  # copies that would miss the rest of the body
    c.attempt_deadline = now() + _backoff(rule, c.attempts, rng_random(&L.rng))
    c.attempts += 1
    c.waiting = 1
    if not _arm(L, c):
        client_close(L, c)
    return True


cdef void _connect_failed(LoopState *L, Client *c) noexcept nogil:
    """Exchange._connected with an error: the request never left, so it is retried whatever its
    method when the rule has a retry stanza; else 502."""
    if not _retry(L, c, 502):
        _fail(L, c, 502)


cdef void _attempt_expired(LoopState *L, Client *c) noexcept nogil:
    """The attempt timer: the end of a backoff (the next attempt), or timeouts.backendRequest
    (Exchange._attempt_expired: retried, else 504)."""
    c.attempt_deadline = 0
    if c.waiting:
        _next_attempt(L, c)
    elif not _retry(L, c, 504):
        _fail(L, c, 504)


cdef void _next_attempt(LoopState *L, Client *c) noexcept nogil:
    """Exchange._next_attempt: a backend of the rule picked by weight again, and the request
    resent to one of its endpoints (over a pooled connection if one is idle)."""
    cdef Plan *p = c.plan
    cdef CTable *t = p.table
    cdef int32_t rule = t.backends[c.backend].rule, backend, endpoint
    cdef uint8_t key[19]
    cdef Upstream *u
    c.waiting = 0
    backend = pick_backend(t, rule, rng_random(&L.rng))
    if backend >= 0:
        c.backend = backend
        c.block = p.backend_blocks[backend]
    if backend < 0 or t.backends[backend].status:
        _fail(L, c, 500 if backend < 0 else t.backends[backend].status)
        return
    endpoint = next_endpoint(t, backend)
    if endpoint < 0:
        _fail(L, c, 503)  # a status-0 backend always has endpoints (see route_decide)
        return
    c.started = now()
    if t.rules[rule].backend_timeout:
        c.attempt_deadline = c.started + t.rules[rule].backend_timeout
    if not _arm(L, c):
        client_close(L, c)
        return
    _endpoint_key(&t.endpoints[endpoint], key)
    u = pool_take(L, key)
    if u != NULL:
        u.reused = 1
        u.phase = U_ACTIVE
        _attach(L, c, u)
    else:
        _connect(L, c, key)


def retry_decisions(RouteTable table, int rule, int retry_number, double fraction, int status):
    """(retries after the first, backoff in seconds, whether ``status`` is retried) as the loop
    decides them for rule id ``rule`` and retry ``retry_number`` (1 for the first): for tests
    comparing them with gateway_proxy.retries."""
    cdef const CRule *r
    if not 0 <= rule < <int>table.c.rule_count or retry_number < 1:
        raise IndexError((rule, retry_number))
    r = &table.c.rules[rule]
    return r.retry_attempts, _backoff(r, retry_number, fraction), bool(_retried_status(r, status))
