"""One interval end to end: spec + target -> PromQL over HTTP (respx) -> verdict + state."""

import datetime
import re
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from analysis import AnalysisSpec, AnalysisState, Target, Verdict, evaluate_interval, model, sequential, templates
from analysis.prometheus import PrometheusConfig, PrometheusProvider

URL = "http://prometheus.test:9090"
NOW = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.timezone.utc)
TARGET = Target(namespace="shop", route="web", stable_backend="web-stable", canary_backend="web-canary",
                backend_namespace="shop")


class FakePrometheus:
    """Answers the built-in templates per backend from a table; records every query."""

    def __init__(self, backends):
        self.backends = backends
        self.queries: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        query = form["query"]
        self.queries.append(query)
        backend = re.search(r'backend="([^"]+)"', query).group(1)
        data = self.backends.get(backend)
        if data is None:
            return httpx.Response(200, json={"status": "success", "data": {
                "resultType": "matrix" if "start" in form else "vector", "result": []}})
        if data == "down":
            return httpx.Response(503, text="down")
        if "sum by (le) (increase(" in query:
            buckets = data.get("buckets", [])
            result = [{"metric": {"le": le}, "value": [NOW.timestamp(), str(count)]} for le, count in buckets]
            return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": result}})
        key = ("errors" if 'code=~"5.."' in query and "histogram" not in query and "rate(" not in query
               else "n" if "increase(" in query else "p99" if "histogram_quantile" in query else "success")
        if "start" in form:
            values = [[i, str(v)] for i, v in enumerate(data[key + "_samples"])]
            return httpx.Response(200, json={"status": "success", "data": {"resultType": "matrix", "result": [
                {"metric": {}, "values": values}]}})
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {}, "value": [NOW.timestamp(), str(data[key])]}]}})


def spec(**overrides) -> AnalysisSpec:
    return AnalysisSpec.model_validate({
        "interval": "1m", "minSampleSize": 50,
        "metrics": [
            {"name": "request-success-rate", "thresholdRange": {"min": 99}},
            {"name": "request-duration-p99", "thresholdRange": {"max": 500}},
        ],
        **overrides,
    })


async def run(backends, analysis=None, state=None, **kwargs):
    fake = FakePrometheus(backends)
    with respx.mock:
        respx.post(url__startswith=f"{URL}/api/v1/").mock(side_effect=fake)
        async with PrometheusProvider(PrometheusConfig(URL, retries=1, backoff=0.001)) as provider:
            verdict, new_state = await evaluate_interval(
                analysis or spec(), TARGET, state or AnalysisState(), now=NOW, provider=provider, **kwargs)
    return verdict, new_state, fake.queries


HEALTHY = {"n": 600, "success": 99.8, "p99": 230}


async def test_healthy_canary_passes_and_queries_the_canary_backend():
    verdict, state, queries = await run({"web-canary": HEALTHY})
    assert verdict.verdict is Verdict.SUCCESSFUL
    assert [m.verdict for m in verdict.metrics] == [Verdict.SUCCESSFUL, Verdict.SUCCESSFUL]
    assert [(m.value, m.sample_size) for m in verdict.metrics] == [(99.8, 600), (230.0, 600)]
    assert state == AnalysisState(intervals=1)
    assert all('backend="web-canary"' in q and "[1m]" in q for q in queries)
    assert len(queries) == 4


async def test_failing_canary_holds_once_then_fails():
    bad = {"n": 600, "success": 97.0, "p99": 230}
    first, state, _ = await run({"web-canary": bad})
    assert first.verdict is Verdict.INCONCLUSIVE
    assert "request-success-rate: 97 below min 99" in first.reason
    second, state, _ = await run({"web-canary": bad}, state=state)
    assert second.verdict is Verdict.FAILED
    assert state.consecutive_failures == 2


