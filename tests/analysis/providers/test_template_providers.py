"""Flagger's layout: the provider lives in the MetricTemplate, next to its query.

``ProviderPool`` builds each template's provider from the Secret keys fetched first; a
template whose Secret is missing gets an Error verdict on its own metric while the
others are still judged.
"""

import pytest

from analysis import AnalysisSpec, AnalysisState, MetricTemplate, ProviderPool, Target, Verdict, evaluate_interval
from backend_shapes import DATADOG, INFLUXDB, NOW, T
from scripted_backend import Answer, Received

TARGET = Target(namespace="shop", route="web", stable_backend="web-stable", canary_backend="web-canary",
                backend_namespace="shop")


class Unused:
    """The analysis-level provider: no metric here may reach it."""

    async def query(self, query, *, at):
        pytest.fail(f"queried the analysis provider: {query}")

    async def query_range(self, query, *, start, end, step):
        pytest.fail(f"queried the analysis provider: {query}")


async def test_each_template_queries_its_own_provider_and_a_missing_secret_fails_only_its_metric(backend):
    def respond(request: Received) -> Answer:
        count = b"web_requests_total" in request.body or "web_requests_total" in str(request.query)
        if request.path == "/api/v2/query":
            return INFLUXDB.series([(T - 10, 700.0 if count else 0.2)])
        return DATADOG.series([(T - 10, 700.0 if count else 0.3)])

    backend.respond = respond
    templates = {
        "shop/dd-errors": MetricTemplate.model_validate({"provider": DATADOG.spec(backend.url),
            "query": DATADOG.value_query, "sampleSizeQuery": DATADOG.sample_query}),
        "shop/influx-errors": MetricTemplate.model_validate({"provider": INFLUXDB.spec(backend.url),
            "query": INFLUXDB.value_query, "sampleSizeQuery": INFLUXDB.sample_query}),
        "shop/no-secret": MetricTemplate.model_validate({"provider": {**DATADOG.spec(backend.url), "secretName": "gone"},
            "query": DATADOG.value_query, "sampleSizeQuery": DATADOG.sample_query}),
    }
    spec = AnalysisSpec.model_validate({"interval": "1m", "metrics": [
        {"name": name, "templateRef": {"name": name}, "thresholdRange": {"max": 1}}
        for name in ("dd-errors", "influx-errors", "no-secret")]})
    refs = ProviderPool.secret_keys(templates.values())
    assert {(ref.name, ref.key) for ref in refs} >= {("dd", "datadog_api_key"), ("influx", "token"),
                                                      ("gone", "datadog_api_key")}
    pool = ProviderPool({**DATADOG.secrets, **INFLUXDB.secrets}, window=spec.interval)
    try:
        result, _ = await evaluate_interval(spec, TARGET, AnalysisState(), now=NOW, provider=Unused(),
                                            templates=templates, resolve_provider=pool.resolve)
    finally:
        await pool.aclose()
    verdicts = {m.metric: (m.verdict, m.reason) for m in result.metrics}
    assert verdicts["dd-errors"] == (Verdict.SUCCESSFUL, "0.3 within <= 1")
    assert verdicts["influx-errors"] == (Verdict.SUCCESSFUL, "0.2 within <= 1")
    assert verdicts["no-secret"][0] is Verdict.ERROR
    assert "MissingCredentials" in verdicts["no-secret"][1] and "gone/datadog_api_key" in verdicts["no-secret"][1]
    assert result.verdict is Verdict.ERROR
    assert {r.path for r in backend.received} == {"/api/v1/query", "/api/v2/query"}
