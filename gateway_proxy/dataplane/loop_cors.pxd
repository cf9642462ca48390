# The CORS filter in the C event loop (loop_cors.pyx): cors.py's answers from a rule's CCors.
from libc.stdint cimport uint32_t

from gateway_proxy.dataplane.loop_heads cimport Out
from gateway_proxy.dataplane.spans cimport HeaderSpan
from gateway_proxy.dataplane.table cimport CCors, CTable

cdef bint cors_allowed(const CTable *t, const CCors *policy, const char *origin, uint32_t n) noexcept nogil
cdef int cors_preflight(Out *o, Out *scratch, const char *base, const HeaderSpan *headers, uint32_t count,
                        const CTable *t, const CCors *policy, bint keep_alive) noexcept nogil
cdef bint cors_response_lines(Out *o, const CTable *t, const CCors *policy, const char *origin, uint32_t n,
                              const char *base, const HeaderSpan *headers, uint32_t count) noexcept nogil