async def test_thin_traffic_holds_instead_of_failing():
    verdict, state, _ = await run({"web-canary": {"n": 4, "success": 75.0, "p99": 900}})
    assert verdict.verdict is Verdict.INCONCLUSIVE
    assert [m.reason for m in verdict.metrics] == ["insufficient traffic 4/50"] * 2
    assert state.hold_started_at == NOW and state.total_failures == 0


async def test_no_series_at_all_holds():
    verdict, _, _ = await run({})
    assert verdict.verdict is Verdict.INCONCLUSIVE
    assert "insufficient traffic 0/50" in verdict.reason


async def test_unreachable_prometheus_is_an_error_never_a_failure():
    state = AnalysisState(total_failures=1, consecutive_failures=1)
    verdict, new_state, queries = await run({"web-canary": "down"}, state=state)
    assert verdict.verdict is Verdict.ERROR
    assert "ProviderUnavailable" in verdict.reason
    assert (new_state.total_failures, new_state.consecutive_failures) == (1, 1)
    assert len(queries) == 8  # 4 queries, each retried once


async def test_per_metric_window_and_min_sample_size():
    analysis = spec(metrics=[{"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "5m",
                              "minSampleSize": 1000}])
    verdict, _, queries = await run({"web-canary": HEALTHY}, analysis)
    assert verdict.metrics[0].reason == "insufficient traffic 600/1000"
    assert all("[5m]" in q for q in queries)


async def test_target_interval_overrides_the_default_window():
    fake = FakePrometheus({"web-canary": HEALTHY})
    with respx.mock:
        respx.post(url__startswith=f"{URL}/api/v1/").mock(side_effect=fake)
        async with PrometheusProvider(PrometheusConfig(URL)) as provider:
            target = Target("shop", "web", "web-stable", "web-canary", "shop", interval=datetime.timedelta(seconds=90))
            await evaluate_interval(spec(), target, AnalysisState(), now=NOW, provider=provider)
    assert fake.queries and all("[1m30s]" in q for q in fake.queries)


# Cumulative bucket counts as Prometheus returns them (le as text). Stable's median and p90
# lie at or below 0.1 s, its p99 in (0.15, 0.2]: the latency tests count requests above
# 0.1 s (1000 of stable's 6000) and above 0.15 s (100 of 6000).
STABLE_BUCKETS = [("0.1", 5000), ("0.15", 5900), ("0.2", 5990), ("+Inf", 6000)]
STABLE = {"n": 6000, "errors": 6, "success": 99.9, "p99": 230, "buckets": STABLE_BUCKETS}
LATENCY = {"name": "request-duration-p99", "comparison": {"maxRatio": 1.1}}


async def test_latency_comparison_counts_requests_above_stables_quantile_buckets():
    analysis = spec(metrics=[LATENCY])
    slow = [("0.1", 400), ("0.15", 500), ("0.2", 560), ("+Inf", 600)]  # 100 of 600 above 0.15 s
    verdict, state, queries = await run({"web-canary": {**HEALTHY, "p99": 300, "buckets": slow}, "web-stable": STABLE},
                                        analysis)
    metric = verdict.metrics[0]
    assert metric.verdict is Verdict.FAILED and metric.decisive, metric.reason
    assert "> 150ms [stable p99]: canary 100/600, stable 100/6000" in metric.reason
    # one interval is enough: the evidence is a sequential test, not a single-window check
    assert verdict.verdict is Verdict.FAILED and "sequential test conclusive" in verdict.reason
    # one sum per stable quantile, kept apart in the state; the metric's evidence is their mixture
    parts = {key: value for key, value in state.evidence.items() if key.startswith("request-duration-p99@")}
    assert sorted(parts) == ["request-duration-p99@p50", "request-duration-p99@p90", "request-duration-p99@p99"]
    assert metric.evidence == pytest.approx(sequential.combined(parts)) and metric.evidence > 4.6
    assert state.evidence_until == NOW
    buckets = [q for q in queries if "sum by (le) (increase(" in q]
    assert len(buckets) == 3 and sum("[10m]" in q and 'backend="web-stable"' in q for q in buckets) == 1
    assert not any("[30s]" in q for q in queries)  # no Mann-Whitney samples for built-ins


