# The bytes the C event loop writes that are not copied through: request heads for backends,
# response heads for clients, the proxy's own answers; all into growable output buffers.
from libc.stdint cimport int32_t, uint32_t

from gateway_proxy.dataplane.http1 cimport RequestHead, ResponseHead
from gateway_proxy.dataplane.spans cimport HeaderSpan, Span
from gateway_proxy.dataplane.table cimport CTable, Decision

cdef enum:
    # An output buffer never grows past this: a peer that stops reading is dropped, not fed.
    OUT_LIMIT = 64 * 1024 * 1024


# Pending output of one socket: [start, end) of data is still to be written.
cdef struct Out:
    char *data
    uint32_t start
    uint32_t end
    uint32_t cap


cdef bint out_put(Out *o, const char *p, size_t n) noexcept nogil
cdef bint out_put_hex_line(Out *o, size_t n) noexcept nogil
cdef void out_free(Out *o) noexcept nogil
cdef void out_compact(Out *o) noexcept nogil
cdef bint out_simple(Out *o, int status, bint keep_alive, const char *extra, uint32_t extra_len) noexcept nogil
cdef bint out_request_head(Out *o, const char *base, const RequestHead *h, const CTable *t, const Decision *d,
                           const char *peer, uint32_t peer_len, bint upgrade) noexcept nogil
cdef bint out_response_head(Out *o, const char *base, const ResponseHead *h, const CTable *t, int32_t ops,
                            bint head_request, bint client_11, bint *keep_alive, bint *out_chunked,
                            const Out *lead, const Out *cors) noexcept nogil
cdef bint out_switch_head(Out *o, const char *base, const ResponseHead *h, const CTable *t,
                          int32_t ops_id) noexcept nogil
cdef bint out_location(Out *o, const char *base, const RequestHead *h, const CTable *t,
                       const Decision *d) noexcept nogil
cdef bint response_framed(const char *base, const ResponseHead *h) noexcept nogil
cdef bint out_effective_host(Out *o, const char *base, const RequestHead *h, bint *found) noexcept nogil
cdef bint out_field(Out *o, const char *base, const HeaderSpan *headers, uint32_t count, const char *lname,
                   uint32_t n, bint *found) noexcept nogil
cdef bint cors_owned(const char *base, Span name) noexcept nogil
