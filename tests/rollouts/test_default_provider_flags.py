"""``routeshift controller --metrics-provider``: what the flags mean, and what stops the controller.

A provider that could never work is refused at start-up with exit code 2 and the same
message a Canary naming it would get, instead of failing every analysis later.
"""

import subprocess
import sys

import pytest

import analysis

DATADOG = analysis.ProviderSpec(type="datadog", secret_name="datadog")


def test_inline_yaml_names_the_default_and_the_namespace_its_secrets_are_read_in(started):
    run = started("--metrics-provider", "{type: datadog, secretName: datadog}",
                  "--controller-namespace", "routeshift-system")
    assert (run["metrics_provider"], run["own_namespace"]) == (DATADOG, "routeshift-system")


def test_a_file_holds_the_provider_and_the_downward_api_gives_the_namespace(started, tmp_path, monkeypatch):
    path = tmp_path / "provider.yaml"
    path.write_text("type: cloudwatch\nregion: eu-west-1\nsecretName: aws\nwindow: 5m\n")
    monkeypatch.setenv("POD_NAMESPACE", "ops")
    run = started("--metrics-provider", str(path))
    assert run["metrics_provider"] == analysis.ProviderSpec(type="cloudwatch", region="eu-west-1", secret_name="aws",
                                                            window="5m")
    assert run["own_namespace"] == "ops"


def test_json_works_too_and_a_provider_without_secrets_needs_no_namespace(started):
    run = started("--metrics-provider", '{"type": "graphite", "address": "http://graphite:8080", "retries": 1}')
    assert run["metrics_provider"] == analysis.ProviderSpec(type="graphite", address="http://graphite:8080", retries=1)


def test_prometheus_url_is_the_short_form_of_a_prometheus_provider(started):
    run = started("--prometheus-url", "http://prometheus:9090")
    assert run["metrics_provider"] == analysis.ProviderSpec(type="prometheus", address="http://prometheus:9090")
    assert started()["metrics_provider"] is None


@pytest.mark.parametrize(("args", "complaint"), [
    pytest.param(["--prometheus-url", "http://prometheus:9090", "--metrics-provider",
                  "{address: http://prometheus:9090}"],
                 "--prometheus-url and --metrics-provider both name the default metrics provider: give one", id="both"),
    pytest.param(["--metrics-provider", "{type: datadog}"],
                 "--metrics-provider: a datadog provider needs secretName: a Secret with the keys datadog_api_key and "
                 "datadog_application_key", id="model-rule"),
    pytest.param(["--metrics-provider", "{type: influxdb, address: http://influx:8086, secretName: i, retries: 99}"],
                 "--metrics-provider: retries: Input should be less than or equal to 10", id="field-bound"),
    pytest.param(["--metrics-provider", "{type: datadog, secretname: datadog}"],
                 "--metrics-provider: secretname: Extra inputs are not permitted", id="typo"),
    pytest.param(["--metrics-provider", "{type: stackdriver}"], "--metrics-provider: type: Input should be",
                 id="unknown-type"),
    pytest.param(["--metrics-provider", "provider.yaml"],
                 "--metrics-provider: expected a ProviderSpec as YAML or JSON", id="no-such-file"),
    pytest.param(["--metrics-provider", "{type: datadog, secretName: datadog"],
                 "--metrics-provider: not valid YAML or JSON", id="not-yaml"),
    pytest.param(["--metrics-provider", "{type: datadog, secretName: datadog}"],
                 "the default metrics provider reads Secret(s) datadog from the controller's own namespace, which is "
                 "unknown: set --controller-namespace or $POD_NAMESPACE", id="no-namespace"),
])
def test_a_provider_that_cannot_work_stops_the_controller(started, capsys, args, complaint):
    with pytest.raises(SystemExit) as stopped:
        started(*args)
    assert stopped.value.code == 2
    assert complaint in capsys.readouterr().err


def test_the_real_command_exits_2_before_connecting_anywhere(tmp_path):
    environment = {"PATH": "/usr/bin:/bin", "KUBECONFIG": str(tmp_path / "none")}
    finished = subprocess.run([sys.executable, "-m", "routeshift", "controller", "--metrics-provider",
                               "{type: cloudwatch, secretName: aws}", "--controller-namespace", "ops"],
                              capture_output=True, text=True, timeout=60, env=environment)
    assert finished.returncode == 2
    assert "routeshift controller: error: --metrics-provider: a cloudwatch provider needs region" in finished.stderr
