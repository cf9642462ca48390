"""What a Prometheus scrape of the controller's /metrics costs at 500 and 2,000 Canaries.

    .venv/bin/python bench/controller_metrics.py [--canaries 500 2000] [--scrapes 10]

Issue 16: the controller's /metrics was rendered by prometheus_client on the event loop; at
500 Canaries a scrape is about 21,000 series (2 MB) and took 0.5 to 1 s, during which no
Canary was reconciled. This script fills the controller's ``rollouts.metrics.Metrics`` with
N Canaries' worth of series (status gauges, two analysis metrics with thresholds, verdicts,
finished rollouts with durations, reconcile errors), as a controller at that scale holds them,
and measures for each N:

- series and bytes of one scrape;
- ``render``: the CPU time of one exposition, in process (median of the scrapes);
- over HTTP on loopback, ``Metrics.serve`` on uvloop as deployed: the wall time of a scrape
  and the longest the event loop went without running a 1 ms ticker during the scrapes
  (what every reconciliation waits at worst while a scrape runs; the first line gives the
  same without scrapes, which a loaded machine does not make zero);
- the same for prometheus_client holding the same per-Canary series as one child object each,
  rendered on the loop: what the controller did before (``before``; its series count lacks the
  controller's few series that are not per Canary).

Scrapes come one after another from another process, as Prometheus's do. The machine
is shared: note the load average printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time

import aiohttp.web
import prometheus_client
import uvloop
from prometheus_client import CollectorRegistry

from analysis.verdicts import IntervalVerdict, MetricVerdict, Verdict
from rollouts import metrics, model

SPEC = model.CanarySpec.model_validate({
    "routeRef": {"name": "app"}, "stable": {"name": "app-v1", "port": 80}, "canary": {"name": "app-v2", "port": 80},
    "analysis": {"metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}},
                             {"name": "request-duration-p99", "thresholdRange": {"max": 500}}]},
})
VERDICTS = [
    IntervalVerdict(Verdict.SUCCESSFUL, "ok", (MetricVerdict("request-success-rate", Verdict.SUCCESSFUL, "ok", 99.7),
                                               MetricVerdict("request-duration-p99", Verdict.SUCCESSFUL, "ok", 120.0))),
    IntervalVerdict(Verdict.INCONCLUSIVE, "thin", (
        MetricVerdict("request-success-rate", Verdict.INCONCLUSIVE, "insufficient traffic 3/50", None),
        MetricVerdict("request-duration-p99", Verdict.FAILED, "too slow", 730.0))),
]
# One scrape after another from a separate process; prints each scrape's wall time in ms.
SCRAPER = """
import sys, time, urllib.request
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=120).read()
    print((time.perf_counter() - started) * 1000)
"""
PHASES = [model.Phase.PROGRESSING, model.Phase.PAUSED, model.Phase.SUCCEEDED, model.Phase.ROLLING_BACK]


class _Before:
    """The same calls fed to prometheus_client's own objects, one child per series (the old Metrics)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r, canary = self.registry, ["namespace", "name"]
        self.weight = prometheus_client.Gauge("routeshift_canary_weight", "w", [*canary, "backend"], registry=r)
        self.phase = prometheus_client.Gauge("routeshift_canary_phase", "p", [*canary, "phase"], registry=r)
        self.step = prometheus_client.Gauge("routeshift_canary_step", "s", canary, registry=r)
        self.value = prometheus_client.Gauge("routeshift_analysis_value", "v", [*canary, "metric"], registry=r)
        self.verdicts = prometheus_client.Counter("routeshift_analysis_verdicts", "v", [*canary, "metric", "verdict"],
                                                  registry=r)
        self.rollouts = prometheus_client.Counter("routeshift_rollouts", "r", [*canary, "result"], registry=r)
        self.duration = prometheus_client.Histogram("routeshift_rollout_duration_seconds", "d", [*canary, "result"],
                                                    buckets=(30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400,
                                                             21600), registry=r)
        self.errors = prometheus_client.Counter("routeshift_reconcile_errors", "e", canary, registry=r)
        self.threshold = prometheus_client.Gauge("routeshift_analysis_threshold", "t", [*canary, "metric", "bound"],
                                                 registry=r)

    def fill(self, namespace: str, name: str, i: int) -> None:
        status = _status(i)
        self.weight.labels(namespace, name, "app-v1").set(status.weights.stable)
        self.weight.labels(namespace, name, "app-v2").set(status.weights.canary)
        for phase in model.Phase:
            self.phase.labels(namespace, name, phase.value).set(1 if phase == status.phase else 0)
        self.step.labels(namespace, name).set(status.step)
        self.threshold.labels(namespace, name, "request-success-rate", "min").set(99)
        self.threshold.labels(namespace, name, "request-duration-p99", "max").set(500)
        for verdict in VERDICTS:
            for metric in verdict.metrics:
                if metric.value is not None:
                    self.value.labels(namespace, name, metric.metric).set(metric.value)
                self.verdicts.labels(namespace, name, metric.metric, metric.verdict.value).inc()
        for result, seconds in _results(i):
            self.rollouts.labels(namespace, name, result).inc()
            self.duration.labels(namespace, name, result).observe(seconds)
        self.errors.labels(namespace, name).inc()

    def render(self) -> bytes:
        return prometheus_client.generate_latest(self.registry)


