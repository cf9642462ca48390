"""``controller.metricsProvider``: the schema mirrors ProviderSpec and refuses what the controller would.

The controller validates the rendered ``--metrics-provider`` again at start-up (exit code 2);
the schema catches the common mistakes earlier, at ``helm install``, with the value's path.
"""

import json

import pytest

import analysis
from routeshift.testing.helm import REPO_ROOT

CHART = REPO_ROOT / "charts" / "routeshift"


def _aliases(model) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def test_the_values_schema_has_the_fields_of_a_canarys_provider():
    """A field added to ProviderSpec must be added to the chart's values too (or this fails)."""
    schema = json.loads((CHART / "values.schema.json").read_text())["properties"]["controller"]["properties"]
    provider = schema["metricsProvider"]["properties"]
    assert set(provider) == _aliases(analysis.ProviderSpec)
    assert set(provider["tls"]["properties"]) == _aliases(analysis.TLSConfig)
    assert set(provider["bearerTokenSecretRef"]["properties"]) == _aliases(analysis.SecretKeyRef)
    assert provider["type"]["enum"] == [kind.value for kind in analysis.ProviderType]


@pytest.mark.parametrize(("provider", "complaint"), [
    pytest.param({"type": "datadog"}, "controller.metricsProvider: secretName is required", id="datadog-no-secret"),
    pytest.param({"type": "cloudwatch", "secretName": "aws"}, "controller.metricsProvider: region is required",
                 id="cloudwatch-no-region"),
    pytest.param({"type": "influxdb", "secretName": "influx"}, "controller.metricsProvider: address is required",
                 id="influxdb-no-address"),
    pytest.param({"secretname": "datadog", "type": "datadog"}, "Additional property secretname is not allowed",
                 id="typo"),
    pytest.param({"type": "stackdriver", "address": "http://x"}, "controller.metricsProvider.type: controller."
                 "metricsProvider.type must be one of the following", id="unknown-type"),
    pytest.param({"type": "graphite", "address": "graphite:8080"}, "controller.metricsProvider.address: Does not "
                 "match pattern", id="address-without-scheme"),
    pytest.param({"type": "datadog", "secretName": "dd", "window": "five minutes"},
                 "controller.metricsProvider.window: Does not match pattern", id="window"),
])
def test_schema_refuses_a_provider_that_cannot_work(helm_run, provider, complaint):
    result = helm_run("template", "rs", CHART, values={"controller": {"metricsProvider": provider}})
    assert result.returncode != 0
    assert complaint in result.stderr


@pytest.mark.parametrize(("skip_schema", "complaint"), [
    pytest.param(False, 'controller.prometheusUrl does not match: ""', id="schema"),
    pytest.param(True, "controller.prometheusUrl and controller.metricsProvider both name the default metrics "
                 "provider: set one", id="template-guard"),
])
def test_prometheus_url_and_a_metrics_provider_are_not_both_accepted(helm_run, skip_schema, complaint):
    flags = ["--skip-schema-validation"] if skip_schema else []
    result = helm_run("template", "rs", CHART, *flags, values={"controller": {
        "prometheusUrl": "http://prometheus:9090", "metricsProvider": {"address": "http://thanos:9090"}}})
    assert result.returncode != 0
    assert complaint in result.stderr
