"""The built-in templates against a real Prometheus scraping a real endpoint.

The endpoint serves the gateway proxy's metric names (DESIGN.md §5) from a
prometheus_client registry. Every series exists at zero before the first scrape, the
known request mix is recorded only after Prometheus has stored that zero, so rate() and
increase() see exactly the mix: 98 % success and a p99 that histogram_quantile
interpolates to 375 ms.
"""

import datetime
import re

import prometheus_client
import pytest

from analysis import AnalysisSpec, AnalysisState, Target, Verdict, evaluate_interval, sequential, templates
from analysis.prometheus import PrometheusConfig, PrometheusProvider
from routeshift.testing import processes
from routeshift.testing.polling import until
from routeshift.testing.prometheus import PrometheusServer

BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0)
LABELS = ("namespace", "route", "backend_namespace", "backend")


def record(requests, durations, route, backend, *, ok, errors, latencies):
    labels = {"namespace": "shop", "route": route, "backend_namespace": "shop", "backend": backend}
    requests.labels(**labels, code="200").inc(ok)
    requests.labels(**labels, code="503").inc(errors)
    histogram = durations.labels(**labels)
    for seconds, count in latencies:
        for _ in range(count):
            histogram.observe(seconds)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    registry = prometheus_client.CollectorRegistry()
    requests = prometheus_client.Counter("routeshift_gateway_requests", "Requests.", [*LABELS, "code"], registry=registry)
    durations = prometheus_client.Histogram("routeshift_gateway_request_duration_seconds", "Durations.", LABELS,
                                            buckets=BUCKETS, registry=registry)
    mix = {
        ("web", "web-canary"): dict(ok=980, errors=20, latencies=[(0.03, 900), (0.08, 80), (0.4, 20)]),
        ("web", "web-stable"): dict(ok=1000, errors=0, latencies=[(0.03, 1000)]),
        ("thin", "thin-canary"): dict(ok=2, errors=1, latencies=[(0.9, 3)]),
    }
    for route, backend in mix:  # every series at zero before Prometheus first scrapes it
        record(requests, durations, route, backend, ok=0, errors=0, latencies=[])
    port = processes.free_port()
    server, thread = prometheus_client.start_http_server(port, addr="127.0.0.1", registry=registry)
    prom = PrometheusServer(tmp_path_factory.mktemp("prometheus"), scrape_targets=[f"127.0.0.1:{port}"],
                            scrape_interval="1s")
    try:
        prom.start()
        until(lambda: prom.query("count(routeshift_gateway_requests_total)"), timeout=30, interval=0.2,
              description="first scrape stored")
        for (route, backend), traffic in mix.items():
            record(requests, durations, route, backend, **traffic)
        until(lambda: prom.query('sum(routeshift_gateway_requests_total{backend="web-canary"}) == 1000'),
              timeout=30, interval=0.2, description="request mix scraped")
        until(lambda: prom.query('sum(routeshift_gateway_request_duration_seconds_count{backend="thin-canary"}) == 3'),
              timeout=30, interval=0.2, description="thin traffic scraped")
        yield prom
    finally:
        prom.stop()
        server.shutdown()
        thread.join(timeout=5)


def spec(**overrides):
    return AnalysisSpec.model_validate({
        "interval": "1m", "minSampleSize": 50,
        "metrics": [
            {"name": "request-success-rate", "thresholdRange": {"min": 99}},
            {"name": "request-duration-p99", "thresholdRange": {"max": 500}},
        ],
        **overrides,
    })


async def evaluate(prometheus, target, analysis, state=None):
    async with PrometheusProvider(PrometheusConfig(prometheus.url, timeout=5.0)) as provider:
        return await evaluate_interval(analysis, target, state or AnalysisState(),
                                       now=datetime.datetime.now(datetime.timezone.utc), provider=provider)


async def test_templates_return_the_success_rate_and_p99_of_the_mix(prometheus):
    target = Target("shop", "web", "web-stable", "web-canary", "shop")
    verdict, state = await evaluate(prometheus, target, spec())
    success, p99 = verdict.metrics
    assert success.value == pytest.approx(98.0)
    assert p99.value == pytest.approx(375.0)
    assert 1000 <= success.sample_size <= 2000  # increase() extrapolates towards the window's end
    assert success.verdict is Verdict.FAILED and "98 below min 99" in success.reason
    assert p99.verdict is Verdict.SUCCESSFUL
    # one failed check below the limits holds the step instead of rolling back
    assert verdict.verdict is Verdict.INCONCLUSIVE and state.consecutive_failures == 1