# Half the canary's requests are slower than 0.1 s (stable: 1 in 6), but its tail above
# 0.15 s is no heavier than stable's: a shift of the body that a p99 check cannot see.
BODY_SHIFT = [("0.1", 300), ("0.15", 594), ("0.2", 600), ("+Inf", 600)]


async def test_a_slower_body_is_caught_by_the_median_test():
    verdict, _, _ = await run({"web-canary": {**HEALTHY, "buckets": BODY_SHIFT}, "web-stable": STABLE},
                              spec(metrics=[LATENCY]))
    assert verdict.verdict is Verdict.FAILED, verdict.reason
    assert "> 100ms [stable p50]: canary 300/600, stable 1000/6000" in verdict.reason


async def test_latency_quantiles_choose_what_counts_as_slow():
    only_tail = {**LATENCY, "comparison": {**LATENCY["comparison"], "latencyQuantiles": [0.99]}}
    verdict, state, _ = await run({"web-canary": {**HEALTHY, "buckets": BODY_SHIFT}, "web-stable": STABLE},
                                  spec(metrics=[only_tail]))
    assert verdict.verdict is not Verdict.FAILED, verdict.reason
    assert list(state.evidence) == ["request-duration-p99@p99"] and state.evidence["request-duration-p99@p99"] <= 0


async def test_count_evidence_adds_up_over_non_overlapping_windows():
    analysis = spec(metrics=[{"name": "request-success-rate", "comparison": {"maxDifference": 0.5,
                                                                             "confidence": 0.99}}])
    # 3 errors in 600 against stable's 6 in 6000: five times stable's rate, not yet conclusive
    canary = {**HEALTHY, "errors": 3, "success": 99.5}
    first, state, _ = await run({"web-canary": canary, "web-stable": STABLE}, analysis)
    assert first.verdict is Verdict.SUCCESSFUL, first.reason
    assert 0 < state.evidence["request-success-rate"] < 4.6
    later = NOW + datetime.timedelta(seconds=90)
    fake = FakePrometheus({"web-canary": canary, "web-stable": STABLE})
    with respx.mock:
        respx.post(url__startswith=f"{URL}/api/v1/").mock(side_effect=fake)
        async with PrometheusProvider(PrometheusConfig(URL)) as provider:
            second, state2 = await evaluate_interval(analysis, TARGET, state, now=later, provider=provider)
    # the second window starts where the first ended: 90 seconds, never the same requests twice
    counted = [q for q in fake.queries if 'code=~"5.."' in q and "increase(" in q and "rate(" not in q]
    assert counted and all("[1m30s]" in q for q in counted)
    assert state2.evidence["request-success-rate"] == pytest.approx(2 * state.evidence["request-success-rate"])
    assert state2.evidence_until == later
    assert second.metrics[0].evidence == state2.evidence["request-success-rate"]


async def test_success_rate_comparison_fails_on_error_counts():
    analysis = spec(metrics=[{"name": "request-success-rate", "comparison": {"maxDifference": 0.5}}])
    verdict, _, _ = await run({"web-canary": {**HEALTHY, "errors": 12, "success": 98.0}, "web-stable": STABLE},
                              analysis)
    assert verdict.verdict is Verdict.FAILED, verdict.reason
    assert "5xx: canary 12/600, stable 6/6000" in verdict.reason


async def test_count_measurement_failure_is_an_error():
    analysis = spec(metrics=[{"name": "request-duration-p99", "comparison": {"maxRatio": 1.1}}])
    other_layout = [("0.1", 500), ("0.25", 590), ("+Inf", 600)]  # no 0.15 s bucket to count above
    verdict, state, _ = await run({"web-canary": {**HEALTHY, "buckets": other_layout}, "web-stable": STABLE}, analysis)
    assert verdict.verdict is Verdict.ERROR and "no bucket le=0.15" in verdict.reason
    assert state.evidence == {}


