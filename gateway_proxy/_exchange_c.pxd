# C types for the compiled build of exchange.py (this module's .py is a symlink to it).
# It serves only with the compiled hot path and the compiled client and backend sides
# (serving.data_path), whose extension types it reads directly.
cimport cython

from gateway_proxy._downstream_c cimport ClientProtocol, Request
from gateway_proxy cimport _hotpath_c as impl
from gateway_proxy._hotpath_c cimport Backend, HostIndex, Match, Rule
from gateway_proxy._upstream_c cimport UpstreamProtocol


@cython.locals(method=str, version=str, target=bytes, raw_path=bytes, query=bytes, question=Py_ssize_t,
               hash_at=Py_ssize_t, headers=dict, parts=tuple)
cpdef prepare(Request request, object parser)

@cython.locals(runtime=object, match=Match, rule=Rule, backend=Backend, exchange=Exchange, table=HostIndex)
cpdef handle(ClientProtocol conn, Request request)


@cython.final
cdef class Exchange:
    cdef public ClientProtocol conn
    cdef public Request request
    cdef public Rule rule
    cdef public Backend backend
    cdef public Match match
    cdef public double started
    cdef public UpstreamProtocol upstream
    cdef public bint out_chunked
    cdef public bint head_sent
    cdef public object held
    cdef public int status
    cdef public tuple mirrors
    cdef public bint keep_alive
    cdef public object timer
    cdef public object connecting
    cdef public bint done
    cdef public bytes head
    cdef public object endpoint
    cdef public bint retried
    cdef public object affinity
    cdef public int attempts
    cdef public object replay
    cdef public Py_ssize_t replayed
    cdef public object attempt_timer
    cdef public object head_parts

    @cython.locals(runtime=object, framing=bytes, timeout=double, mirror_to=Backend)
    cpdef begin(self)
    @cython.locals(runtime=object, rule=Rule, upstream=UpstreamProtocol)
    cpdef _attempt(self)
    cpdef _connect(self)
    cpdef attach(self, UpstreamProtocol upstream)
    cpdef request_body(self, bytes chunk)
    cpdef request_end(self)
    cpdef upstream_paused(self)
    cpdef upstream_resumed(self)
    @cython.locals(headers=dict, framing=bytes)
    cpdef response_head(self, int status, bytes reason, list raw)
    @cython.locals(conn=ClientProtocol)
    cpdef response_body(self, bytes chunk)
    @cython.locals(tail=bytes)
    cpdef response_end(self)
    @cython.locals(upstream=UpstreamProtocol)
    cpdef upstream_done(self, bint ok)
    cpdef client_paused(self)
    cpdef client_resumed(self)
    @cython.locals(conn=ClientProtocol)
    cpdef fail(self, int status)
    cpdef abort(self)
