# The state of the C event loop, shared by loop.pyx (the state machines) and loop_support.pyx (timers,
# the backend pool, counters). Plain structs only: a connection is a malloc'd struct, never a
# Python object, and an idle keep-alive client holds no buffer (see loop.pyx).
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

from gateway_proxy.dataplane.http1 cimport ChunkedDecoder, Limits, RequestHead, ResponseHead
from gateway_proxy.dataplane.loop_heads cimport Out
from gateway_proxy.dataplane.table cimport CName, CTable, RouteRequest, Rng

cdef enum:
    BUCKET_COUNT = 24     # metrics.BUCKETS and +Inf
    CODE_SLOTS = 32       # distinct status codes counted per label set
    POOL_SLOTS = 1024     # distinct backend endpoints with idle connections
    MAX_IDLE_PER_ENDPOINT = 256   # upstream.MAX_IDLE_PER_ENDPOINT

    KIND_LISTENER = 1
    KIND_WAKE = 2
    KIND_CLIENT = 3
    KIND_UPSTREAM = 4
    KIND_MIRROR = 5

    # Client.phase
    C_HEAD = 0            # waiting for, or reading, a request head
    C_EXCHANGE = 1        # a request is being answered (and its body read)
    C_CLOSING = 2         # the last bytes are being written, then the socket closes
    C_TUNNEL = 3          # the backend switched protocols: bytes both ways (loop_tunnel.pxi)

    # Upstream.phase
    U_CONNECTING = 0
    U_ACTIVE = 1
    U_IDLE = 2

    # Reweigh.outcome
    REWEIGH_PENDING = 0
    REWEIGH_APPLIED = 1
    REWEIGH_REFUSED = -1


# The counters of one label set (namespace, route, backend_namespace, backend): written by the loop
# thread only, read racily by Python when /metrics is scraped (aligned 64-bit words).
cdef struct MetricBlock:
    uint64_t counts[CODE_SLOTS]
    uint16_t codes[CODE_SLOTS]
    uint64_t buckets[BUCKET_COUNT]
    double seconds
    uint64_t overflow     # observations whose code found no free slot (reported when read)


# One route table as the loop uses it; ``retired`` is set by the loop once it is no longer current
# and no exchange uses it, after which Python may free it.
cdef struct Plan:
    CTable *table
    MetricBlock **backend_blocks
    MetricBlock **rule_blocks
    int64_t inflight
    int seen              # the loop made it current once
    int retired


# New backend weights for some rules of one plan's table (loop_plans.Reweighing). The loop thread
# applies them itself, between two events, so no decision reads a rule half updated and no
# exchange changes backend under way (it holds a backend id, and ids do not move).
cdef struct Reweigh:
    Plan *plan            # the table the weights were computed for; refused when it is not current
    uint32_t rule_count
    int32_t *rules        # rule ids
    int64_t *totals       # per rule: its new CRule.total
    int64_t *weights      # per backend of those rules, rule after rule: its new CBackend.weight
    int64_t *cumulative   # and its new CBackend.cumulative
    int outcome           # REWEIGH_*: written by the loop (atomics)


# A request's session on a sessionPersistence rule (sessions.Affinity): the pinned backend's index
# in the rule, -1 when weighed afresh, and the token's timestamps (whole seconds).
cdef struct Affinity:
    int32_t index
    int64_t began
    int64_t seen


# What loop_sessions.pyx provides, reached through LoopState.sessions (NULL when it was not built:
# it links OpenSSL's libcrypto, and worker.py then leaves session rules to the asyncio path).
# ``resume`` is sessions.resume for rule ``rule``; ``field`` writes sessions.response_field's line.
cdef struct SessionHooks:
    void (*resume)(const CTable *t, int32_t rule, const RouteRequest *request, double now,
                   Affinity *out) noexcept nogil
    bint (*field)(Out *o, const CTable *t, int32_t rule, const Affinity *affinity, int32_t index, double now,
                  CName path) noexcept nogil


cdef struct Upstream
cdef struct Client
cdef struct Mirror


