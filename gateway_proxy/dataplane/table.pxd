# The route table of the C data plane: C structs the event loop cimports. ``RouteTable`` owns every
# array below; a CTable pointer stays valid while its RouteTable lives, so a worker swaps tables on
# reload by holding the new object before dropping the old one. A table is used by one thread: the
# round-robin cursors in CBackend are written by every decision, as the reference's Backend.cursor is.
from cpython.object cimport PyObject
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

from gateway_proxy.dataplane.spans cimport HeaderSpan, Span

cdef enum:
    # Same numbers as _hotpath_py.PATH_*.
    PATH_EXACT = 0
    PATH_REGEX = 1
    PATH_PREFIX = 2
    # Decision.status when no rule matched, and for a CORS preflight the rule's policy answers.
    STATUS_NOT_FOUND = 404
    STATUS_PREFLIGHT = 1
    # CRule.rewrite_kind
    REWRITE_NONE = 0
    REWRITE_FULL_PATH = 1
    REWRITE_PREFIX = 2
    # CRule.retry_codes: one bit per status 400-599 (retries.LOWEST_CODE..HIGHEST_CODE).
    RETRY_LOWEST_CODE = 400
    RETRY_CODE_BYTES = 25


# CPython's random.Random state (MT19937) and its functions live in rng.pxd; cimported here so that
# the loop finds them where it always did (table.Rng, table.RandomSource, table.rng_*).
from gateway_proxy.dataplane.rng cimport Rng, RandomSource, rng_seed, rng_random


# What the parser hands the matcher: spans into ``base``, nothing decoded or copied.
cdef struct RouteRequest:
    const char *base
    Span method
    Span path            # origin-form path, without query or fragment, as received
    Span query           # without "?" or fragment, as received (percent-decoding happens here)
    Span host            # the Host field (or absolute-form authority) as received: case, port, dot
    const HeaderSpan *headers   # every field as received, names in any case, repeats kept in order
    uint32_t header_count
    bint tls             # choose the TLS listener table (HTTPS listeners only)


cdef struct CName:
    uint32_t off
    uint32_t len


cdef struct CAddItem:
    CName name           # as configured
    CName lname          # lower-cased, for the skip test
    CName value


# A compiled Request/ResponseHeaderModifier (_hotpath_py.HeaderOps), every byte in the pool.
cdef struct CHeaderOps:
    CName set_lines      # pre-encoded "name: value\r\n" lines
    uint32_t names_first # into CTable.names: remove, then set, then add names (lower-cased)
    uint32_t remove_count
    uint32_t set_count
    uint32_t add_name_count
    uint32_t add_first   # into CTable.add_items
    uint32_t add_count


cdef struct CEndpoint:
    CName host           # as resolved (an address, or a name the loop must resolve)
    uint16_t port
    int32_t family       # AF_INET / AF_INET6 when ``host`` is an address literal, else 0
    uint8_t addr[16]     # the address in network order, when ``family`` is set
    int32_t backend


cdef struct CBackend:
    int32_t status       # 0 serves, 500 cannot resolve, 503 no ready endpoints
    int64_t weight
    int64_t cumulative   # running total of positive weights within the rule (Rule.cumulative)
    uint32_t endpoint_first
    uint32_t endpoint_count
    uint32_t cursor      # round robin: the next endpoint, relative to endpoint_first
    int32_t rule
    int32_t request_ops  # effective: the backendRef's merged modifier, else the rule's; -1 none
    int32_t response_ops


# A rule's CORS filter (cors.Policy): the request-independent parts, every string in the pool.
cdef struct CCors:
    uint8_t any_origin
    uint8_t credentials
    uint8_t any_method
    uint8_t any_header
    uint8_t expose_any
    uint32_t origin_first    # into CTable.cors_origins
    uint32_t origin_count
    CName methods        # Access-Control-Allow-Methods value; empty = omitted
    CName headers        # Access-Control-Allow-Headers value; empty = omitted
    CName expose         # Access-Control-Expose-Headers value; empty = omitted
    CName max_age        # Access-Control-Max-Age value, as text


# One allowed origin (cors.Origin): ``host`` exact, or the suffix a ``*`` stands before.
cdef struct COrigin:
    uint8_t https
    uint8_t wildcard
    uint32_t port
    CName host


# A rule's RequestRedirect: the Location's parts the rule alone decides (filters.location_parts),
# every string in the pool. The request's host, path and query complete it (loop_heads.out_location).
cdef struct CRedirect:
    CName lead           # "scheme://", then the configured hostname when there is one
    uint8_t request_host # 1: the request's host (normalize_host) follows the lead
    CName port           # ":port", empty for the scheme's well-known port
    int32_t path_kind    # REWRITE_* of the redirect's path modifier
    CName path           # ReplaceFullPath / ReplacePrefixMatch value
    uint8_t unwritable   # a part is not latin-1: the reference fails every answer (500, closed)


cdef struct CRule:
    uint32_t backend_first
    uint32_t backend_count
    int64_t total        # sum of positive weights; 0 means every request gets 500
    uint32_t mirror_first   # mirror backends, also in CTable.backends; weight = share of EVERY
    uint32_t mirror_count
    int32_t request_ops
    int32_t response_ops
    int32_t redirect     # index into CTable.redirects, -1 none
    int32_t redirect_status
    int32_t rewrite      # index into RouteTable.rewrites (resources.Rewrite), -1 none
    int32_t rewrite_kind
    CName rewrite_path   # ReplaceFullPath / ReplacePrefixMatch value
    int32_t rewrite_host # 1 when rewrite_hostname is set
    CName rewrite_hostname
    double request_timeout  # seconds, 0 none
    double backend_timeout
    uint16_t listener_port
    uint8_t https
    int32_t cors         # index into CTable.cors, -1 none
    # The rule's retries.Policy, as retries.py decided it (layout.retry_policy): retries after
    # the first attempt (0: the rule does not retry), the base interval and the cap in seconds,
    # and bit (status - RETRY_LOWEST_CODE) set for each status retried.
    uint32_t retry_attempts
    double retry_backoff
    double retry_cap
    uint8_t retry_codes[RETRY_CODE_BYTES]
    int32_t session      # index into CTable.sessions (sessions.Policy), -1 none


