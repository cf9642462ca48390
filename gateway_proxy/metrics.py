"""Prometheus metrics of the data path, with label children bound once per backend.

The contract (DESIGN.md section 5): ``routeshift_gateway_requests_total`` {namespace, route,
backend_namespace, backend, code} and ``routeshift_gateway_request_duration_seconds``
{namespace, route, backend_namespace, backend}. ``labels()`` costs a lock and a dict lookup per
call, so each backend of the routing table gets a :class:`BackendMetrics` holding its children,
kept across reloads so counters never reset when a weight changes.
"""

from __future__ import annotations

from bisect import bisect_left

from prometheus_client import CollectorRegistry, Counter, Histogram

REQUESTS = "routeshift_gateway_requests_total"
DURATION = "routeshift_gateway_request_duration_seconds"
# gRPC calls (GRPCRoute) count in REQUESTS and DURATION like any request, with their HTTP status
# as ``code``, and here once more with the call's gRPC status code ("0", "14"...) as ``grpc_status``.
GRPC_REQUESTS = "routeshift_gateway_grpc_requests_total"
_LABELS = ("namespace", "route", "backend_namespace", "backend")
# Fine steps between 50 ms and 500 ms, where service p99s live: histogram_quantile
# interpolates inside a bucket, and with coarse buckets (100 -> 250 ms) a +20 % p99
# regression shrinks to a few percent in the query result (bench/analysis_quality.py).
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5,
           0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
# The histogram's upper bounds as prometheus_client stores them: an observation goes to the first
# bucket whose bound is >= it, which is what bisect_left finds.
_BOUNDS = BUCKETS + (float("inf"),)


class BackendMetrics:
    """The children of one (route, backend) pair; ``observe`` is the only per-request call.

    ``observe`` runs once per request, so it updates the children's value cells itself instead of
    calling ``Counter.inc`` and ``Histogram.observe``, which take a lock three times and scan the
    buckets in Python (about 1.5 µs per request instead of 0.2 µs). In one process
    every update comes from the event-loop thread that owns this runtime, so the lock protects
    nothing a plain float update does not; prometheus_client's scrape reads the same cells. With
    ``--workers N`` the cells are mmap-backed files and keep going through ``inc``, which writes
    the file. The cell layout is prometheus_client 0.26's (pinned in pyproject.toml);
    ``tests/gateway_proxy/test_metrics_fast_path.py`` proves the exposition equals the public API's.
    """

    __slots__ = ("_counter", "_labels", "_codes", "_sum", "_buckets", "_shared")

    def __init__(self, counter: Counter, histogram: Histogram, labels: tuple[str, str, str, str]):
        self._counter = counter
        self._labels = labels
        self._codes: dict[int, object] = {}
        child = histogram.labels(*labels)
        self._sum = child._sum
        self._buckets = tuple(child._buckets)
        if len(self._buckets) != len(_BOUNDS):
            raise RuntimeError("gateway_proxy: the duration histogram was not built from metrics.BUCKETS")
        # Multiprocess cells live in files shared with the admin process: only inc() writes them.
        self._shared = bool(getattr(self._sum, "_multiprocess", True))

    def absorb(self, codes: dict[int, int], buckets: list[int], seconds: float) -> None:
        """Many observations at once, counted elsewhere: the C data plane's counters, per code and
        per bucket (the buckets of ``BUCKETS`` and +Inf, not cumulative), with their total time."""
        for code, count in codes.items():
            cell = self._codes.get(code)
            if cell is None:
                cell = self._bind_code(code)
            if self._shared:
                cell.inc(count)
            else:
                cell._value += count
        for bucket, count in zip(self._buckets, buckets):
            if count:
                if self._shared:
                    bucket.inc(count)
                else:
                    bucket._value += count
        if self._shared:
            self._sum.inc(seconds)
        else:
            self._sum._value += seconds

    def _bind_code(self, code: int):
        cell = self._codes[code] = self._counter.labels(*self._labels, str(code))._value
        return cell

    def observe(self, code: int, seconds: float) -> None:
        cell = self._codes.get(code)
        if cell is None:
            cell = self._bind_code(code)
        bucket = self._buckets[bisect_left(_BOUNDS, seconds)]
        if self._shared:
            cell.inc(1)
            self._sum.inc(seconds)
            bucket.inc(1)
        else:
            cell._value += 1
            self._sum._value += seconds
            bucket._value += 1


