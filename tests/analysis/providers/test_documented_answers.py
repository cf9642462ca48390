"""Every provider against a local server answering in its API's documented shapes.

One table of shapes (``backend_shapes``), the same expectations for all five: the value
is the latest point, a range keeps every point, "no data", "ambiguous", "broken query"
and "provider down" each get their own error type, rate limits are retried, auth
failures are not, and histogram buckets are refused with a typed error.
"""

import datetime

import pytest

from analysis import errors, model, providers
from backend_shapes import ALL, NOW, T, Shapes
from scripted_backend import Answer
from routeshift.testing.processes import free_port

CASES = [pytest.param(shapes, id=shapes.name) for shapes in ALL]


def provider_for(shapes: Shapes, url: str):
    spec = model.ProviderSpec.model_validate(shapes.spec(url))
    return providers.build(spec, lambda ref: shapes.secrets.get((ref.name, ref.key)), window="1m", backoff=0.001)


def query_of(shapes: Shapes) -> str:
    return shapes.value_query.replace("{{ canary }}", "web-canary")


@pytest.mark.parametrize("shapes", CASES)
async def test_the_latest_point_with_a_value_is_the_value(shapes, backend):
    backend.answer(shapes.series([(T - 40, 1.0), (T - 20, 2.5), (T - 5, None)]))
    async with provider_for(shapes, backend.url) as provider:
        assert await provider.query(query_of(shapes), at=NOW) == 2.5
    assert len(backend.received) == 1


@pytest.mark.parametrize("shapes", CASES)
async def test_a_range_keeps_every_point_in_time_order(shapes, backend):
    backend.answer(shapes.range_series([(T - 60, 1.0), (T - 30, None), (T - 15, 2.5)]))
    async with provider_for(shapes, backend.url) as provider:
        values = await provider.query_range(query_of(shapes), start=NOW - datetime.timedelta(minutes=1), end=NOW,
                                            step=15)
    assert values == [1.0, 2.5]


@pytest.mark.parametrize("shapes", CASES)
async def test_no_data_is_no_data(shapes, backend):
    backend.answer(shapes.no_data)
    async with provider_for(shapes, backend.url) as provider:
        with pytest.raises(errors.NoDataError):
            await provider.query(query_of(shapes), at=NOW)


@pytest.mark.parametrize("shapes", CASES)
async def test_two_series_are_ambiguous(shapes, backend):
    backend.answer(shapes.two_series)
    async with provider_for(shapes, backend.url) as provider:
        with pytest.raises(errors.MultipleSeriesError, match="2 series returned"):
            await provider.query(query_of(shapes), at=NOW)


@pytest.mark.parametrize("shapes", CASES)
async def test_an_auth_failure_is_a_rejected_query_and_not_retried(shapes, backend):
    backend.answer(shapes.auth_failure)
    async with provider_for(shapes, backend.url) as provider:
        with pytest.raises(errors.QueryRejected, match="credentials") as raised:
            await provider.query(query_of(shapes), at=NOW)
    assert not raised.value.retryable
    assert len(backend.received) == 1


@pytest.mark.parametrize("shapes", CASES)
async def test_a_bad_query_is_rejected_with_the_backends_reason(shapes, backend):
    backend.answer(shapes.bad_query)
    async with provider_for(shapes, backend.url) as provider:
        with pytest.raises(errors.QueryRejected) as raised:
            await provider.query(query_of(shapes), at=NOW)
    assert type(raised.value) is errors.QueryRejected
    reason = {"datadog": "Error parsing query", "newrelic": "NRQL Syntax Error", "cloudwatch": "ValidationError",
              "graphite": "Invalid function", "influxdb": "undefined identifier frum"}[shapes.name]
    assert reason in str(raised.value)
    assert len(backend.received) == 1


@pytest.mark.parametrize("shapes", CASES)
async def test_a_rate_limit_is_retried(shapes, backend):
    backend.answer(shapes.rate_limited, shapes.series([(T - 10, 4.0)]))
    async with provider_for(shapes, backend.url) as provider:
        assert await provider.query(query_of(shapes), at=NOW) == 4.0
    assert len(backend.received) == 2


@pytest.mark.parametrize("shapes", CASES)
async def test_a_provider_that_stays_down_is_unavailable_after_its_retries(shapes, backend):
    backend.answer(shapes.unavailable, shapes.unavailable)
    async with provider_for(shapes, backend.url) as provider:
        with pytest.raises(errors.ProviderUnavailable):
            await provider.query(query_of(shapes), at=NOW)
    assert len(backend.received) == 2  # retries: 1


@pytest.mark.parametrize("shapes", CASES)
async def test_an_unreachable_provider_is_unavailable(shapes):
    async with provider_for(shapes, f"http://127.0.0.1:{free_port()}") as provider:
        with pytest.raises(errors.ProviderUnavailable, match="ConnectError"):
            await provider.query(query_of(shapes), at=NOW)


@pytest.mark.parametrize("shapes", CASES)
async def test_histogram_buckets_are_refused_with_a_typed_error(shapes, backend):
    async with provider_for(shapes, backend.url) as provider:
        with pytest.raises(providers.UnsupportedQuery, match="needs a prometheus provider"):
            await provider.query_buckets(query_of(shapes), at=NOW)
    assert backend.received == []


@pytest.mark.parametrize("shapes", CASES)
async def test_an_answer_in_another_shape_is_a_provider_error_not_no_data(shapes, backend):
    backend.answer(Answer(200, "<html><body><h1>Welcome to nginx!</h1></body></html>", "text/html"))
    async with provider_for(shapes, backend.url) as provider:
        with pytest.raises(errors.ProviderError) as raised:
            await provider.query(query_of(shapes), at=NOW)
    assert type(raised.value) is errors.ProviderError
    assert len(backend.received) == 1
