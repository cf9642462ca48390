"""The Prometheus provider against the HTTP API (respx): result shapes, errors, retries, auth."""

import datetime
import math
import ssl
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from analysis import errors, model
from analysis.prometheus import PrometheusConfig, PrometheusProvider

URL = "http://prometheus.test:9090"
NOW = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.timezone.utc)


def vector(*values, labels=None):
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": (labels or [{}] * len(values))[i], "value": [NOW.timestamp(), v]} for i, v in enumerate(values)
    ]}}


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


@pytest.fixture
async def provider():
    async with PrometheusProvider(PrometheusConfig(URL, retries=2, backoff=0.001)) as p:
        yield p


@respx.mock
async def test_instant_query_posts_the_promql_and_time(provider):
    route = respx.post(f"{URL}/api/v1/query").mock(return_value=httpx.Response(200, json=vector("99.5")))
    assert await provider.query("sum(up)", at=NOW) == 99.5
    assert form(route.calls.last.request) == {"query": "sum(up)", "time": f"{NOW.timestamp():.3f}"}


@respx.mock
async def test_scalar_results_are_numbers(provider):
    respx.post(f"{URL}/api/v1/query").mock(return_value=httpx.Response(
        200, json={"status": "success", "data": {"resultType": "scalar", "result": [NOW.timestamp(), "4"]}}))
    assert await provider.query("scalar(vector(4))", at=NOW) == 4.0


@respx.mock
async def test_plus_inf_is_a_value(provider):
    respx.post(f"{URL}/api/v1/query").mock(return_value=httpx.Response(200, json=vector("+Inf")))
    assert await provider.query("q", at=NOW) == math.inf


@pytest.mark.parametrize(
    "body, error, message",
    [
        pytest.param(vector(), errors.NoDataError, "no series returned", id="empty-is-no-data"),
        pytest.param(vector("NaN"), errors.NaNResultError, "NaN", id="nan"),
        pytest.param(vector("1", "2", labels=[{"backend": "a"}, {"backend": "b"}]), errors.MultipleSeriesError,
                     '2 series returned ({backend="a"}, {backend="b"})', id="multi-series"),
        pytest.param({"status": "success", "data": {"resultType": "matrix", "result": []}}, errors.QueryRejected,
                     "expected an instant vector or scalar, got matrix", id="range-vector"),
    ],
)
@respx.mock
async def test_result_shapes(provider, body, error, message):
    route = respx.post(f"{URL}/api/v1/query").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(error) as caught:
        await provider.query("q", at=NOW)
    assert message in str(caught.value)
    assert not caught.value.retryable
    assert route.call_count == 1  # result errors are not retried


@respx.mock
async def test_transient_errors_are_retried_then_succeed(provider):
    route = respx.post(f"{URL}/api/v1/query").mock(side_effect=[
        httpx.ConnectError("refused"),
        httpx.Response(503, json={"status": "error", "errorType": "unavailable", "error": "starting"}),
        httpx.Response(200, json=vector("1")),
    ])
    assert await provider.query("q", at=NOW) == 1.0
    assert route.call_count == 3


@respx.mock
async def test_unreachable_after_retries_raises_provider_unavailable(provider):
    route = respx.post(f"{URL}/api/v1/query").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(errors.ProviderUnavailable, match="ConnectError") as caught:
        await provider.query("q", at=NOW)
    assert caught.value.retryable
    assert route.call_count == 3  # 1 + 2 retries


@pytest.mark.parametrize("status", [429, 500, 502, 503])
@respx.mock
async def test_throttling_and_server_errors_are_transient(provider, status):
    route = respx.post(f"{URL}/api/v1/query").mock(return_value=httpx.Response(status, text="busy"))
    with pytest.raises(errors.ProviderUnavailable, match=f"HTTP {status}"):
        await provider.query("q", at=NOW)
    assert route.call_count == 3


@respx.mock
async def test_a_bad_query_is_rejected_without_retry(provider):
    route = respx.post(f"{URL}/api/v1/query").mock(return_value=httpx.Response(
        400, json={"status": "error", "errorType": "bad_data", "error": "parse error at char 5"}))
    with pytest.raises(errors.QueryRejected, match="bad_data: parse error at char 5: sum\\("):
        await provider.query("sum(", at=NOW)
    assert route.call_count == 1