async def test_stable_is_measured_with_the_same_templates(prometheus):
    target = Target("shop", "web", "web-canary", "web-stable", "shop")  # swapped: judge stable as the canary
    verdict, _ = await evaluate(prometheus, target, spec())
    assert [m.value for m in verdict.metrics] == [pytest.approx(100.0), pytest.approx(10 + 40 * 0.99)]
    assert verdict.verdict is Verdict.SUCCESSFUL


async def test_thin_traffic_holds_instead_of_failing(prometheus):
    target = Target("shop", "thin", "thin-stable", "thin-canary", "shop")
    verdict, state = await evaluate(prometheus, target, spec())
    assert verdict.verdict is Verdict.INCONCLUSIVE
    assert all(m.verdict is Verdict.INCONCLUSIVE and m.reason.startswith("insufficient traffic ")
               and m.reason.endswith("/50") for m in verdict.metrics)
    assert verdict.metrics[0].value == pytest.approx(100 * 2 / 3)  # bad, but only 3 requests: not judged
    assert state.total_failures == 0 and state.hold_started_at is not None


async def test_a_backend_without_series_holds(prometheus):
    target = Target("shop", "web", "web-stable", "nobody", "shop")
    verdict, _ = await evaluate(prometheus, target, spec())
    assert [m.reason for m in verdict.metrics] == ["insufficient traffic 0/50"] * 2


async def test_a_broken_custom_query_is_an_error(prometheus):
    analysis = spec(metrics=[{"name": "broken", "query": "sum(", "thresholdRange": {"max": 1}, "minSampleSize": 0}])
    verdict, _ = await evaluate(prometheus, Target("shop", "web", "web-stable", "web-canary", "shop"), analysis)
    assert verdict.verdict is Verdict.ERROR and "QueryRejected" in verdict.reason


async def test_a_multi_series_custom_query_is_an_error(prometheus):
    analysis = spec(metrics=[{
        "name": "per-backend", "thresholdRange": {"max": 1e9}, "minSampleSize": 0,
        "query": 'sum by (backend) (routeshift_gateway_requests_total{route="{{ route }}"})'}])
    verdict, _ = await evaluate(prometheus, Target("shop", "web", "web-stable", "web-canary", "shop"), analysis)
    assert verdict.verdict is Verdict.ERROR and "MultipleSeriesError: 2 series returned" in verdict.reason


async def test_error_counts_of_both_backends_decide_the_success_rate_comparison(prometheus):
    analysis = spec(metrics=[{"name": "request-success-rate", "comparison": {"maxDifference": 0.5}}])
    verdict, state = await evaluate(prometheus, Target("shop", "web", "web-stable", "web-canary", "shop"), analysis)
    metric = verdict.metrics[0]
    # 20 of the canary's ~1000 requests failed, none of stable's ~1000
    assert metric.verdict is Verdict.FAILED and metric.decisive, metric.reason
    counted = re.search(r"5xx: canary (\d+)/(\d+), stable 0/(\d+)", metric.reason)
    assert counted and int(counted[1]) / int(counted[2]) == pytest.approx(0.02, abs=0.002), metric.reason
    assert verdict.verdict is Verdict.FAILED and state.evidence["request-success-rate"] > 2.9


async def test_bucket_counts_come_back_by_le(prometheus):
    variables = Target("shop", "web", "web-stable", "web-canary", "shop").variables(backend="web-canary", interval="1m")
    async with PrometheusProvider(PrometheusConfig(prometheus.url, timeout=5.0)) as provider:
        buckets = await provider.query_buckets(templates.render(templates.BUCKET_COUNTS_QUERY, variables),
                                               at=datetime.datetime.now(datetime.timezone.utc))
    assert [le for le, _ in buckets] == [*BUCKETS, float("inf")]
    slow, total = sequential.above(buckets, 0.25)
    assert slow / total == pytest.approx(20 / 1000)  # extrapolation scales both alike
    assert sequential.tail_bound(buckets) == 0.25  # the canary's own p99 lies in (0.25, 0.5]
