"""The C event loop's view of a route table, and the counters it writes, owned by Python.

Why it exists: Python compiles tables and owns the Prometheus registry; the loop thread must
reach both without the GIL. A :class:`LoopPlan` pins a :class:`~table.RouteTable` and gives each
of its rules and backends a counter block; the loop retires a plan (``retired``) once it is no
longer current and no exchange still uses it, and only then does Python drop it, so a reload
never frees a table under a request in flight. :class:`Counters` holds one block per label set
for the life of the process, as ``metrics.Metrics`` keeps its label children: counters never
reset when a reload renumbers backends. Blocks are read racily when /metrics is scraped.

A reload that changes backend weights only does not build a new table: a :class:`Reweighing`
carries the new weights of the rules that changed, and the loop applies it to its current
table itself (:func:`reweigh_apply`, from ``Loop.reweigh``). Rule and backend ids, hence
counter blocks, stay what they were.
"""

from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, realloc

from gateway_proxy.dataplane.loop_support cimport rs_load_int
from gateway_proxy.dataplane.loop_types cimport (BUCKET_COUNT, CODE_SLOTS, REWEIGH_APPLIED, REWEIGH_PENDING,
                                                 REWEIGH_REFUSED, MetricBlock, Plan, Reweigh)
from gateway_proxy.dataplane.table cimport CBackend, CRule, CTable, RouteTable

# Reweighing.outcome, for Python.
PENDING, APPLIED, REFUSED = REWEIGH_PENDING, REWEIGH_APPLIED, REWEIGH_REFUSED


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


cdef class Reweighing:
    """New weights for rules of one plan's table, for the loop to apply (``Loop.reweigh``).

    ``changes`` holds ``(rule id, total, ((weight, cumulative), ...))`` per rule, one pair per
    backend of the rule in table order, as ``_hotpath_py.Rule`` derives them (``total`` and
    ``cumulative`` count positive weights only). Checked against the table here, so that the loop
    only copies numbers.
    """

    def __cinit__(self, LoopPlan plan, changes):
        cdef CTable *t = &plan.table.c
        cdef uint32_t i, at = 0, backends = 0
        changes = tuple(changes)
        for rule_id, total, weights in changes:
            if not 0 <= rule_id < t.rule_count:
                raise IndexError(rule_id)
            if len(weights) != t.rules[rule_id].backend_count:
                raise ValueError(f"rule {rule_id} has {t.rules[rule_id].backend_count} backends, not {len(weights)}")
            backends += len(weights)
        self.plan = plan
        self.c.plan = &plan.c
        self.c.rule_count = len(changes)
        self.c.rules = <int32_t *>calloc(len(changes) + 1, sizeof(int32_t))
        self.c.totals = <int64_t *>calloc(len(changes) + 1, sizeof(int64_t))
        self.c.weights = <int64_t *>calloc(backends + 1, sizeof(int64_t))
        self.c.cumulative = <int64_t *>calloc(backends + 1, sizeof(int64_t))
        if self.c.rules == NULL or self.c.totals == NULL or self.c.weights == NULL or self.c.cumulative == NULL:
            raise MemoryError()
        for i, (rule_id, total, weights) in enumerate(changes):
            self.c.rules[i], self.c.totals[i] = rule_id, total
            for weight, cumulative in weights:
                self.c.weights[at], self.c.cumulative[at] = weight, cumulative
                at += 1

    def __dealloc__(self):
        free(self.c.rules)
        free(self.c.totals)
        free(self.c.weights)
        free(self.c.cumulative)

    @property
    def outcome(self):
        """PENDING, APPLIED, or REFUSED (its plan was not the loop's current one)."""
        return rs_load_int(&self.c.outcome)


cdef void reweigh_apply(Reweigh *w) noexcept nogil:
    """Copy the new weights into the table of ``w.plan``; the loop thread's own, between events."""
    cdef CTable *t = w.plan.table
    cdef CRule *rule
    cdef CBackend *b
    cdef uint32_t i, k, at = 0
    for i in range(w.rule_count):
        rule = &t.rules[w.rules[i]]
        for k in range(rule.backend_count):
            b = &t.backends[rule.backend_first + k]
            b.weight = w.weights[at]
            b.cumulative = w.cumulative[at]
            at += 1
        rule.total = w.totals[i]
