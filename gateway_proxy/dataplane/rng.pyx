"""CPython's Mersenne Twister in C, so that the data plane draws the doubles Python draws.

Why it exists: weighted picks and mirror shares must be reproducible against the pure-Python
reference, which draws from ``random.random()``. Seeded alike (``random.Random(seed)``), this
generator yields the same doubles, draw for draw, so the route table's decision sequence can be
compared with the reference's; and ``rng_random`` is ``nogil``, so the event loop draws without
touching a Python object. The algorithm is ``Modules/_randommodule.c`` (MT19937, ``init_by_array``
seeding, 53-bit doubles); ``table.pxd`` re-exports it for the loop.
"""

from libc.stdint cimport uint32_t, uint64_t


cdef void _mt_init(Rng *rng, uint32_t seed) noexcept nogil:
    cdef uint32_t i
    rng.state[0] = seed
    for i in range(1, 624):
        rng.state[i] = <uint32_t>(<uint32_t>1812433253 * (rng.state[i - 1] ^ (rng.state[i - 1] >> 30)) + i)
    rng.index = 624


cdef void rng_seed(Rng *rng, uint64_t seed) noexcept nogil:
    """random.seed(n) for 0 <= n < 2**64: init_by_array over n's 32-bit words, low word first."""
    cdef uint32_t key[2]
    cdef uint32_t length = 2 if seed >> 32 else 1
    cdef uint32_t i = 1, j = 0, k
    key[0] = <uint32_t>seed
    key[1] = <uint32_t>(seed >> 32)
    _mt_init(rng, 19650218)
    k = 624 if 624 > length else length
    while k:
        rng.state[i] = <uint32_t>((rng.state[i] ^ ((rng.state[i - 1] ^ (rng.state[i - 1] >> 30)) * <uint32_t>1664525))
                                  + key[j] + j)
        i += 1
        j += 1
        if i >= 624:
            rng.state[0] = rng.state[623]
            i = 1
        if j >= length:
            j = 0
        k -= 1
    k = 623
    while k:
        rng.state[i] = <uint32_t>((rng.state[i] ^ ((rng.state[i - 1] ^ (rng.state[i - 1] >> 30)) * <uint32_t>1566083941))
                                  - i)
        i += 1
        if i >= 624:
            rng.state[0] = rng.state[623]
            i = 1
        k -= 1
    rng.state[0] = 0x80000000U


cdef uint32_t _mt_next(Rng *rng) noexcept nogil:
    cdef uint32_t y
    cdef int kk
    if rng.index >= 624:
        for kk in range(624 - 397):
            y = (rng.state[kk] & 0x80000000U) | (rng.state[kk + 1] & 0x7fffffffU)
            rng.state[kk] = rng.state[kk + 397] ^ (y >> 1) ^ (0x9908b0dfU if y & 1 else 0)
        for kk in range(624 - 397, 623):
            y = (rng.state[kk] & 0x80000000U) | (rng.state[kk + 1] & 0x7fffffffU)
            rng.state[kk] = rng.state[kk + 397 - 624] ^ (y >> 1) ^ (0x9908b0dfU if y & 1 else 0)
        y = (rng.state[623] & 0x80000000U) | (rng.state[0] & 0x7fffffffU)
        rng.state[623] = rng.state[396] ^ (y >> 1) ^ (0x9908b0dfU if y & 1 else 0)
        rng.index = 0
    y = rng.state[rng.index]
    rng.index += 1
    y ^= y >> 11
    y ^= (y << 7) & 0x9d2c5680U
    y ^= (y << 15) & 0xefc60000U
    y ^= y >> 18
    return y


cdef double rng_random(Rng *rng) noexcept nogil:
    """random.random(): 53 random bits in [0, 1)."""
    cdef uint32_t a = _mt_next(rng) >> 5
    cdef uint32_t b = _mt_next(rng) >> 6
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)


cdef class RandomSource:
    """A worker's random source for weighted picks and mirror shares (``random.Random(seed)`` in C)."""

    def __init__(self, seed):
        seed = abs(int(seed))  # random.seed uses abs(n) too
        if seed >= 2 ** 64:
            raise ValueError("seed must be below 2**64")
        rng_seed(&self.rng, seed)

    def random(self):
        return rng_random(&self.rng)