class HookedRegistry(CollectorRegistry):
    """A registry that runs ``before_collect`` first, so that counters kept outside Python (the C
    data plane's) are folded in when /metrics is scraped, not on every request."""

    def __init__(self):
        super().__init__()
        self.before_collect: list = []

    def collect(self):
        for hook in list(self.before_collect):
            hook()
        yield from super().collect()


class Metrics:
    """The registry and the per-backend children of one proxy process."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry if registry is not None else HookedRegistry()
        self.requests = Counter(REQUESTS.removesuffix("_total"), "Requests answered by the gateway proxy.",
                                _LABELS + ("code",), registry=self.registry)
        self.duration = Histogram(DURATION, "Time from request head to the end of the response.", _LABELS,
                                  buckets=BUCKETS, registry=self.registry)
        self.grpc_requests: Counter | None = None  # registered with the first GRPCRoute (bind_grpc)
        self._bound: dict[tuple, BackendMetrics] = {}
        self._grpc_bound: dict[tuple, GrpcBackendMetrics] = {}
        # Requests no rule matched: no route, no backend.
        self.unrouted = self.bind("", "", "", "")

    def bind(self, namespace: str, route: str, backend_namespace: str, backend: str) -> BackendMetrics:
        key = (namespace, route, backend_namespace, backend)
        bound = self._bound.get(key)
        if bound is None:
            bound = self._bound[key] = BackendMetrics(self.requests, self.duration, key)
        return bound

    def bind_grpc(self, namespace: str, route: str, backend_namespace: str, backend: str) -> "GrpcBackendMetrics":
        key = (namespace, route, backend_namespace, backend)
        bound = self._grpc_bound.get(key)
        if bound is None:
            if self.grpc_requests is None:
                self.grpc_requests = Counter(GRPC_REQUESTS.removesuffix("_total"),
                                             "gRPC calls answered by the gateway proxy, by gRPC status.",
                                             _LABELS + ("grpc_status",), registry=self.registry)
            bound = self._grpc_bound[key] = GrpcBackendMetrics(self.bind(*key), self.grpc_requests, key)
        return bound

    def bind_grpc_rules(self, rules) -> None:
        """Attach children to every rule, backend and mirror of a GRPCRoute table (grpc.table)."""
        for rule in rules:
            rule.metrics = self.bind_grpc(rule.namespace, rule.route, "", "")
            for backend in rule.backends + rule.mirrors:
                backend.metrics = self.bind_grpc(rule.namespace, rule.route, backend.namespace, backend.name)

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


class GrpcBackendMetrics:
    """A gRPC call's series: the HTTP ones of its (route, backend) pair, and its gRPC status.

    Calls are far fewer than plain requests on the paths that matter, so the gRPC counter goes
    through the public ``inc`` (label children cached per status code)."""

    __slots__ = ("http", "_counter", "_labels", "_statuses")

    def __init__(self, http: BackendMetrics, counter: Counter, labels: tuple[str, str, str, str]):
        self.http = http
        self._counter = counter
        self._labels = labels
        self._statuses: dict[str, object] = {}

    def observe(self, code: int, grpc_status: str, seconds: float) -> None:
        self.http.observe(code, seconds)
        child = self._statuses.get(grpc_status)
        if child is None:
            child = self._statuses[grpc_status] = self._counter.labels(*self._labels, grpc_status)
        child.inc()
