"""The C event loop's view of a route table, and the counters it writes, owned by Python.

Why it exists: Python compiles tables and owns the Prometheus registry; the loop thread must
reach both without the GIL. A :class:`LoopPlan` pins a :class:`~table.RouteTable` and gives each
of its rules and backends a counter block; the loop retires a plan (``retired``) once it is no
longer current and no exchange still uses it, and only then does Python drop it, so a reload
never frees a table under a request in flight. :class:`Counters` holds one block per label set
for the life of the process, as ``metrics.Metrics`` keeps its label children: counters never
reset when a reload renumbers backends. Blocks are read racily when /metrics is scraped.
"""

from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport calloc, free, realloc

from gateway_proxy.dataplane.loop_support cimport rs_load_int
from gateway_proxy.dataplane.loop_types cimport BUCKET_COUNT, CODE_SLOTS, MetricBlock, Plan
from gateway_proxy.dataplane.table cimport RouteTable


cdef class Counters:
    """Counter blocks by index; an index, once given, stays valid until this object dies (after
    the loop stopped)."""

    def __dealloc__(self):
        cdef uint32_t i
        if self.blocks != NULL:
            for i in range(self.count):
                free(self.blocks[i])
            free(self.blocks)

    cdef MetricBlock *block(self, uint32_t index):
        return self.blocks[index] if index < self.count else NULL

    def add(self):
        """A new zeroed block; its index."""
        cdef MetricBlock **grown
        cdef MetricBlock *block
        if self.count == self.cap:
            grown = <MetricBlock **>realloc(self.blocks, (self.cap * 2 + 64) * sizeof(MetricBlock *))
            if grown == NULL:
                raise MemoryError()
            self.blocks = grown
            self.cap = self.cap * 2 + 64
        block = <MetricBlock *>calloc(1, sizeof(MetricBlock))
        if block == NULL:
            raise MemoryError()
        self.blocks[self.count] = block
        self.count += 1
        return self.count - 1

    def read(self, uint32_t index):
        """(((code, count), ...), bucket counts, seconds, overflow) of one block, as now."""
        cdef MetricBlock *b = self.block(index)
        cdef int i
        if b == NULL:
            raise IndexError(index)
        codes = []
        for i in range(CODE_SLOTS):
            if b.codes[i] == 0:
                break
            codes.append((b.codes[i], b.counts[i]))
        return tuple(codes), tuple([b.buckets[i] for i in range(BUCKET_COUNT)]), b.seconds, b.overflow


cdef class LoopPlan:
    """A route table and, per rule and per backend, the counter block it counts into."""

    def __cinit__(self, RouteTable table, Counters counters, backend_blocks, rule_blocks):
        cdef uint32_t i
        if len(backend_blocks) != table.c.backend_count or len(rule_blocks) != table.c.rule_count:
            raise ValueError("one counter block per backend and per rule")
        self.table = table
        self.counters = counters
        self.c.table = &table.c
        self.c.owner = <void *>self
        self.c.backend_blocks = <MetricBlock **>calloc(len(backend_blocks) + 1, sizeof(MetricBlock *))
        self.c.rule_blocks = <MetricBlock **>calloc(len(rule_blocks) + 1, sizeof(MetricBlock *))
        if self.c.backend_blocks == NULL or self.c.rule_blocks == NULL:
            raise MemoryError()
        for i, index in enumerate(backend_blocks):
            self.c.backend_blocks[i] = counters.block(index)
        for i, index in enumerate(rule_blocks):
            self.c.rule_blocks[i] = counters.block(index)

    def __dealloc__(self):
        free(self.c.backend_blocks)
        free(self.c.rule_blocks)

    @property
    def seen(self):
        return bool(rs_load_int(&self.c.seen))

    @property
    def retired(self):
        return bool(rs_load_int(&self.c.retired))
