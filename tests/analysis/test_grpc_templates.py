"""grpc-success-rate judges gRPC calls by their grpc-status, not by the HTTP 200 they all end with.

Rendering is checked as PromQL text; the judgement against a real Prometheus holding a
backfilled history of the proxy's counters as the proxy exports them: every request in
``routeshift_gateway_requests_total`` by HTTP ``code``, and gRPC calls also in
``routeshift_gateway_grpc_requests_total`` by ``grpc_status`` (the numeric code).
"""

from __future__ import annotations

import datetime
import re
import time

import pydantic
import pytest

from analysis import AnalysisSpec, AnalysisState, Target, Verdict, evaluate_interval, grpc_status, model, templates
from analysis.prometheus import PrometheusConfig, PrometheusProvider

VARS = {"namespace": "shop", "route": "cart", "backend": "cart-v2", "backend_namespace": "shop",
        "stable": "cart-v1", "canary": "cart-v2", "interval": "1m"}
SELECTOR = 'namespace="shop",route="cart",backend_namespace="shop",backend="cart-v2"'
REQUESTS = "routeshift_gateway_requests_total"
GRPC = "routeshift_gateway_grpc_requests_total"


def _metric(**fields) -> model.MetricSpec:
    return model.MetricSpec.model_validate({"name": "grpc-success-rate", "thresholdRange": {"min": 99}, **fields})


@pytest.mark.parametrize(
    ("codes", "regex"),
    [
        pytest.param(None, "2|4|13|14|15", id="default-server-failures"),
        pytest.param(["Unavailable", "ResourceExhausted"], "8|14", id="configured"),
        pytest.param(["Unauthenticated", "Cancelled", "Cancelled"], "1|16", id="ordered-and-deduplicated"),
    ],
)
def test_the_success_rate_counts_calls_failed_with_the_chosen_codes_among_grpc_calls(codes, regex):
    fields = {} if codes is None else {"grpcFailureCodes": codes}
    resolved = templates.resolve(_metric(**fields), namespace="shop", templates={})
    assert templates.render(resolved.query, VARS) == (
        f'100 * (1 - ((sum(rate({GRPC}{{{SELECTOR},grpc_status=~"{regex}"}}[1m])) or vector(0))'
        f' / sum(rate({GRPC}{{{SELECTOR}}}[1m]))))')
    assert templates.render(resolved.counted.bad_query, VARS) == (
        f'sum(increase({GRPC}{{{SELECTOR},grpc_status=~"{regex}"}}[1m])) or vector(0)')
    assert resolved.direction is model.Direction.DECREASE


def test_only_grpc_calls_make_the_sample():
    resolved = templates.resolve(_metric(), namespace="shop", templates={})
    expected = f'sum(increase({GRPC}{{{SELECTOR}}}[1m]))'
    assert templates.render(resolved.sample_size_query, VARS) == expected
    assert templates.render(resolved.counted.total_query, VARS) == expected


def test_the_status_label_is_named_once():
    resolved = templates.resolve(_metric(), namespace="shop", templates={})
    for query in (resolved.query, resolved.counted.bad_query):
        assert set(re.findall(r"(\w+)(?:!=|=~)", query)) == {templates.GRPC_STATUS_LABEL}
    for query in (resolved.query, resolved.sample_size_query, resolved.counted.bad_query):
        assert set(re.findall(r"(\w+)\{", query)) == {templates.GRPC_REQUESTS}


def test_failure_codes_are_names_and_belong_to_the_grpc_template():
    assert grpc_status.NUMBERS[grpc_status.GrpcCode.UNAVAILABLE] == 14
    assert grpc_status.NUMBERS[grpc_status.GrpcCode.UNAUTHENTICATED] == 16
    with pytest.raises(pydantic.ValidationError):
        _metric(grpcFailureCodes=["UNAVAILABLE"])
    with pytest.raises(pydantic.ValidationError, match="grpcFailureCodes goes with the grpc-success-rate template"):
        _metric(name="request-success-rate", grpcFailureCodes=["Unavailable"])


# --------------------------------------------------------------------------- a real Prometheus

NOW = int(time.time()) - 30
STEP = 15
# Per 15 s: the canary answers 90 calls OK, 4 Unavailable, 6 NotFound, and 50 plain HTTP
# requests 503 (not gRPC: they must not count); stable answers 100 calls OK.
MIX = {
    ("cart-v2", "200", "0"): 90, ("cart-v2", "200", "14"): 4, ("cart-v2", "200", "5"): 6,
    ("cart-v2", "503", ""): 50, ("cart-v1", "200", "0"): 100,
}


def _history() -> str:
    requests: dict[tuple[str, str], int] = {}  # every request by HTTP code, gRPC calls included
    grpc: dict[tuple[str, str], int] = {}  # gRPC calls by status
    for (backend, code, status), per_step in MIX.items():
        requests[(backend, code)] = requests.get((backend, code), 0) + per_step
        if status:
            grpc[(backend, status)] = per_step
    families = ((REQUESTS, "code", requests), (GRPC, "grpc_status", grpc))
    lines = []
    for name, label, counts in families:
        lines.append(f"# TYPE {name.removesuffix('_total')} counter")
        for (backend, value), per_step in counts.items():
            labels = f'namespace="shop",route="cart",backend_namespace="shop",backend="{backend}",{label}="{value}"'
            for n, at in enumerate(range(NOW - 600, NOW + STEP, STEP)):
                lines.append(f"{name}{{{labels}}} {n * per_step} {at}")
    return "\n".join(lines) + "\n# EOF\n"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    from routeshift.testing.prometheus import PrometheusServer

    server = PrometheusServer(tmp_path_factory.mktemp("grpc-prometheus"))
    server.backfill(_history())
    server.start()
    yield server
    server.stop()


async def _judge(prometheus, metrics):
    analysis = AnalysisSpec.model_validate({"interval": "1m", "minSampleSize": 50, "metrics": metrics})
    async with PrometheusProvider(PrometheusConfig(prometheus.url, timeout=5.0)) as provider:
        verdict, _ = await evaluate_interval(analysis, Target("shop", "cart", "cart-v1", "cart-v2", "shop"),
                                             AnalysisState(), provider=provider,
                                             now=datetime.datetime.fromtimestamp(NOW, datetime.timezone.utc))
    return verdict


async def test_server_failures_among_grpc_calls_fail_the_canary_and_http_errors_do_not_count(prometheus):
    verdict = await _judge(prometheus, [
        {"name": "grpc-success-rate", "thresholdRange": {"min": 99}},
        {"name": "not-found-too", "template": "grpc-success-rate", "thresholdRange": {"min": 99},
         "grpcFailureCodes": ["Unavailable", "NotFound"]},
    ])
    default, with_not_found = verdict.metrics
    assert default.value == pytest.approx(96.0) and default.verdict is Verdict.FAILED
    assert with_not_found.value == pytest.approx(90.0)
    assert 300 <= default.sample_size <= 500  # 100 calls per 15 s over 1m; the 503s are not gRPC calls


async def test_the_canary_is_compared_with_stable_on_counted_server_failures(prometheus):
    verdict = await _judge(prometheus, [{"name": "grpc-success-rate", "comparison": {"maxDifference": 1}}])
    (metric,) = verdict.metrics
    counted = re.search(r"gRPC server failures: canary (\d+)/(\d+), stable 0/(\d+)", metric.reason)
    assert counted and int(counted[1]) / int(counted[2]) == pytest.approx(0.04, abs=0.005), metric.reason
    assert metric.verdict is Verdict.FAILED, metric.reason
