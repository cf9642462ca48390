"""The C event loop's counters reach /metrics under the contract names, as the asyncio path's do.

The loop counts in C; the exposition folds those counts into the same Prometheus children when
scraped. The same requests sent through both data paths must give the same series: names, labels,
codes, counts, and histogram bucket bounds (the bucket an observation falls in depends on its
duration, so only the count of observations is compared per series).
"""

from __future__ import annotations

import re

from prometheus_client import generate_latest

from gateway_proxy import metrics
from gw_harness import backend, route, rule
from test_loop_parity import Pair, RawBackend, start_proxy

_SAMPLE = re.compile(r"^(\w+)\{(.*)\} (\S+)$")


def series(proxy) -> dict:
    """Every sample of the contract metrics except bucket counts and sums, by name and labels."""
    out = {}
    for line in generate_latest(proxy.runtime.metrics.registry).decode().splitlines():
        found = _SAMPLE.match(line)
        if not found or not found.group(1).startswith("routeshift_gateway_"):
            continue
        name, labels, value = found.groups()
        if name.endswith("_created") or name.endswith("_sum"):
            continue
        if name.endswith("_bucket") and 'le="+Inf"' not in labels:
            continue
        out[(name, labels)] = float(value)
    return out


def bounds(proxy) -> list[str]:
    text = generate_latest(proxy.runtime.metrics.registry).decode()
    return sorted(set(re.findall(r'request_duration_seconds_bucket\{.*le="([^"]+)"', text)))


def test_counters_and_histograms_match_the_asyncio_path(monkeypatch, tmp_path):
    servers = {"a": RawBackend("a"), "b": RawBackend("b"), "down": None}
    reference = start_proxy(monkeypatch, tmp_path, "asyncio", "reference")
    candidate = start_proxy(monkeypatch, tmp_path, "c", "candidate")
    try:
        pair = Pair(reference, candidate, servers)
        pair.deploy([route("r", [rule([backend("a")])], hostnames=["example.com"]),
                     route("s", [rule([backend("b")])], hostnames=["s.example"]),
                     route("u", [rule([backend("down")])], hostnames=["u.example"]),
                     route("x", [rule([backend("a")], matches=[{"path": {"type": "Exact", "value": "/x"}}])],
                           hostnames=["x.example"])])
        requests = ([b"GET /n/%d HTTP/1.1\r\nHost: example.com\r\n\r\n" % n for n in range(7)]
                    + [b"GET /status-only HTTP/1.1\r\nHost: example.com\r\n\r\n"] * 2
                    + [b"GET / HTTP/1.1\r\nHost: s.example\r\n\r\n"] * 3
                    + [b"GET / HTTP/1.1\r\nHost: u.example\r\n\r\n"] * 2
                    + [b"GET /other HTTP/1.1\r\nHost: x.example\r\n\r\n"] * 4)
        for data in requests:
            pair.both(data)
        expected = series(reference)
        assert expected[("routeshift_gateway_requests_total",
                         'backend="a",backend_namespace="default",code="200",namespace="default",route="r"')] == 7
        assert series(candidate) == expected
        assert bounds(candidate) == bounds(reference)
        assert len(bounds(candidate)) == len(metrics.BUCKETS) + 1
        # A second scrape folds in only what happened since the first.
        pair.both(requests[0])
        key = ("routeshift_gateway_requests_total",
               'backend="a",backend_namespace="default",code="200",namespace="default",route="r"')
        assert series(candidate)[key] == 8
    finally:
        reference.stop()
        candidate.stop()
        for server in servers.values():
            if server is not None:
                server.stop()