cdef struct Client:
    uint8_t kind
    uint8_t phase
    uint8_t readable
    uint8_t eof           # the client half-closed: no more requests after those read
    uint8_t closed
    uint8_t keep_alive    # the exchange's (Exchange.keep_alive): what its response head says
    uint8_t request_keep_alive   # the request's (Request.keep_alive): turned off by a half-close
    uint8_t head_request
    uint8_t client_11
    uint8_t chunked       # request body framing
    uint8_t body_done
    uint8_t responded     # the whole response is in ``out``
    uint8_t head_sent     # a response head from the backend was built (exchange.head_sent)
    uint8_t out_chunked
    uint8_t retried
    uint8_t upgrade       # llhttp's upgrade rule: nothing after the head is HTTP; ends with its answer
    uint8_t tunnel        # and the proxy offers the backend to switch (a GET without body, exchange.prepare)
    uint8_t shut          # tunnel: the backend's EOF was passed on to the client (shutdown SHUT_WR)
    uint8_t has_body
    uint8_t last          # answer the current request, then close (a drain asked for it)
    uint8_t hangup        # epoll reported a shutdown or an error: a short read no longer means empty
    uint8_t cors          # the request has an Origin and its rule a CORS filter: ``origin`` holds it
    uint8_t retries       # the request's rule retries (CRule.retry_attempts > 0)
    uint8_t session       # the request's rule has session persistence: ``affinity`` holds its session
    uint8_t waiting       # a retry's backoff runs (loop_retry.pxi): no backend, the body waits in ``inb``
    uint8_t replay_lost   # this attempt sent more than retries.REPLAY_LIMIT body bytes: it cannot be resent
    int fd
    Out inb               # received bytes; the current request starts at inb.start
    Out out               # bytes owed to the client
    Out held              # the response head, held until body bytes follow (exchange.held)
    Out retry             # the request head, kept to resend once if a pooled connection was dead
    Out origin            # the request's Origin (index_headers' value), for the CORS fields of its response
    Out replay            # the request body as sent to the backend (framed), kept for a retry to resend
    RequestHead *head     # only while a head is being parsed
    ChunkedDecoder chunks
    uint64_t body_left
    Upstream *up
    Mirror *mirrors       # the copies still owed the request body (loop_mirror.pxi), sibling-linked
    Plan *plan
    MetricBlock *block
    int32_t backend
    uint16_t status
    double started
    double deadline
    int64_t heap_index
    double timeout        # the exchange's 504 timeout, 0 none
    double request_deadline   # the exchange's 504 (timeouts.request, or the nearer of both without retries), 0 none
    double attempt_deadline   # with retries: this attempt's backendRequest 504, or the backoff's end; 0 none
    uint64_t replayed     # body bytes (decoded) this attempt sent, against retries.REPLAY_LIMIT
    uint32_t attempts     # attempts made, the first included (rules[].retry)
    Affinity affinity
    int32_t match         # the matched CMatch (for a session cookie's Path)
    double last_read      # tunnel: when a byte was last read from either side
    Client *prev
    Client *next
    uint8_t peer_len
    char peer[47]


cdef struct Upstream:
    uint8_t kind
    uint8_t phase
    uint8_t readable
    uint8_t closed
    uint8_t reused
    uint8_t reusable
    uint8_t request_done
    uint8_t got_head
    uint8_t framing
    uint8_t framed
    uint8_t eof           # tunnel: the backend half-closed
    uint8_t shut          # tunnel: the client's EOF was passed on to the backend (shutdown SHUT_WR)
    uint8_t hangup        # epoll reported a shutdown or an error: a short read no longer means empty
    int fd
    Out inb
    Out out
    ResponseHead *head
    ChunkedDecoder chunks
    uint64_t body_left
    Client *client
    uint8_t key[19]       # family, port (2), address (16): the pool key
    int32_t pool_slot
    Upstream *pool_prev
    Upstream *pool_next


# One copy of a request for a RequestMirror backend (loop_mirror.pxi, mirroring.Mirror): its own
# connection, never pooled, closed once its response arrived. It outlives its client's exchange
# (the client never waits for it), so it holds no plan, only its backend's counter block, which
# lives as long as the loop's Counters.
cdef struct Mirror:
    uint8_t kind
    uint8_t connected
    uint8_t readable
    uint8_t hangup        # epoll reported a shutdown or an error: a short read no longer means empty
    uint8_t closed
    uint8_t got_head
    uint8_t head_request  # the copy is a HEAD: its response has no body
    uint8_t framing       # of its response
    int fd
    Out out               # the copy still to write: at most LoopState.mirror_buffer bytes
    Out inb               # its response, parsed and discarded
    ResponseHead *head    # only while the response head is being read
    ChunkedDecoder chunks
    uint64_t body_left
    uint16_t status
    MetricBlock *block    # the mirror backend's counters
    double started
    double deadline       # started + mirroring.MIRROR_DEADLINE: LoopState's list is in this order
    Client *client        # while the client's request body is still copied to it
    Mirror *sibling       # the next copy of the same request (Client.mirrors)
    Mirror *prev          # LoopState.mirrors_first/last: every open copy, oldest first
    Mirror *next


cdef struct PoolSlot:
    uint8_t used
    uint8_t key[19]
    uint32_t count
    Upstream *first


# The fixed endpoints of the loop's epoll set, pointed to by epoll_event.data like connections.
cdef struct Marker:
    uint8_t kind
    int fd


cdef struct LoopState:
    int ep
    Marker listener
    Marker wake
    uint8_t listening
    double header_timeout
    int tunnel_idle_ms    # a tunnel carrying no byte either way this long closes; 0 never (atomics: Python sets it)
    Limits limits
    Rng rng
    Plan *current
    Plan *pending         # written by Python under the GIL, read by the loop (atomics)
    Plan *acked           # the plan the loop made current last, for Python (atomics)
    Reweigh *reweigh      # written by Python, taken (swapped for NULL) by the loop (atomics)
    int ack               # eventfd the loop rings once it took a plan or a Reweigh: Python waits on it
    int stop
    int accepting         # what Python wants
    int drain_seq         # bumped by Python: close idle clients, end the others after their answer
    int drained_seq
    Client **heap
    int64_t heap_len
    int64_t heap_cap
    RequestHead **free_heads
    uint32_t free_head_count
    ResponseHead **free_responses
    uint32_t free_response_count
    PoolSlot pool[POOL_SLOTS]
    void **dead
    uint32_t dead_len
    uint32_t dead_cap
    Client *clients
    # Open mirror copies, oldest first: all share one deadline length, so this list is also their
    # timer queue (the head expires first) and needs no heap.
    Mirror *mirrors_first
    Mirror *mirrors_last
    uint32_t mirror_buffer    # mirroring.MAX_BUFFER
    double mirror_deadline    # mirroring.MIRROR_DEADLINE
    MetricBlock *unrouted
    const SessionHooks *sessions
    uint64_t accepted
    uint64_t requests