P99_TEMPLATE = {"shop/p99": model.MetricTemplate(query=templates.DURATION_P99_QUERY, direction="increase")}


async def test_custom_comparison_fails_a_significant_latency_regression():
    analysis = spec(metrics=[{"name": "p99", "templateRef": {"name": "p99"}, "comparison": {"maxRatio": 1.1}}])
    backends = {
        "web-canary": {**HEALTHY, "p99": 300, "p99_samples": list(range(290, 310))},
        "web-stable": {**HEALTHY, "p99": 230, "p99_samples": list(range(220, 240))},
    }
    verdict, _, queries = await run(backends, analysis, templates=P99_TEMPLATE)
    metric = verdict.metrics[0]
    assert metric.verdict is Verdict.FAILED and not metric.decisive, metric.reason
    assert (metric.value, metric.stable_value) == (300.0, 230.0)
    assert metric.p_value < 0.05
    assert "over 10m" in metric.reason
    # the bound compares both backends over the lookback; per-step samples use the step as window
    assert sum("[10m]" in q for q in queries) == 2
    assert sum("[30s]" in q for q in queries) == 2


async def test_custom_comparison_holds_when_the_difference_is_noise():
    analysis = spec(metrics=[{"name": "p99", "templateRef": {"name": "p99"}, "comparison": {"maxRatio": 1.1}}])
    noisy = [220, 300, 240, 310, 230, 290, 250, 280]
    backends = {
        "web-canary": {**HEALTHY, "p99": 300, "p99_samples": noisy},
        "web-stable": {**HEALTHY, "p99": 230, "p99_samples": list(reversed(noisy))},
    }
    verdict, _, _ = await run(backends, analysis, templates=P99_TEMPLATE)
    assert verdict.verdict is Verdict.INCONCLUSIVE
    assert "not significant" in verdict.metrics[0].reason


async def test_custom_query_and_named_template():
    analysis = spec(metrics=[
        {"name": "custom", "query": 'sum(rate(x{backend="{{ backend }}"}[{{ interval }}]))', "thresholdRange": {"max": 1000}},
        {"name": "shared", "templateRef": {"name": "p99"}, "thresholdRange": {"max": 500}},
        {"name": "dangling", "templateRef": {"name": "gone"}, "thresholdRange": {"max": 500}},
    ])
    templates = {"shop/p99": model.MetricTemplate(query=f'histogram_quantile(0.99, x{{backend="{{{{ canary }}}}"}})')}
    verdict, _, queries = await run({"web-canary": HEALTHY}, analysis, templates=templates)
    assert [m.verdict for m in verdict.metrics] == [Verdict.SUCCESSFUL, Verdict.SUCCESSFUL, Verdict.ERROR]
    assert verdict.metrics[0].value == 99.8  # the fake answers by backend; the custom query rendered it
    assert "MetricTemplate shop/gone not found" in verdict.metrics[2].reason
    assert verdict.verdict is Verdict.ERROR
    assert 'sum(rate(x{backend="web-canary"}[1m]))' in queries


async def test_template_with_its_own_provider_needs_a_resolver():
    analysis = spec(metrics=[{"name": "remote", "templateRef": {"name": "remote"}, "thresholdRange": {"max": 1}}])
    templates = {"shop/remote": model.MetricTemplate(query="q", provider=model.ProviderSpec(address="http://other:9090"))}
    verdict, _, _ = await run({"web-canary": HEALTHY}, analysis, templates=templates)
    assert verdict.verdict is Verdict.ERROR and "no provider available for http://other:9090" in verdict.reason


async def test_unknown_variable_in_a_custom_query_is_an_error():
    analysis = spec(metrics=[{"name": "c", "query": 'x{s="{{ service }}"}', "thresholdRange": {"max": 1}}])
    verdict, _, queries = await run({"web-canary": HEALTHY}, analysis)
    assert verdict.verdict is Verdict.ERROR and "unknown variable" in verdict.reason
    assert queries == []
