# One request through the C event loop (loop_exchange.pyx) and its mirror copies; loop.pyx dispatches
# events and timers to these.
from gateway_proxy.dataplane.loop_types cimport Client, LoopState, Mirror, Upstream

cdef void client_drive(LoopState *L, Client *c) noexcept nogil
cdef void client_close(LoopState *L, Client *c) noexcept nogil
cdef void client_flush(LoopState *L, Client *c) noexcept nogil
cdef void client_timeout(LoopState *L, Client *c) noexcept nogil
cdef void upstream_event(LoopState *L, Upstream *u, unsigned int events) noexcept nogil
cdef void upstream_close(LoopState *L, Upstream *u) noexcept nogil
cdef void mirror_event(LoopState *L, Mirror *m, unsigned int events) noexcept nogil
cdef void mirrors_expire(LoopState *L, double at) noexcept nogil
cdef void mirrors_close_all(LoopState *L) noexcept nogil
