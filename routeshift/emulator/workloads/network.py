"""Pod IPs: a distinct loopback address per Pod, from a /16 that is this emulator's alone.

Every Pod's processes bind their own address (as every Pod has its own network namespace
in a cluster), so two replicas can both listen on containerPort 9898 and EndpointSlices
list real, connectable addresses. Linux routes all of 127.0.0.0/8 to the loopback
interface, so 127.B.x.y works without any setup. The second octet is chosen per emulator
(never 0, where 127.0.0.1 lives) and kept unique within the process; a random start makes
a clash with an emulator in another process unlikely.
"""

from __future__ import annotations

import ipaddress
import random
import threading

_TAKEN: set[int] = set()
_LOCK = threading.Lock()


def _claim(preferred: int | None) -> int:
    with _LOCK:
        if preferred is not None:
            _TAKEN.add(preferred)
            return preferred
        start = random.randrange(2, 255)
        for offset in range(253):
            block = 2 + (start - 2 + offset) % 253
            if block not in _TAKEN:
                _TAKEN.add(block)
                return block
        raise RuntimeError("no free 127.B.0.0/16 block left for Pod IPs in this process")


class PodNetwork:
    """Hands out ``127.B.x.y`` addresses, not reusing one until the block wraps around."""

    def __init__(self, cidr: str | None = None) -> None:
        preferred = None
        if cidr is not None:
            network = ipaddress.ip_network(cidr, strict=False)
            octets = network.network_address.packed
            if network.prefixlen != 16 or octets[0] != 127 or octets[1] == 0:
                raise ValueError(f"pod_network must be a 127.B.0.0/16 with B > 0, got {cidr!r}")
            preferred = octets[1]
        self.block = _claim(preferred)
        self._next = 1
        self._used: set[str] = set()

    @property
    def cidr(self) -> str:
        return f"127.{self.block}.0.0/16"

    def allocate(self) -> str:
        for _ in range(256 * 256):
            index, self._next = self._next, self._next + 1 if self._next < 256 * 256 - 2 else 1
            high, low = divmod(index, 256)
            if low in (0, 255):
                continue
            address = f"127.{self.block}.{high}.{low}"
            if address not in self._used:
                self._used.add(address)
                return address
        raise RuntimeError(f"no free Pod IP left in {self.cidr}")

    def release(self, address: str) -> None:
        self._used.discard(address)

    def close(self) -> None:
        with _LOCK:
            _TAKEN.discard(self.block)
