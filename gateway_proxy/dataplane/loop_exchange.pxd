# One request through the C event loop (loop_exchange.pyx); loop.pyx dispatches events to these.
from gateway_proxy.dataplane.loop_types cimport Client, LoopState, Upstream

cdef void client_drive(LoopState *L, Client *c) noexcept nogil
cdef void client_close(LoopState *L, Client *c) noexcept nogil
cdef void client_flush(LoopState *L, Client *c) noexcept nogil
cdef void client_timeout(LoopState *L, Client *c) noexcept nogil
cdef void upstream_event(LoopState *L, Upstream *u, unsigned int events) noexcept nogil
cdef void upstream_close(LoopState *L, Upstream *u) noexcept nogil
