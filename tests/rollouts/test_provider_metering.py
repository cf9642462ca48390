"""Every metrics-provider query the analysis sends is counted by provider and result, and timed."""

import datetime

import pytest

import analysis
from rollouts.metrics import Metrics
from rollouts.provider_metering import MeteredProvider

AT = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


class Provider:
    def __init__(self):
        self.closed = False

    async def query(self, promql, *, at):
        if promql == "empty":
            raise analysis.NoDataError("no series")
        if promql == "broken":
            raise analysis.QueryRejected("parse error")
        return 1.5

    async def aclose(self):
        self.closed = True


async def test_queries_are_counted_by_result_and_the_rest_is_passed_through():
    metrics, inner = Metrics(), Provider()
    provider = MeteredProvider(inner, metrics, kind="datadog")
    assert await provider.query("up", at=AT) == 1.5
    with pytest.raises(analysis.NoDataError):
        await provider.query("empty", at=AT)
    with pytest.raises(analysis.QueryRejected):
        await provider.query("broken", at=AT)
    await provider.aclose()
    assert inner.closed
    text = metrics.render().decode()
    for result in ("ok", "no_data", "error"):
        assert f'routeshift_analysis_queries_total{{provider="datadog",result="{result}"}} 1.0' in text
    assert 'routeshift_analysis_query_duration_seconds_count{provider="datadog"} 3.0' in text
