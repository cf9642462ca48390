# The C interface of CPython's Mersenne Twister (rng.pyx), cimported by the route table and the loop
# (table.pxd re-exports it). A worker owns one Rng; nothing here is shared between threads.
from libc.stdint cimport uint32_t, uint64_t


# CPython's random.Random state (MT19937): seeded alike, both draw the same doubles.
cdef struct Rng:
    uint32_t state[624]
    uint32_t index


cdef class RandomSource:
    cdef Rng rng


cdef void rng_seed(Rng *rng, uint64_t seed) noexcept nogil
cdef double rng_random(Rng *rng) noexcept nogil