# A rule's session persistence (sessions.Policy), every string in the pool; the decisions on it
# are loop_sessions.pyx's (built only with OpenSSL's headers: the token is an HMAC).
cdef struct CSession:
    CName name           # cookie or header name
    CName lower_name     # the request header read back (type Header)
    uint8_t header       # type Header
    uint8_t permanent
    uint8_t secure
    double absolute      # seconds, 0 none
    double idle          # seconds, 0 none
    CName scope
    CName key
    uint32_t tag_first   # into CTable.session_tags: the opaque tag of each backend of the rule, in order
    uint32_t tag_count


cdef struct CCondition:
    CName name
    CName value          # latin-1 for headers, UTF-8 for query parameters; unused for regexes
    int32_t regex        # index into RouteTable.regexes, -1 for an exact comparison


cdef struct CMatch:
    int32_t rule
    int32_t path_kind
    CName path           # the match's path value (normalized prefix), for ReplacePrefixMatch
    int32_t path_regex   # index into RouteTable.regexes, -1 unless PATH_REGEX
    int32_t has_method
    CName method
    uint32_t cond_first  # headers then queries, in CTable.conditions
    uint32_t header_count
    uint32_t query_count
    uint8_t never        # a condition no request can meet (a value not representable on the wire)
    CName cookie_path    # sessions.cookie_path of this match, for a session rule's Set-Cookie


cdef struct CPathTable:
    uint32_t regex_first # regex matches, in precedence order, in CTable.bucket_items
    uint32_t regex_count
    uint8_t has_exact
    uint8_t has_prefix


cdef struct CBucket:
    uint32_t first       # matches in precedence order, in CTable.bucket_items
    uint32_t count


cdef struct CEntry:
    uint64_t hash
    uint32_t scope       # owner id << 2 | key kind: which index of which host index / path table
    CName key
    int32_t value        # host index, path table or bucket id; -1 marks an empty slot


cdef struct CTable:
    char *pool
    CEntry *entries
    uint64_t mask
    int32_t roots[2]     # host index ids of the plain and TLS listener indexes, -1 absent
    int32_t *host_defaults
    uint8_t *host_wildcards
    CPathTable *paths
    CBucket *buckets
    int32_t *bucket_items
    CMatch *matches
    CCondition *conditions
    CRule *rules
    CBackend *backends
    CEndpoint *endpoints
    CHeaderOps *ops
    CName *names
    CAddItem *add_items
    CCors *cors
    COrigin *cors_origins
    CRedirect *redirects
    CSession *sessions
    CName *session_tags
    uint32_t match_count
    uint32_t rule_count
    uint32_t backend_count
    uint32_t endpoint_count
    # Query decoding scratch (two buffers of scratch_len): sized at build time from the longest
    # exact query name or value, since a part longer than 3x the expected text cannot equal it.
    char *scratch
    uint32_t scratch_len
    int32_t *mirror_out  # Decision.mirror_endpoints points here; as long as the longest mirror list
    PyObject *regexes    # borrowed: RouteTable.regexes, compiled re.Pattern objects


# One request's decision, in the order the reference data path takes it (exchange.handle/begin):
# route, CORS preflight, redirect, weighted pick, backend status, mirrors, endpoint. Ids index the
# CTable arrays.
cdef struct Decision:
    int32_t status       # 0 forward; 404 no route; STATUS_PREFLIGHT (CRule.cors answers); 3xx redirect; 500; 503
    int32_t match
    int32_t rule
    int32_t backend      # -1 when no backend was picked (404, redirect, all weights zero)
    int32_t endpoint     # -1 unless status is 0
    uint32_t mirror_count
    const int32_t *mirror_endpoints   # endpoints of the mirrors that fire; valid until the next decision


cdef class RouteTable:
    cdef CTable c
    cdef readonly tuple matches      # the Python Match objects, by match id
    cdef readonly tuple rules        # the Python Rule objects, by rule id
    cdef readonly tuple backends     # the Python Backend objects (mirrors too), by backend id
    cdef readonly tuple rewrites
    cdef readonly tuple regexes
    cdef bytes _pool                 # the bytes CTable.pool copies, for the Python views
    cdef tuple _ops
    cdef bytes _text(self, CName name)


# A session rule's pinned backend (loop_sessions): the backend id a valid session names, or -1 to
# weigh afresh. route_decide asks it, when given, before it draws, as exchange.handle does.
ctypedef int32_t (*PinBackend)(void *context, const CTable *t, int32_t rule,
                               const RouteRequest *request) noexcept nogil


cdef uint32_t host_length(const char *host, uint32_t n) noexcept nogil
cdef uint8_t host_fold(uint8_t c) noexcept nogil
cdef int32_t route_match(CTable *t, const RouteRequest *request) noexcept nogil
cdef int32_t pick_backend(const CTable *t, int32_t rule, double fraction) noexcept nogil
cdef int32_t next_endpoint(CTable *t, int32_t backend) noexcept nogil
cdef void route_decide(CTable *t, const RouteRequest *request, Rng *rng, Decision *out, PinBackend pin,
                       void *context) noexcept nogil
