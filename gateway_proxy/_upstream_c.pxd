# C types for the compiled build of upstream.py (this module's .py is a symlink to it).
cimport cython

from gateway_proxy._exchange_c cimport Exchange


@cython.final
cdef class UpstreamProtocol:
    cdef public Pool pool
    cdef public object key
    cdef public object transport
    cdef public object parser
    cdef public Exchange sink
    cdef public int status
    cdef public list raw_headers
    cdef public bint reusable
    cdef public bint closed
    cdef public bint no_body
    cdef public bint request_done
    cdef public bytes reason
    cdef public bint reused

    cpdef start(self, Exchange sink, bint no_body)
    cpdef bint _framed(self)
    cpdef _finish(self, bint ok)
    cpdef release(self)
    cpdef close(self)


@cython.final
cdef class Pool:
    cdef public dict idle
    cdef public object loop

    cpdef UpstreamProtocol take(self, object key)
    cpdef put(self, UpstreamProtocol connection)
    cpdef forget(self, UpstreamProtocol connection)