@respx.mock
async def test_not_json_is_a_permanent_provider_error(provider):
    respx.post(f"{URL}/api/v1/query").mock(return_value=httpx.Response(200, text="<html>login</html>"))
    with pytest.raises(errors.ProviderError, match="not JSON"):
        await provider.query("q", at=NOW)


@respx.mock
async def test_timeout_is_transient():
    route = respx.post(f"{URL}/api/v1/query").mock(side_effect=httpx.ReadTimeout("slow"))
    async with PrometheusProvider(PrometheusConfig(URL, retries=1, backoff=0.001, timeout=0.5)) as p:
        with pytest.raises(errors.ProviderUnavailable, match="ReadTimeout"):
            await p.query("q", at=NOW)
    assert route.call_count == 2


@respx.mock
async def test_range_query_returns_the_series_values(provider):
    route = respx.post(f"{URL}/api/v1/query_range").mock(return_value=httpx.Response(200, json={
        "status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {}, "values": [[1, "1.5"], [2, "NaN"], [3, "2"]]}]}}))
    start = NOW - datetime.timedelta(minutes=5)
    values = await provider.query_range("q", start=start, end=NOW, step=30)
    assert values[0] == 1.5 and math.isnan(values[1]) and values[2] == 2.0
    assert form(route.calls.last.request) == {
        "query": "q", "start": f"{start.timestamp():.3f}", "end": f"{NOW.timestamp():.3f}", "step": "30"}


@respx.mock
async def test_range_query_with_no_series_is_no_data(provider):
    respx.post(f"{URL}/api/v1/query_range").mock(return_value=httpx.Response(
        200, json={"status": "success", "data": {"resultType": "matrix", "result": []}}))
    with pytest.raises(errors.NoDataError):
        await provider.query_range("q", start=NOW, end=NOW, step=30)


@respx.mock
async def test_headers_and_bearer_token_are_sent():
    route = respx.post(f"{URL}/api/v1/query").mock(return_value=httpx.Response(200, json=vector("1")))
    config = PrometheusConfig(URL, headers={"X-Scope-OrgID": "team-a"}, bearer_token="s3cret")
    async with PrometheusProvider(config) as p:
        await p.query("q", at=NOW)
    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert request.headers["X-Scope-OrgID"] == "team-a"


def test_config_from_spec_reads_secrets_and_tls_options():
    spec = model.ProviderSpec.model_validate({
        "address": URL, "headers": {"X-Scope-OrgID": "a"}, "timeout": "3s", "retries": 1,
        "bearerTokenSecretRef": {"name": "prom", "key": "token"}, "basicAuthSecretName": "prom-basic",
        "tls": {"insecureSkipVerify": True},
    })
    secrets = {("prom", "token"): "t0k", ("prom-basic", "username"): "u", ("prom-basic", "password"): "p"}
    config = PrometheusConfig.from_spec(spec, lambda ref: secrets[(ref.name, ref.key)])
    assert (config.bearer_token, config.basic_auth, config.verify, config.timeout, config.retries) == (
        "t0k", ("u", "p"), False, 3.0, 1)
    verified = PrometheusConfig.from_spec(model.ProviderSpec(address=URL, tls=model.TLSConfig()), lambda ref: "")
    assert isinstance(verified.verify, ssl.SSLContext)
    assert PrometheusConfig.from_spec(model.ProviderSpec(address=URL), lambda ref: "").verify is True


@respx.mock
async def test_basic_auth_is_sent():
    route = respx.post(f"{URL}/api/v1/query").mock(return_value=httpx.Response(200, json=vector("1")))
    async with PrometheusProvider(PrometheusConfig(URL, basic_auth=("u", "p"))) as p:
        await p.query("q", at=NOW)
    assert route.calls.last.request.headers["Authorization"] == "Basic dTpw"


def test_providers_share_one_verification_context(monkeypatch):
    # A provider is built for every analysis interval of every Canary; httpx would load the CA
    # bundle for each (tens of milliseconds of CPU), which at a hundred Canaries took a core.
    from analysis import tls

    built = []
    monkeypatch.setattr(httpx, "create_ssl_context", lambda *a, **k: built.append(1) or ssl.create_default_context())
    tls.default_context.cache_clear()
    try:
        for _ in range(5):
            PrometheusProvider(PrometheusConfig(URL))
            PrometheusProvider(PrometheusConfig.from_spec(model.ProviderSpec(address=URL), lambda ref: ""))
        assert len(built) == 1
    finally:
        tls.default_context.cache_clear()
