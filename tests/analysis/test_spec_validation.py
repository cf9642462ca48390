"""The analysis spec admits what the CRD promises and rejects mistakes at admission time."""

import datetime

import pydantic
import pytest

from analysis import durations, model


def test_camel_case_json_round_trip():
    spec = model.AnalysisSpec.model_validate({
        "interval": "30s",
        "consecutiveFailureLimit": 3,
        "minSampleSize": 20,
        "holdDeadline": "5m",
        "holdOutcome": "Failed",
        "metrics": [
            {"name": "request-success-rate", "thresholdRange": {"min": 99}},
            {"name": "latency", "template": "request-duration-p99", "comparison": {"maxRatio": 1.2, "lookback": "5m"}},
            {"name": "custom", "query": "sum(x)", "sampleSizeQuery": "sum(y)", "thresholdRange": {"max": 1}},
            {"name": "shared", "templateRef": {"name": "errors"}, "thresholdRange": {"max": 1}},
        ],
        "webhooks": [{"name": "gate", "type": "confirm-promotion", "url": "http://gate/approve",
                      "secretRef": {"name": "hooks", "key": "hmac"}}],
    })
    assert spec.consecutive_failure_limit == 3
    assert spec.metrics[0].builtin is model.BuiltinTemplate.REQUEST_SUCCESS_RATE
    assert spec.metrics[1].builtin is model.BuiltinTemplate.REQUEST_DURATION_P99
    assert spec.metrics[2].builtin is None
    dumped = spec.model_dump(by_alias=True, mode="json", exclude_none=True)
    assert dumped["metrics"][1]["comparison"]["maxRatio"] == 1.2
    assert dumped["webhooks"][0]["secretRef"] == {"name": "hooks", "key": "hmac"}
    assert model.AnalysisSpec.model_validate(dumped) == spec


def test_python_names_are_accepted_too():
    assert model.MetricSpec(name="x", query="q", threshold_range=model.ThresholdRange(max=1)).threshold_range.max == 1


@pytest.mark.parametrize(
    "metric, message",
    [
        pytest.param({"name": "custom", "thresholdRange": {"min": 1}}, "set template, templateRef or query", id="no-source"),
        pytest.param({"name": "x", "query": "q", "template": "request-success-rate", "thresholdRange": {"min": 1}},
                     "only one of", id="two-sources"),
        pytest.param({"name": "request-success-rate"}, "thresholdRange, comparison or both", id="no-bound"),
        pytest.param({"name": "x", "query": "q", "thresholdRange": {}}, "min, max or both", id="empty-range"),
        pytest.param({"name": "x", "query": "q", "thresholdRange": {"min": 2, "max": 1}}, "greater than max", id="inverted-range"),
        pytest.param({"name": "x", "query": "q", "comparison": {}}, "maxRatio, maxDifference", id="unbounded-comparison"),
        pytest.param({"name": "x", "query": "q", "comparison": {"maxRatio": 0.9}}, "greater than 1", id="ratio-below-one"),
        pytest.param({"name": "x", "query": "q", "thresholdRange": {"min": 1}, "interval": "1 minute"}, "pattern",
                     id="bad-duration"),
        pytest.param({"name": "x", "query": "q", "thresholdRange": {"min": 1}, "interval": "0s"}, "greater than zero",
                     id="zero-duration"),
        pytest.param({"name": "x", "query": "q", "thresholdRange": {"min": 1}, "treshold": 1}, "Extra inputs", id="typo"),
        pytest.param({"name": "x", "template": "request-count", "thresholdRange": {"min": 1}}, "request-success-rate",
                     id="unknown-builtin"),
    ],
)
def test_invalid_metrics_are_rejected(metric, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        model.MetricSpec.model_validate(metric)


def test_metric_names_are_unique():
    metric = {"name": "request-success-rate", "thresholdRange": {"min": 99}}
    with pytest.raises(pydantic.ValidationError, match="unique"):
        model.AnalysisSpec.model_validate({"metrics": [metric, metric]})


def test_webhook_needs_an_http_url_and_a_known_type():
    with pytest.raises(pydantic.ValidationError, match="pattern"):
        model.WebhookSpec(name="h", url="ftp://x")
    with pytest.raises(pydantic.ValidationError, match="pre-rollout"):
        model.WebhookSpec.model_validate({"name": "h", "url": "http://x", "type": "sometimes"})


def test_schema_is_crd_friendly():
    schema = model.AnalysisSpec.model_json_schema(by_alias=True)

    def walk(node, path=""):
        if isinstance(node, dict):
            if "properties" in node:
                for name, prop in node["properties"].items():
                    assert "description" in prop, f"{path}.{name} has no description"
                    assert name[0].islower() and "_" not in name, name
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    walk(schema)
    assert schema["properties"]["interval"]["pattern"] == durations.DURATION_PATTERN


@pytest.mark.parametrize(
    "text, seconds",
    [
        pytest.param("30s", 30, id="seconds"),
        pytest.param("1m", 60, id="minutes"),
        pytest.param("1h30m", 5400, id="compound"),
        pytest.param("500ms", 0.5, id="millis"),
        pytest.param("1d", 86400, id="days"),
    ],
)
def test_durations_parse(text, seconds):
    assert durations.parse_duration(text) == datetime.timedelta(seconds=seconds)


@pytest.mark.parametrize("seconds, text", [(30, "30s"), (90, "1m30s"), (3600, "1h"), (1.5, "1500ms")])
def test_durations_format_for_promql(seconds, text):
    assert durations.format_duration(seconds) == text
    assert durations.seconds(text) == seconds
