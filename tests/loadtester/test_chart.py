"""The chart's optional loadtester: off by default; when on, a hardened Deployment and its Service.

Rendered and linted by the real helm (as in tests/charts), built-in objects validated
against the Kubernetes 1.30 schema offline.
"""

from __future__ import annotations

import subprocess

import kubernetes_validate
import pytest
import yaml

from routeshift.testing.helm import REPO_ROOT, ensure_helm

CHART = REPO_ROOT / "charts" / "routeshift"
ENABLED = {"loadtester": {"enabled": True, "allowTargets": ["*.shop", "10.96.0.0/12"], "maxRate": 20,
                          "signingSecret": {"name": "hooks", "key": "hmac"}, "serviceMonitor": {"enabled": True}}}


@pytest.fixture(scope="module")
def helm(tmp_path_factory):
    binary = ensure_helm()
    directory = tmp_path_factory.mktemp("loadtester-values")

    def run(*args: str, values: dict | None = None) -> subprocess.CompletedProcess:
        command = [str(binary), *args]
        if values is not None:
            path = directory / f"values-{abs(hash(repr(values)))}.yaml"
            path.write_text(yaml.safe_dump(values))
            command += ["--values", str(path)]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    return run


def _render(helm, values: dict | None = None) -> dict[tuple[str, str], dict]:
    result = helm("template", "rs", str(CHART), "--namespace", "routeshift-system", "--kube-version", "1.30.0",
                  values=values)
    assert result.returncode == 0, result.stderr
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in yaml.safe_load_all(result.stdout) if doc}


def test_off_by_default(helm):
    assert not [key for key in _render(helm) if "loadtester" in key[1]]


def test_enabled_it_runs_bounded_hardened_and_signed(helm):
    documents = _render(helm, ENABLED)
    deployment = documents[("Deployment", "rs-routeshift-loadtester")]
    service = documents[("Service", "rs-routeshift-loadtester")]
    monitor = documents[("ServiceMonitor", "rs-routeshift-loadtester")]
    for doc in (deployment, service):
        kubernetes_validate.validate(doc, "1.30.0", strict=True)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] + container["args"] == [
        "routeshift", "--log-level", "INFO", "loadtester", "--listen", "0.0.0.0:8080",
        "--allow-target", "*.shop", "--allow-target", "10.96.0.0/12", "--max-rate", "20",
        "--max-concurrency", "50", "--max-duration", "10m", "--max-request-timeout", "30s", "--max-generators", "10",
        "--secret-file", "/etc/routeshift/loadtester/signing-key"]
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert pod["automountServiceAccountToken"] is False
    assert {"name": "signing-key", "secret": {"secretName": "hooks", "items": [{"key": "hmac",
                                                                                 "path": "signing-key"}]}} in pod["volumes"]
    context = container["securityContext"]
    assert (context["runAsNonRoot"], context["readOnlyRootFilesystem"], context["allowPrivilegeEscalation"],
            context["capabilities"]) == (True, True, False, {"drop": ["ALL"]})
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == "http"


def test_lint_strict_with_it_enabled(helm):
    result = helm("lint", "--strict", str(CHART), "--kube-version", "1.30.0", values=ENABLED)
    assert result.returncode == 0 and "[WARNING]" not in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize(("values", "complaint"), [
    pytest.param({"loadtester": {"enabled": True, "allowTargets": []}}, "loadtester.allowTargets", id="no-targets"),
    pytest.param({"loadtester": {"replicas": 2}}, "Additional property replicas is not allowed", id="no-replicas"),
])
def test_schema_refuses(helm, values, complaint):
    result = helm("template", "rs", str(CHART), values=values)
    assert result.returncode != 0
    assert complaint in result.stderr
