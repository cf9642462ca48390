"""A provider spec is refused at validation, with a message saying what to add or remove."""

import pytest
from pydantic import ValidationError

from analysis import AnalysisSpec, MetricTemplate, ProviderSpec, ProviderType, model, providers


@pytest.mark.parametrize(("body", "message"), [
    pytest.param({"type": "datadog"}, "a datadog provider needs secretName: a Secret with the keys datadog_api_key "
                 "and datadog_application_key", id="datadog-without-keys"),
    pytest.param({"type": "newrelic"}, "newrelic_api_key and newrelic_account_id", id="newrelic-without-keys"),
    pytest.param({"type": "cloudwatch", "secretName": "aws"}, "a cloudwatch provider needs region", id="no-region"),
    pytest.param({"type": "cloudwatch", "region": "eu-west-1"}, "aws_access_key_id and aws_secret_access_key",
                 id="cloudwatch-without-keys"),
    pytest.param({"type": "influxdb", "secretName": "influx"}, "an influxdb provider needs address",
                 id="influxdb-without-address"),
    pytest.param({"type": "graphite"}, "a graphite provider needs address", id="graphite-without-address"),
    pytest.param({"type": "graphite", "address": "http://g", "secretName": "g"}, "use bearerTokenSecretRef or "
                 "basicAuthSecretName", id="graphite-secret-name"),
    pytest.param({"type": "datadog", "secretName": "dd", "basicAuthSecretName": "x"}, "authenticates with secretName",
                 id="datadog-basic-auth"),
    pytest.param({"type": "prometheus", "address": "http://p", "window": "5m"}, "PromQL carries its range",
                 id="prometheus-window"),
    pytest.param({"type": "datadog", "secretName": "dd", "region": "eu-west-1"}, "region is only read by a "
                 "cloudwatch provider", id="region-elsewhere"),
    pytest.param({"type": "stackdriver", "address": "http://s"}, "'prometheus', 'datadog', 'newrelic', 'cloudwatch', "
                 "'graphite' or 'influxdb'", id="unknown-type"),
])
def test_refused_with_a_clear_message(body, message):
    with pytest.raises(ValidationError) as raised:
        ProviderSpec.model_validate(body)
    assert message in str(raised.value)


def test_each_type_accepted_with_what_it_needs_and_its_secret_keys_named():
    specs = {
        "datadog": {"secretName": "dd"},
        "newrelic": {"secretName": "nr"},
        "cloudwatch": {"secretName": "aws", "region": "eu-west-1", "window": "5m"},
        "graphite": {"address": "http://graphite", "basicAuthSecretName": "g"},
        "influxdb": {"address": "http://influx:8086", "secretName": "influx"},
        "prometheus": {"address": "http://prometheus:9090", "bearerTokenSecretRef": {"name": "p", "key": "token"}},
    }
    keys = {kind: [(ref.name, ref.key) for ref in providers.secret_keys(ProviderSpec.model_validate(
        {"type": kind, **body}))] for kind, body in specs.items()}
    assert keys == {
        "datadog": [("dd", "datadog_api_key"), ("dd", "datadog_application_key")],
        "newrelic": [("nr", "newrelic_api_key"), ("nr", "newrelic_account_id")],
        "cloudwatch": [("aws", "aws_access_key_id"), ("aws", "aws_secret_access_key"), ("aws", "aws_session_token")],
        "graphite": [("g", "username"), ("g", "password")],
        "influxdb": [("influx", "token"), ("influx", "org")],
        "prometheus": [("p", "token")],
    }
    assert {ProviderType(kind) for kind in specs} == set(ProviderType)


def test_a_missing_required_key_is_named_but_a_missing_session_token_is_fine():
    spec = ProviderSpec.model_validate({"type": "cloudwatch", "secretName": "aws", "region": "eu-west-1"})
    with pytest.raises(providers.MissingCredentials, match="aws/aws_secret_access_key"):
        providers.build(spec, lambda ref: "AKID" if ref.key == "aws_access_key_id" else None)
    built = providers.build(spec, lambda ref: None if ref.key == "aws_session_token" else "x")
    assert type(built).__name__ == "CloudWatchProvider"


def test_builtin_templates_and_promql_sample_sizes_are_refused_for_other_providers():
    datadog = {"type": "datadog", "secretName": "dd"}
    with pytest.raises(ValidationError, match="built-in templates are PromQL"):
        AnalysisSpec.model_validate({"provider": datadog, "metrics": [
            {"name": "request-success-rate", "thresholdRange": {"min": 99}}]})
    with pytest.raises(ValidationError, match="needs sampleSizeQuery"):
        AnalysisSpec.model_validate({"provider": datadog, "metrics": [
            {"name": "errors", "query": "sum:web.errors{*}", "thresholdRange": {"max": 1}}]})
    with pytest.raises(ValidationError, match="MetricTemplate with a datadog provider needs sampleSizeQuery"):
        MetricTemplate.model_validate({"provider": datadog, "query": "sum:web.errors{*}"})
    template = MetricTemplate.model_validate({"provider": datadog, "query": "sum:web.errors{*}",
                                              "sampleSizeQuery": "cumsum(sum:web.requests{*}.as_count())"})
    assert template.provider.type is model.ProviderType.DATADOG