def _status(i: int) -> model.CanaryStatus:
    return model.CanaryStatus(phase=PHASES[i % len(PHASES)], step=i % 4,
                              weights=model.Weights(stable=100 - 5 * (i % 4), canary=5 * (i % 4)))


def _results(i: int) -> list[tuple[str, float]]:
    return [("succeeded", 300.0 + i % 900)] + ([("failed", 95.0)] if i % 3 == 0 else [])


def fill(n: int) -> tuple[metrics.Metrics, _Before]:
    now, before = metrics.Metrics(), _Before()
    for i in range(n):
        namespace, name = f"team-{i % 20}", f"app-{i}"
        now.observe_status(namespace, name, _status(i), "app-v1", "app-v2")
        now.observe_thresholds(namespace, name, SPEC)
        for verdict in VERDICTS:
            now.record_verdict(namespace, name, verdict)
        for result, seconds in _results(i):
            now.record_result(namespace, name, result, seconds)
        now.record_error(namespace, name)
        before.fill(namespace, name, i)
    for _ in range(200):
        now.reconcile.observe(0.02)
        now.record_query("prometheus", "ok", 0.03)
    return now, before


def series(body: bytes) -> int:
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


def render_ms(render, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        render()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def _serve_before(before: _Before) -> tuple[aiohttp.web.AppRunner, int]:
    async def handler(_: aiohttp.web.Request) -> aiohttp.web.Response:
        body = before.render()  # on the loop, as the controller did
        return aiohttp.web.Response(body=body, headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})

    app = aiohttp.web.Application()
    app.router.add_get("/metrics", handler)
    runner = aiohttp.web.AppRunner(app, access_log=None)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


async def scrape_over_http(serve, scrapes: int) -> tuple[float, float]:
    """(median scrape wall ms, the loop's longest pause in ms) with ``scrapes`` scrapes by another process."""
    runner, port = await serve()
    stalls: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = loop.time()
            stalls.append(now - last)
            last = now

    # The scraper is another process, as Prometheus is: a client thread here would take the GIL
    # from the loop and count its own parsing as the loop's pauses.
    scraper = await asyncio.create_subprocess_exec(sys.executable, "-c", SCRAPER, str(port), str(scrapes),
                                                   stdout=asyncio.subprocess.PIPE)
    tick = asyncio.create_task(ticker())
    try:
        out, _ = await scraper.communicate()
    finally:
        done.set()
        await tick
        await runner.cleanup()
    return statistics.median(float(ms) for ms in out.split()), max(stalls) * 1000


async def idle_pause(seconds: float) -> float:
    """The loop's longest pause in ms with nothing to do but the ticker: this machine's own jitter."""
    loop = asyncio.get_running_loop()
    last = started = loop.time()
    longest = 0.0
    while last - started < seconds:
        await asyncio.sleep(0.001)
        now = loop.time()
        longest, last = max(longest, now - last), now
    return longest * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--canaries", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--scrapes", type=int, default=10, help="scrapes (and in-process renders) per measurement")
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores; "
          f"longest loop pause without scrapes over 2 s: {uvloop.run(idle_pause(2.0)):.1f} ms")
    for n in args.canaries:
        now, before = fill(n)
        body, old_body = now.render(), before.render()
        print(f"{n} canaries: {series(body)} series, {len(body) / 1e6:.2f} MB "
              f"(before: {series(old_body)} series, {len(old_body) / 1e6:.2f} MB)")
        print(f"  render in process: {render_ms(now.render, args.scrapes):.1f} ms "
              f"(before: {render_ms(before.render, args.scrapes):.1f} ms)")
        wall, stall = uvloop.run(scrape_over_http(lambda: now.serve("127.0.0.1", 0), args.scrapes))
        old_wall, old_stall = uvloop.run(scrape_over_http(lambda: _serve_before(before), args.scrapes))
        print(f"  over HTTP: scrape {wall:.1f} ms, longest loop pause {stall:.1f} ms "
              f"(before: scrape {old_wall:.1f} ms, longest loop pause {old_stall:.1f} ms)")


if __name__ == "__main__":
    main()
