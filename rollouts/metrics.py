"""The controller's own Prometheus metrics and the ``/metrics`` endpoint that serves them.

Names and labels are a contract (DESIGN.md section 3): dashboards and alerts query them.
Gauges are set from the status after each write, so they always describe what the
Canary status says; counters and the duration histogram are fed by the state machine's
``RecordVerdict`` and ``RecordRolloutResult`` actions, so each event is counted once.
A private ``CollectorRegistry`` per controller keeps tests (and several controllers in one
process) from sharing series.

The per-Canary series (all but a handful) are kept as text by ``rollouts.canary_series``, and
``/metrics`` is rendered beside the event loop: at 2,000 Canaries a scrape is up to 100,000
series (11 MB), which prometheus_client took about two seconds of the loop to render, while no
Canary was reconciled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import aiohttp.web
import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from analysis.verdicts import IntervalVerdict
from rollouts import canary_series, model

logger = logging.getLogger(__name__)

_PHASES = tuple(model.Phase)  # iterating the Enum itself is slow, and this runs at every status change
# Rollouts take minutes to hours; buckets from 30 s to 6 h.
_DURATION_BUCKETS = (30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 21600)


class Metrics:
    """Every ``routeshift_*`` controller metric, registered in one registry."""

    def __init__(self) -> None:
        self.canaries = canary_series.CanarySeries()
        self.registry = _Registry(self.canaries)
        c, r = self.canaries, self.registry
        self.weight = c.gauge("routeshift_canary_weight", "Intended traffic weight (percent) of each backend.")
        self.phase = c.gauge("routeshift_canary_phase", "1 for the Canary's current phase, 0 for the others.")
        self.step = c.gauge("routeshift_canary_step", "Index (0-based) of the current step of the plan.")
        self.analysis_value = c.gauge("routeshift_analysis_value", "Latest measured value of each analysis metric.")
        self.verdicts = c.counter("routeshift_analysis_verdicts", "Analysis verdicts per metric.")
        self.rollouts = c.counter("routeshift_rollouts", "Finished rollouts by result (succeeded, failed, aborted, "
                                  "undone).")
        self.duration = c.histogram("routeshift_rollout_duration_seconds", "Duration of finished rollouts.",
                                    _DURATION_BUCKETS)
        self.reconcile_errors = c.counter("routeshift_reconcile_errors",
                                          "Reconciliations that failed with an error (retried after the poll "
                                          "interval).")
        self.threshold = c.gauge("routeshift_analysis_threshold",
                                 "thresholdRange bounds of each analysis metric, for dashboards to draw beside the "
                                 "value.")
        # A handful of series each (or only for Canaries that met a conflict): prometheus_client's own.
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
        self.route_conflicts = Counter("routeshift_route_patch_conflicts",
                                       "Route patches retried because the route changed concurrently.",
                                       ["namespace", "name"], registry=r)
        # What each Canary's status gauges were last set from: most reconciliations change none.
        self._observed: dict[tuple[str, str], tuple] = {}

    def record_query(self, provider: str, result: str, seconds: float) -> None:
        self.provider_queries.labels(provider, result).inc()
        self.provider_latency.labels(provider).observe(seconds)

    def follow_client(self, cluster: Any, own_writes: Any = None, events: Any = None) -> None:
        """Export the API client's request counts (and, with caches, where reads were answered),
        how many echoes of the controller's own status writes kopf was spared, and what became
        of the Kubernetes Events the controller meant to post (``events``: an EventPoster)."""
        self.registry.register(_ClientCollector(cluster, own_writes, events))

    def observe_status(self, namespace: str, name: str, status: model.CanaryStatus,
                       stable: str, canary: str) -> None:
        key = (namespace, name)
        weights = status.weights
        observed = (stable, canary, weights and (weights.stable, weights.canary), status.phase, status.step)
        if self._observed.get(key) == observed:
            return
        self._observed[key] = observed
        who = (("namespace", namespace), ("name", name))
        if weights is not None:
            self.weight.set(key, (*who, ("backend", stable)), weights.stable)
            self.weight.set(key, (*who, ("backend", canary)), weights.canary)
        self.phase.set_group(key, "phase", [((*who, ("phase", phase.value)), 1 if phase == status.phase else 0)
                                            for phase in _PHASES])
        self.step.set(key, who, status.step)

    def observe_thresholds(self, namespace: str, name: str, spec: model.CanarySpec) -> None:
        """Export each metric's thresholdRange (min and/or max) as configured in the spec."""
        for metric in spec.analysis.metrics if spec.analysis else ():
            bounds = metric.threshold_range
            for bound, value in (("min", bounds.min if bounds else None), ("max", bounds.max if bounds else None)):
                if value is not None:
                    self.threshold.set((namespace, name), (("namespace", namespace), ("name", name),
                                                           ("metric", metric.name), ("bound", bound)), value)

    def record_error(self, namespace: str, name: str) -> None:
        self.reconcile_errors.inc((namespace, name), (("namespace", namespace), ("name", name)))

    def record_verdict(self, namespace: str, name: str, verdict: IntervalVerdict) -> None:
        key, who = (namespace, name), (("namespace", namespace), ("name", name))
        for metric in verdict.metrics:
            if metric.value is not None:
                self.analysis_value.set(key, (*who, ("metric", metric.metric)), metric.value)
            self.verdicts.inc(key, (*who, ("metric", metric.metric), ("verdict", metric.verdict.value)))

    def record_result(self, namespace: str, name: str, result: str, seconds: float | None) -> None:
        key, labels = (namespace, name), (("namespace", namespace), ("name", name), ("result", result))
        self.rollouts.inc(key, labels)
        if seconds is not None:
            self.duration.observe(key, labels, seconds)

    def forget(self, namespace: str, name: str) -> None:
        """Drop the gauges of a deleted Canary (counters stay: they are history)."""
        self._observed.pop((namespace, name), None)
        self.canaries.forget((namespace, name))

    def render(self) -> bytes:
        """The exposition of every metric (safe beside the event loop that changes them)."""
        return self.registry.render()

    async def serve(self, host: str, port: int) -> tuple[aiohttp.web.AppRunner, int]:
        """Serve ``/metrics`` (and ``/healthz``) until the runner is cleaned up; returns the bound port."""

        async def metrics(_: aiohttp.web.Request) -> aiohttp.web.Response:
            # Beside the loop: the render is cheap now, but a scrape must never hold back the
            # reconciliations, whatever it costs (notification counters, client collectors).
            body = await asyncio.to_thread(self.render)
            return aiohttp.web.Response(body=body, headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})

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


