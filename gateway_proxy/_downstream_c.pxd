# C types for the compiled build of downstream.py (this module's .py is a symlink to it).
# Attributes stay public: the pure build, the exchange and the tests read the same names.
cimport cython

from gateway_proxy cimport _exchange_c as exchange
from gateway_proxy._exchange_c cimport Exchange


@cython.final
cdef class Request:
    cdef public str method
    cdef public bytes target
    cdef public str path
    cdef public str query
    cdef public list raw_headers
    cdef public dict headers
    cdef public str host
    cdef public bint keep_alive
    cdef public bint chunked
    cdef public bint has_body
    cdef public list buffer
    cdef public Py_ssize_t buffered
    cdef public bint complete
    cdef public Exchange writer
    cdef public bint responded
    cdef public int error
    cdef public int host_fields
    cdef public str upgrade


@cython.final
cdef class ClientProtocol:
    cdef public object runtime
    cdef public bint tls
    cdef public object transport
    cdef public object parser
    cdef public str peer
    cdef public Request request
    cdef public object pending
    cdef public Request active
    cdef public bint in_head
    cdef public Py_ssize_t head_bytes
    cdef public Py_ssize_t head_size
    cdef public Py_ssize_t url_bytes
    cdef public bint closing
    cdef public object timer
    cdef public double waiting_since
    cdef public int read_pauses
    cdef public bint write_paused
    cdef public Exchange running
    cdef public bint upgrade
    cdef public int rejected

    cpdef _arm_timer(self)
    cpdef pause_reading(self, int reason)
    cpdef resume_reading(self, int reason)
    cpdef _next(self)
    cpdef finished(self, Request request, bint keep_alive)
    cpdef _after(self, Request request)
    cpdef write(self, bytes data)
    cpdef reject(self, int status)
    cpdef close(self)
