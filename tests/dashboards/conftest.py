"""A real Prometheus holding two hours of metrics produced by the real controller and proxy code.

The history is simulated, not hand-written: the controller's ``rollouts.metrics.Metrics``
and the proxy's ``gateway_proxy.metrics.Metrics`` are driven through their own methods
(status observations, verdicts, rollout results, proxied requests) every 30 s of a
simulated clock, their registries are scraped as Prometheus would, and the samples are
backfilled with ``promtool tsdb create-blocks-from openmetrics`` so that panels see whole
ranges at once. A dashboard query naming a metric or label the real code does not export
finds no series and fails.

``up`` is what Prometheus itself records for each scrape.

Two Canaries in two namespaces (the namespace regexes must match both) each go through
every outcome: promoted, undone, aborted, failed analysis and rolled back, and end
mid-way through a new rollout.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry, Gauge

from analysis.verdicts import IntervalVerdict, MetricVerdict, Verdict
from gateway_proxy import metrics as proxy_metrics
from rollouts import metrics as controller_metrics
from rollouts.model import CanarySpec, CanaryStatus, Phase, Weights
from routeshift.testing.prometheus import PrometheusServer

SCRAPE = 30  # seconds of simulated time between scrapes
SPAN = 2 * 3600
WEIGHTS = (5, 10, 20, 50)
#: metric → (bound label, bound, typical value) of the two built-in analysis templates.
ANALYSIS = {"request-success-rate": ("min", 99.0, 99.7), "request-duration-p99": ("max", 500.0, 180.0)}


@dataclass(frozen=True)
class ContractData:
    """The running server and the window its data covers (unix seconds)."""

    prometheus: PrometheusServer
    start: int
    end: int


@dataclass
class _History:
    """Scraped samples grouped so that they can be written as valid OpenMetrics.

    OpenMetrics wants each family contiguous and, within a series, increasing timestamps;
    histogram buckets, count and sum of one scrape stay together.
    """

    types: dict[str, str] = field(default_factory=dict)
    points: dict[str, dict[tuple, dict[int, list[str]]]] = field(
        default_factory=lambda: collections.defaultdict(lambda: collections.defaultdict(dict)))

    def scrape(self, registry: CollectorRegistry, at: int, target: dict[str, str]) -> None:
        # collect() is what the /metrics handler serialises; skipping the text round trip
        # keeps two hours of scrapes fast.
        for family in registry.collect():
            self.types.setdefault(family.name, family.type)
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue  # prometheus_client's creation timestamps, not series Prometheus keeps
                labels = {**sample.labels, **target}
                series = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
                rendered = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
                self.points[family.name][series].setdefault(at, []).append(
                    f"{sample.name}{{{rendered}}} {sample.value!r} {at}")

    def openmetrics(self) -> str:
        lines = []
        for name, kind in self.types.items():
            if not self.points[name]:
                continue
            lines.append(f"# TYPE {name} {kind}")
            for by_time in self.points[name].values():
                for at in sorted(by_time):
                    lines.extend(by_time[at])
        return "\n".join(lines) + "\n# EOF\n"


@dataclass
class _Canary:
    namespace: str
    name: str
    stable: str
    canary: str
    status: CanaryStatus = field(default_factory=CanaryStatus)
    rollout_started: int = 0

    def start(self, at: int) -> None:
        self.status = CanaryStatus(phase=Phase.PROGRESSING, step=0, weights=Weights(stable=95, canary=5))
        self.rollout_started = at

    def set_step(self, step: int) -> None:
        weight = WEIGHTS[step]
        self.status = self.status.model_copy(update={"step": step, "weights": Weights(stable=100 - weight,
                                                                                      canary=weight)})

    def finish(self, phase: Phase) -> None:
        self.status = self.status.model_copy(update={"phase": phase, "weights": Weights(stable=100, canary=0)})


def _verdict(canary: _Canary, tick: int, failing: bool) -> IntervalVerdict:
    metrics = []
    for index, (metric, (_, bound, typical)) in enumerate(ANALYSIS.items()):
        # A fixed rotation gives every verdict kind some share; failing canaries fail.
        kind = (tick + index) % 20
        if failing:
            verdict, value = Verdict.FAILED, (97.0 if metric == "request-success-rate" else 900.0)
        elif kind == 7:
            verdict, value = Verdict.INCONCLUSIVE, typical
        elif kind == 13:
            verdict, value = Verdict.ERROR, None
        else:
            verdict, value = Verdict.SUCCESSFUL, typical * (1 + 0.002 * math.sin(tick / 5))
        metrics.append(MetricVerdict(metric=metric, verdict=verdict, reason="simulated", value=value,
                                     bound=f"{bound}"))
    overall = Verdict.FAILED if failing else Verdict.SUCCESSFUL
    return IntervalVerdict(verdict=overall, reason="simulated", metrics=tuple(metrics))


#: What happens to each Canary, as fractions of the simulated span. Both go through every
#: outcome (rollouts_total result), so every per-Canary annotation has events to show.
TIMELINES = {
    ("shop", "checkout"): [(0.00, "start"), (0.20, "succeeded"), (0.25, "undone"), (0.30, "start"),
                           (0.40, "aborted"), (0.45, "start"), (0.45, "failing"), (0.55, "rollback"),
                           (0.57, "failed"), (0.62, "start")],
    ("payments", "ledger"): [(0.00, "start"), (0.10, "failing"), (0.20, "rollback"), (0.22, "failed"),
                             (0.30, "start"), (0.50, "succeeded"), (0.55, "undone"), (0.60, "start"),
                             (0.70, "aborted"), (0.75, "start")],
}


def simulate(start: int, end: int) -> str:
    """Drive the real metrics code through the TIMELINES; return the scrapes as OpenMetrics."""
    controller = controller_metrics.Metrics()
    proxy = proxy_metrics.Metrics()
    history = _History()
    canaries = [_Canary(namespace, name, f"{name}-primary", f"{name}-canary") for namespace, name in TIMELINES]
    ticks = (end - start) // SCRAPE
    events = collections.defaultdict(list)
    for canary in canaries:
        for fraction, event in TIMELINES[(canary.namespace, canary.name)]:
            events[int(ticks * fraction)].append((canary, event))
    failing: set[str] = set()
    for tick in range(ticks + 1):
        now = start + tick * SCRAPE
        for canary, event in events.get(tick, []):
            if event == "start":
                canary.start(now)
                failing.discard(canary.name)
            elif event == "failing":
                failing.add(canary.name)
            elif event == "rollback":
                canary.finish(Phase.ROLLING_BACK)
            elif event == "undone":
                controller.record_result(canary.namespace, canary.name, "undone", None)
            else:
                phase = Phase.SUCCEEDED if event == "succeeded" else Phase.FAILED
                canary.finish(phase)
                controller.record_result(canary.namespace, canary.name, event, float(now - canary.rollout_started))
        for canary in canaries:
            running = canary.status.phase == Phase.PROGRESSING
            if running:
                canary.set_step(min(len(WEIGHTS) - 1, (now - canary.rollout_started) // 600))
                if tick % 2 == 0:  # one analysis interval per minute
                    controller.record_verdict(canary.namespace, canary.name,
                                              _verdict(canary, tick, canary.name in failing))
            controller.observe_status(canary.namespace, canary.name, canary.status, canary.stable, canary.canary)
            controller.observe_thresholds(canary.namespace, canary.name, _spec(canary))
            if tick % 10 == 3:
                controller.record_error(canary.namespace, canary.name)
            _traffic(proxy, canary, tick, broken=canary.name in failing)
        controller_target = {"job": "routeshift-controller", "instance": "10.0.0.5:8080"}
        proxy_target = {"job": "routeshift-gateway-proxy", "instance": "10.0.0.6:9000"}
        history.scrape(controller.registry, now, controller_target)
        history.scrape(proxy.registry, now, proxy_target)
        history.scrape(_up(), now, {})
    return history.openmetrics()


def _spec(canary: _Canary) -> CanarySpec:
    """The Canary spec whose analysis bounds the controller exports as routeshift_analysis_threshold."""
    return CanarySpec.model_validate({
        "routeRef": {"name": canary.name},
        "stable": {"name": canary.stable, "port": 80},
        "canary": {"name": canary.canary, "port": 80},
        "analysis": {"metrics": [{"name": metric, "thresholdRange": {bound_name: bound}}
                                 for metric, (bound_name, bound, _) in ANALYSIS.items()]},
    })


def _traffic(proxy: proxy_metrics.Metrics, canary: _Canary, tick: int, *, broken: bool) -> None:
    """30 requests per scrape, split by the intended weights, as the proxy would count them."""
    weights = canary.status.weights or Weights(stable=100, canary=0)
    for backend, weight in ((canary.stable, weights.stable), (canary.canary, weights.canary)):
        bound = proxy.bind(canary.namespace, canary.name, canary.namespace, backend)
        for index in range(round(30 * weight / 100)):
            failed = (broken and backend == canary.canary and index % 4 == 0) or (tick + index) % 97 == 0
            bound.observe(503 if failed else 200, 0.004 + 0.002 * (index % 9) + (0.2 if index % 50 == 0 else 0))


def _up() -> CollectorRegistry:
    registry = CollectorRegistry()
    up = Gauge("up", "Scrape health, as Prometheus records it.", ["job", "instance"], registry=registry)
    up.labels("routeshift-controller", "10.0.0.5:8080").set(1)
    up.labels("routeshift-gateway-proxy", "10.0.0.6:9000").set(1)
    return registry


@pytest.fixture(scope="session")
def contract_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContractData]:
    end = (int(time.time()) - 120) // SCRAPE * SCRAPE
    start = end - SPAN
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus-contract"))
    server.backfill(simulate(start, end))
    server.start()
    try:
        yield ContractData(server, start, end)
    finally:
        server.stop()