class _Registry(CollectorRegistry):
    """The controller's registry: the collectors registered in it, then the per-Canary series.

    ``collect`` (what ``get_sample_value`` and other readers use) yields both; ``render`` formats
    only the registered collectors with prometheus_client and adds the per-Canary text as kept.
    """

    def __init__(self, canaries: canary_series.CanarySeries):
        super().__init__()
        self.canaries = canaries

    def collect(self) -> Iterator[Metric]:
        yield from super().collect()
        yield from self.canaries.collect()

    def render(self) -> bytes:
        return b"".join([*self.canaries.chunks(), prometheus_client.generate_latest(_Registered(self))])


class _Registered:
    """A registry's registered collectors alone (``generate_latest`` reads only ``collect``)."""

    def __init__(self, registry: _Registry):
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        return CollectorRegistry.collect(self.registry)


class _ClientCollector:
    """Counters the API client keeps as plain numbers, read at scrape time (no per-request metric call).

    A scrape reads them beside the loop that adds keys to them: each is copied first (:func:`_copy`).
    """

    def __init__(self, cluster: Any, own_writes: Any = None, events: Any = None):
        self.cluster = cluster
        self.own_writes = own_writes
        self.events = events

    def describe(self) -> list:
        return []

    def collect(self):
        if self.own_writes is not None:
            skipped = CounterMetricFamily("routeshift_status_echoes_skipped", "Watch events that only carried back "
                                          "a status write of this controller, handed to kopf as bookmarks instead "
                                          "of being processed.")
            skipped.add_metric([], self.own_writes.skipped)
            yield skipped
        if self.events is not None:
            # Events are auxiliary and may be dropped under load (see rollouts.event_posting):
            # this says how many, and how far behind the poster is.
            events = CounterMetricFamily("routeshift_events", "Kubernetes Events about Canaries by what became of "
                                         "them: posted, refused by the API server (failed), or dropped unsent "
                                         "because too many were waiting.", labels=["result"])
            for result in ("posted", "failed", "dropped"):
                events.add_metric([result], getattr(self.events, result))
            yield events
            queued = GaugeMetricFamily("routeshift_events_queued", "Kubernetes Events waiting to be posted.")
            queued.add_metric([], self.events.waiting)
            yield queued
        requests = CounterMetricFamily("routeshift_api_requests", "Requests the controller sent to the API server "
                                       "(a watch counts once per stream).", labels=["verb", "resource"])
        for (verb, resource), count in sorted(_copy(self.cluster.requests).items()):
            requests.add_metric([verb, resource], count)
        yield requests
        reads = getattr(self.cluster, "reads", None)
        if reads is None:
            return
        cache = CounterMetricFamily("routeshift_cache_reads", "Reads of routes, Services and Deployments by where "
                                    "they were answered: the watch-fed cache or the API server (cache not synced, "
                                    "or a namespace not watched).", labels=["resource", "source"])
        for (resource, source), count in sorted(_copy(reads).items()):
            cache.add_metric([resource, source], count)
        yield cache
        lists = CounterMetricFamily("routeshift_cache_lists", "Full lists of a cached resource (1 at start, "
                                    "then one per relist after 410 Gone or an error).", labels=["resource"])
        for resource, informers in sorted(_copy(self.cluster.informers).items()):
            lists.add_metric([resource], sum(informer.lists for informer in informers))
        yield lists


def _copy(counts: dict) -> dict:
    """A copy of a dict (or Counter) that another thread may be adding to.

    ``dict.copy`` is one C call that runs no Python code once the new dict exists, so the event
    loop's thread cannot change the dict halfway through it; iterating the original here could
    fail with "dictionary changed size during iteration".
    """
    return dict.copy(counts)
