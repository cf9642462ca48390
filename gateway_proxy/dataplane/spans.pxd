# The shared vocabulary of the C data plane: a request or response is never copied into Python
# objects; its parts are spans (offset, length) into the connection's receive buffer. The parser
# (http1) fills them, the route table (table) reads them.
from libc.stdint cimport uint32_t


cdef struct Span:
    uint32_t off
    uint32_t len


cdef struct HeaderSpan:
    Span name
    Span value
