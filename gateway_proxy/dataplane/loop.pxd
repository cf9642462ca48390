# The C event loop of one worker (loop.pyx): the object Python starts, feeds tables and stops.
from gateway_proxy.dataplane.loop_plans cimport Counters
from gateway_proxy.dataplane.loop_types cimport LoopState


cdef class Loop:
    cdef LoopState *L
    cdef readonly Counters counters
    cdef bint ran
