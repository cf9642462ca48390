"""Which hosts a load run may target: the operator's allow-list of networks and host names.

A loadtester reachable by every Canary owner would otherwise be a request cannon pointing
wherever a webhook's metadata says. The operator lists what it may hit (``--allow-target``,
repeated): CIDRs (``10.0.0.0/8``, ``127.0.0.1/32``) for URLs with an IP address, and host
names (``web.shop.svc.cluster.local``) or suffix patterns (``*.shop.svc.cluster.local``) for
URLs with a name. Names are matched as written, never resolved: what the generator connects
to is what was checked, and no DNS answer can widen the list. Redirects are not followed,
so an allowed target cannot send the load elsewhere either.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclasses.dataclass(frozen=True)
class AllowList:
    """Networks for IP-address hosts, exact names and ``*.`` suffixes for host names."""

    networks: tuple[Network, ...] = ()
    names: tuple[str, ...] = ()  # lower case, no trailing dot
    suffixes: tuple[str, ...] = ()  # ".shop.svc" for "*.shop.svc"

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """Build from ``--allow-target`` values; ValueError names the first entry that is neither."""
        networks: list[Network] = []
        names: list[str] = []
        suffixes: list[str] = []
        for entry in entries:
            text = entry.strip().lower().rstrip(".")
            if text.startswith("*."):
                suffix = text[1:]
                _check_name(suffix[1:], entry)
                suffixes.append(suffix)
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
                continue
            except ValueError:
                pass
            _check_name(text, entry)
            names.append(text)
        return cls(tuple(networks), tuple(names), tuple(suffixes))

    def permits(self, host: str) -> bool:
        """True when ``host`` (a URL's host: an IP literal or a name) may be targeted."""
        host = host.strip().lower().strip("[]").rstrip(".")
        if not host:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host in self.names or any(host.endswith(suffix) for suffix in self.suffixes)
        return any(address in network for network in self.networks)

    def describe(self) -> str:
        entries = [str(n) for n in self.networks] + list(self.names) + [f"*{s}" for s in self.suffixes]
        return ", ".join(entries) or "nothing"


def _check_name(name: str, entry: str) -> None:
    labels = name.split(".")
    if not name or not all(label and len(label) <= 63 and all(c.isalnum() or c == "-" for c in label)
                           for label in labels):
        raise ValueError(f"--allow-target {entry!r} is neither a CIDR, a host name nor a '*.suffix' pattern")
