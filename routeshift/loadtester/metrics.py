"""The loadtester's own Prometheus metrics, served on its ``/metrics``.

They show what the load runs did independently of the target's metrics: if the canary's
request count does not move while ``routeshift_loadtester_requests_total`` climbs, the
load reaches something else (a wrong URL or Host header). Series are labelled by the
Canary that asked (namespace, name), which bounds their number by the number of Canaries.
A private registry per server keeps tests and several servers in one process apart.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """Every ``routeshift_loadtester_*`` metric, registered in one registry."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "routeshift_loadtester_requests", "Completed load requests by result: status class (2xx, 5xx, ...) "
            "or error kind (connect, timeout, other).", ["namespace", "name", "result"], registry=r)
        self.dropped = Counter(
            "routeshift_loadtester_dropped_requests", "Scheduled load requests not sent because the run's "
            "concurrency was exhausted.", ["namespace", "name"], registry=r)
        self.latency = Histogram(
            "routeshift_loadtester_request_duration_seconds", "Time from sending a load request to its "
            "complete answer.", ["namespace", "name"], buckets=_LATENCY_BUCKETS, registry=r)
        self.running = Gauge("routeshift_loadtester_running_generators", "Load runs in progress.", registry=r)
        self.hooks = Counter(
            "routeshift_loadtester_hook_calls", "Webhook calls by answer: started, joined, passed, failed "
            "(maxErrorRate exceeded), bad_request, unauthorized, refused (allow-list), busy.",
            ["answer"], registry=r)
