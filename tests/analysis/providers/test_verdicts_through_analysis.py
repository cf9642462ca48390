"""The verdict rules and the sample-size guard hold whatever provider answers.

Each provider's local server answers the metric's value query and its sample-size query
(told apart by the metric they name) in its documented shape; ``evaluate_interval`` runs
exactly as the controller runs it, with the provider built from the spec.
"""

import json

import pytest

from analysis import AnalysisSpec, AnalysisState, Target, Verdict, evaluate_interval, providers
from backend_shapes import ALL, NOW, T, Shapes
from scripted_backend import Received

TARGET = Target(namespace="shop", route="web", stable_backend="web-stable", canary_backend="web-canary",
                backend_namespace="shop")


def analysis_spec(shapes: Shapes, url: str) -> AnalysisSpec:
    return AnalysisSpec.model_validate({
        "interval": "1m", "minSampleSize": 50, "consecutiveFailureLimit": 1,
        "provider": shapes.spec(url),
        "metrics": [{"name": "error-rate", "query": shapes.value_query, "sampleSizeQuery": shapes.sample_query,
                     "thresholdRange": {"max": 1.0}}],
    })


def sent(request: Received) -> str:
    return json.dumps(request.query) + request.body.decode()


@pytest.mark.parametrize("shapes", [pytest.param(shapes, id=shapes.name) for shapes in ALL])
@pytest.mark.parametrize(("requests", "errors_percent", "verdict", "reason"), [
    pytest.param(600, 0.4, Verdict.SUCCESSFUL, "0.4 within <= 1", id="healthy"),
    pytest.param(600, 3.0, Verdict.FAILED, "3 above max 1", id="failing"),
    pytest.param(3, 3.0, Verdict.INCONCLUSIVE, "insufficient traffic 3/50", id="thin-traffic"),
])
async def test_threshold_and_sample_size_guard(shapes, requests, errors_percent, verdict, reason, backend):
    def respond(request: Received):
        asked = sent(request)
        assert "web-canary" in asked  # {{ canary }} was rendered into the provider's query
        value = requests if "web_requests_total" in asked else errors_percent
        return shapes.series([(T - 30, value)])

    backend.respond = respond
    spec = analysis_spec(shapes, backend.url)
    provider = providers.build(spec.provider, lambda ref: shapes.secrets.get((ref.name, ref.key)), window=spec.interval)
    async with provider:
        result, state = await evaluate_interval(spec, TARGET, AnalysisState(), now=NOW, provider=provider)
    assert result.verdict is verdict
    [metric] = result.metrics
    assert reason in metric.reason
    assert metric.sample_size == requests
    assert len(backend.received) == 2  # the value and the sample size, once each
