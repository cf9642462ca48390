# What Python hands the C event loop: route tables with their counter blocks, and weight changes
# to the current one (loop_plans.pyx).
from libc.stdint cimport uint32_t

from gateway_proxy.dataplane.loop_types cimport MetricBlock, Plan, Reweigh
from gateway_proxy.dataplane.table cimport RouteTable


cdef class Counters:
    cdef MetricBlock **blocks
    cdef uint32_t count
    cdef uint32_t cap
    cdef MetricBlock *block(self, uint32_t index)


cdef class LoopPlan:
    cdef Plan c
    cdef readonly RouteTable table
    cdef readonly Counters counters


cdef class Reweighing:
    cdef Reweigh c
    cdef readonly LoopPlan plan


cdef void reweigh_apply(Reweigh *w) noexcept nogil
