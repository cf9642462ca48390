"""The controller command line the chart renders is one the real `routeshift` CLI accepts,
and it means what the chart intends: metrics port, peering object, priority, Prometheus."""

import pytest

import analysis
from rollouts import operator
from routeshift import cli


@pytest.fixture
def parsed(monkeypatch):
    """Parse a rendered command line with the real parsers; capture what would be run."""
    calls = []
    monkeypatch.setattr(operator, "run", lambda **kwargs: calls.append(kwargs))

    def parse(command_line: list[str]) -> dict:
        assert command_line[0] == "routeshift"
        assert cli.main(command_line[1:]) == 0
        (kwargs,) = calls[-1:]
        top_level, _ = cli.build_parser().parse_known_args(command_line[1:])
        return {"log_level": top_level.log_level, **kwargs}

    return parse


def _command_line(documents) -> list[str]:
    (deployment,) = [doc for doc in documents if doc["kind"] == "Deployment"
                     and doc["metadata"]["name"] == "rs-routeshift-controller"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container["command"] + container["args"]


def test_defaults_peer_and_serve_metrics_on_the_probed_port(render, parsed):
    command_line = _command_line(render({}))
    run = parsed(command_line)
    assert run["metrics_host"] == "0.0.0.0" and run["metrics_port"] == 8080
    assert run["peering"] == "rs-routeshift-controller" and "--priority" not in command_line
    assert run["priority"] >= 1  # drawn at random by each process: a second replica will not tie with it
    assert run["log_level"] == "INFO" and run["metrics_provider"] is None and run["namespaces"] == []


def test_values_reach_the_controller(render, parsed):
    run = parsed(_command_line(render({"controller": {
        "httpPort": 9100, "logLevel": "DEBUG", "prometheusUrl": "http://prometheus.monitoring:9090",
        "leaderElection": {"name": "routeshift", "priority": 10},
        "extraArgs": ["--poll-interval", "2"]}})))
    assert run["metrics_port"] == 9100 and run["log_level"] == "DEBUG"
    # --prometheus-url is the short form of a prometheus default metrics provider.
    assert run["metrics_provider"] == analysis.ProviderSpec(type="prometheus",
                                                            address="http://prometheus.monitoring:9090")
    assert run["peering"] == "routeshift" and run["priority"] == 10
    assert run["poll_interval"] == 2.0


def test_the_default_metrics_provider_reaches_the_controller_with_its_namespace(render, parsed, monkeypatch):
    provider = {"type": "datadog", "secretName": "datadog", "address": "https://api.datadoghq.eu", "window": "5m",
                "headers": {"X-Team": 'say "hi"'}, "retries": 2}
    documents = render({"controller": {"metricsProvider": provider}})
    (deployment,) = [doc for doc in documents if doc["kind"] == "Deployment"
                     and doc["metadata"]["name"] == "rs-routeshift-controller"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    # The Secrets are read in the Pod's own namespace, which the downward API puts in $POD_NAMESPACE.
    assert {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}} in container["env"]
    monkeypatch.setenv("POD_NAMESPACE", deployment["metadata"]["namespace"])
    run = parsed(_command_line(documents))
    assert run["metrics_provider"] == analysis.ProviderSpec.model_validate(provider)
    assert run["own_namespace"] == "routeshift-system"


def test_watched_namespaces_reach_the_controller(render, parsed):
    run = parsed(_command_line(render({"controller": {"watchNamespaces": ["shop", "payments"]}})))
    assert run["namespaces"] == ["shop", "payments"] and run["peering"] == "rs-routeshift-controller"


def test_standalone_has_no_peering(render, parsed):
    assert parsed(_command_line(render({"controller": {"leaderElection": {"mode": "none"}}})))["peering"] is None
