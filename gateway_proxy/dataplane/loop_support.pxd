# Helpers of the C event loop with one job each: the clock, the timer heap, the idle backend pool,
# the request/response head free lists, deferred frees, counters, and atomics shared with Python.
from libc.stdint cimport int64_t, uint8_t, uint64_t

from gateway_proxy.dataplane.http1 cimport RequestHead, ResponseHead
from gateway_proxy.dataplane.loop_types cimport Client, LoopState, MetricBlock, Upstream

cdef extern from *:
    """
    static inline void *rs_load_ptr(void **p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
    static inline void rs_store_ptr(void **p, void *v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
    static inline int rs_load_int(int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
    static inline void rs_store_int(int *p, int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
    static inline void *rs_swap_ptr(void **p, void *v) { return __atomic_exchange_n(p, v, __ATOMIC_ACQ_REL); }
    """
    void *rs_load_ptr(void **p) nogil
    void rs_store_ptr(void **p, void *v) nogil
    int rs_load_int(int *p) nogil
    void rs_store_int(int *p, int v) nogil
    void *rs_swap_ptr(void **p, void *v) nogil

cdef double now() noexcept nogil
cdef double wall_clock() noexcept nogil

cdef bint timer_set(LoopState *L, Client *c, double deadline) noexcept nogil
cdef void timer_clear(LoopState *L, Client *c) noexcept nogil
cdef Client *timer_due(LoopState *L, double at) noexcept nogil

cdef Upstream *pool_take(LoopState *L, const uint8_t *key) noexcept nogil
cdef bint pool_put(LoopState *L, Upstream *u) noexcept nogil
cdef void pool_forget(LoopState *L, Upstream *u) noexcept nogil

cdef RequestHead *take_request_head(LoopState *L) noexcept nogil
cdef void give_request_head(LoopState *L, RequestHead *h) noexcept nogil
cdef ResponseHead *take_response_head(LoopState *L) noexcept nogil
cdef void give_response_head(LoopState *L, ResponseHead *h) noexcept nogil

cdef bint defer_free(LoopState *L, void *p) noexcept nogil
cdef void free_dead(LoopState *L) noexcept nogil

cdef void observe(MetricBlock *block, int code, double seconds) noexcept nogil
