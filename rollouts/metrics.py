"""The controller's own Prometheus metrics and the ``/metrics`` endpoint that serves them.

Names and labels are a contract (DESIGN.md section 3): dashboards and alerts query them.
Gauges are set from the status after each write, so they always describe what the
Canary status says; counters and the duration histogram are fed by the state machine's
``RecordVerdict`` and ``RecordRolloutResult`` actions, so each event is counted once.
A private ``CollectorRegistry`` per controller keeps tests (and several controllers in one
process) from sharing series.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp.web
import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily

from analysis.verdicts import IntervalVerdict
from rollouts import model

logger = logging.getLogger(__name__)

# Rollouts take minutes to hours; buckets from 30 s to 6 h.
_DURATION_BUCKETS = (30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 21600)


class Metrics:
    """Every ``routeshift_*`` controller metric, registered in one registry."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.weight = Gauge("routeshift_canary_weight", "Intended traffic weight (percent) of each backend.",
                            ["namespace", "name", "backend"], registry=r)
        self.phase = Gauge("routeshift_canary_phase", "1 for the Canary's current phase, 0 for the others.",
                           ["namespace", "name", "phase"], registry=r)
        self.step = Gauge("routeshift_canary_step", "Index (0-based) of the current step of the plan.",
                          ["namespace", "name"], registry=r)
        self.analysis_value = Gauge("routeshift_analysis_value", "Latest measured value of each analysis metric.",
                                    ["namespace", "name", "metric"], registry=r)
        self.verdicts = Counter("routeshift_analysis_verdicts", "Analysis verdicts per metric.",
                                ["namespace", "name", "metric", "verdict"], registry=r)
        self.rollouts = Counter("routeshift_rollouts", "Finished rollouts by result (succeeded, failed, aborted, "
                                "undone).", ["namespace", "name", "result"], registry=r)
        self.duration = Histogram("routeshift_rollout_duration_seconds", "Duration of finished rollouts.",
                                  ["namespace", "name", "result"], buckets=_DURATION_BUCKETS, registry=r)
        self.reconcile = Histogram("routeshift_reconcile_duration_seconds",
                                   "Time of one controller reconciliation (observe, decide, act, write).",
                                   buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=r)
        self.provider_queries = Counter("routeshift_analysis_queries", "Queries sent to metrics providers by the "
                                        "analysis, by provider type and result (ok, no_data, error).",
                                        ["provider", "result"], registry=r)
        self.provider_latency = Histogram("routeshift_analysis_query_duration_seconds",
                                          "Time of one metrics-provider query, retries included.", ["provider"],
                                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                                          registry=r)
        # Gauge series per Canary, so a deleted Canary's gauges can be removed again.
        self._series: dict[tuple[str, str], set[tuple[Gauge, tuple[str, ...]]]] = {}
        self.reconcile_errors = Counter("routeshift_reconcile_errors",
                                        "Reconciliations that failed with an error (retried after the poll interval).",
                                        ["namespace", "name"], registry=r)
        self.threshold = Gauge("routeshift_analysis_threshold",
                               "thresholdRange bounds of each analysis metric, for dashboards to draw beside the value.",
                               ["namespace", "name", "metric", "bound"], registry=r)
        self.route_conflicts = Counter("routeshift_route_patch_conflicts",
                                       "Route patches retried because the route changed concurrently.",
                                       ["namespace", "name"], registry=r)

    def record_query(self, provider: str, result: str, seconds: float) -> None:
        self.provider_queries.labels(provider, result).inc()
        self.provider_latency.labels(provider).observe(seconds)

    def follow_client(self, cluster: Any) -> None:
        """Export the API client's request counts (and, with caches, where reads were answered)."""
        self.registry.register(_ClientCollector(cluster))

    def _set(self, gauge: Gauge, labels: tuple[str, ...], value: float) -> None:
        gauge.labels(*labels).set(value)
        self._series.setdefault(labels[:2], set()).add((gauge, labels))

    def observe_status(self, namespace: str, name: str, status: model.CanaryStatus,
                       stable: str, canary: str) -> None:
        weights = status.weights
        if weights is not None:
            self._set(self.weight, (namespace, name, stable), weights.stable)
            self._set(self.weight, (namespace, name, canary), weights.canary)
        for phase in model.Phase:
            self._set(self.phase, (namespace, name, phase.value), 1 if phase == status.phase else 0)
        self._set(self.step, (namespace, name), status.step)

    def observe_thresholds(self, namespace: str, name: str, spec: model.CanarySpec) -> None:
        """Export each metric's thresholdRange (min and/or max) as configured in the spec."""
        for metric in spec.analysis.metrics if spec.analysis else ():
            bounds = metric.threshold_range
            for bound, value in (("min", bounds.min if bounds else None), ("max", bounds.max if bounds else None)):
                if value is not None:
                    self._set(self.threshold, (namespace, name, metric.name, bound), value)

    def record_error(self, namespace: str, name: str) -> None:
        self.reconcile_errors.labels(namespace, name).inc()

    def record_verdict(self, namespace: str, name: str, verdict: IntervalVerdict) -> None:
        for metric in verdict.metrics:
            if metric.value is not None:
                self._set(self.analysis_value, (namespace, name, metric.metric), metric.value)
            self.verdicts.labels(namespace, name, metric.metric, metric.verdict.value).inc()

    def record_result(self, namespace: str, name: str, result: str, seconds: float | None) -> None:
        self.rollouts.labels(namespace, name, result).inc()
        if seconds is not None:
            self.duration.labels(namespace, name, result).observe(seconds)

    def forget(self, namespace: str, name: str) -> None:
        """Drop the gauges of a deleted Canary (counters stay: they are history)."""
        for gauge, labels in self._series.pop((namespace, name), set()):
            gauge.remove(*labels)

    def render(self) -> bytes:
        return prometheus_client.generate_latest(self.registry)

    async def serve(self, host: str, port: int) -> tuple[aiohttp.web.AppRunner, int]:
        """Serve ``/metrics`` (and ``/healthz``) until the runner is cleaned up; returns the bound port."""

        async def metrics(_: aiohttp.web.Request) -> aiohttp.web.Response:
            return aiohttp.web.Response(body=self.render(), headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})

        async def healthz(_: aiohttp.web.Request) -> aiohttp.web.Response:
            return aiohttp.web.Response(text="ok")

        app = aiohttp.web.Application()
        app.router.add_get("/metrics", metrics)
        app.router.add_get("/healthz", healthz)
        runner = aiohttp.web.AppRunner(app, access_log=None)
        await runner.setup()
        site = aiohttp.web.TCPSite(runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # the real port when 0 was asked
        logger.info("serving controller metrics on http://%s:%d/metrics", host, bound)
        return runner, bound


class _ClientCollector:
    """Counters the API client keeps as plain numbers, read at scrape time (no per-request metric call)."""

    def __init__(self, cluster: Any):
        self.cluster = cluster

    def describe(self) -> list:
        return []

    def collect(self):
        requests = CounterMetricFamily("routeshift_api_requests", "Requests the controller sent to the API server "
                                       "(a watch counts once per stream).", labels=["verb", "resource"])
        for (verb, resource), count in sorted(self.cluster.requests.items()):
            requests.add_metric([verb, resource], count)
        yield requests
        reads = getattr(self.cluster, "reads", None)
        if reads is None:
            return
        cache = CounterMetricFamily("routeshift_cache_reads", "Reads of routes, Services and Deployments by where "
                                    "they were answered: the watch-fed cache or the API server (cache not synced, "
                                    "or a namespace not watched).", labels=["resource", "source"])
        for (resource, source), count in sorted(reads.items()):
            cache.add_metric([resource, source], count)
        yield cache
        lists = CounterMetricFamily("routeshift_cache_lists", "Full lists of a cached resource (1 at start, "
                                    "then one per relist after 410 Gone or an error).", labels=["resource"])
        for resource, informers in sorted(self.cluster.informers.items()):
            lists.add_metric([resource], sum(informer.lists for informer in informers))
        yield lists
