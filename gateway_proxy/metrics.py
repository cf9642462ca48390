"""Prometheus metrics of the data path, with label children bound once per backend.

The contract (DESIGN.md section 5): ``routeshift_gateway_requests_total`` {namespace, route,
backend_namespace, backend, code} and ``routeshift_gateway_request_duration_seconds``
{namespace, route, backend_namespace, backend}. ``labels()`` costs a lock and a dict lookup per
call, so each backend of the routing table gets a :class:`BackendMetrics` holding its children,
kept across reloads so counters never reset when a weight changes.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REQUESTS = "routeshift_gateway_requests_total"
DURATION = "routeshift_gateway_request_duration_seconds"
_LABELS = ("namespace", "route", "backend_namespace", "backend")
# Fine steps between 50 ms and 500 ms, where service p99s live: histogram_quantile
# interpolates inside a bucket, and with coarse buckets (100 -> 250 ms) a +20 % p99
# regression shrinks to a few percent in the query result (bench/analysis_quality.py).
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5,
           0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)


class BackendMetrics:
    """The children of one (route, backend) pair; ``observe`` is the only per-request call."""

    __slots__ = ("_counter", "_labels", "_codes", "_duration")

    def __init__(self, counter: Counter, histogram: Histogram, labels: tuple[str, str, str, str]):
        self._counter = counter
        self._labels = labels
        self._codes: dict[int, object] = {}
        self._duration = histogram.labels(*labels)

    def observe(self, code: int, seconds: float) -> None:
        child = self._codes.get(code)
        if child is None:
            child = self._codes[code] = self._counter.labels(*self._labels, str(code))
        child.inc()
        self._duration.observe(seconds)


class Metrics:
    """The registry and the per-backend children of one proxy process."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry if registry is not None else CollectorRegistry()
        self.requests = Counter(REQUESTS.removesuffix("_total"), "Requests answered by the gateway proxy.",
                                _LABELS + ("code",), registry=self.registry)
        self.duration = Histogram(DURATION, "Time from request head to the end of the response.", _LABELS,
                                  buckets=BUCKETS, registry=self.registry)
        self._bound: dict[tuple, BackendMetrics] = {}
        # Requests no rule matched: no route, no backend.
        self.unrouted = self.bind("", "", "", "")

    def bind(self, namespace: str, route: str, backend_namespace: str, backend: str) -> BackendMetrics:
        key = (namespace, route, backend_namespace, backend)
        bound = self._bound.get(key)
        if bound is None:
            bound = self._bound[key] = BackendMetrics(self.requests, self.duration, key)
        return bound

    def bind_rules(self, rules) -> None:
        """Attach children to every rule and backend of a freshly compiled table.

        Rules the compile cache carried over already hold theirs and are skipped.
        """
        for rule in rules:
            if rule.metrics is not None:
                continue
            rule.metrics = self.bind(rule.namespace, rule.route, "", "")
            for backend in rule.backends:
                backend.metrics = self.bind(rule.namespace, rule.route, backend.namespace, backend.name)
            # Mirrored responses are counted for the backend that answered them, as a mesh
            # sidecar would: a RequestMirror stage is judged on the canary's answers to the copies.
            for mirror in rule.mirrors:
                mirror.metrics = self.bind(rule.namespace, rule.route, mirror.namespace, mirror.name)
