"""Render the Routeshift chart with the real helm binary, once per values combination.

helm comes from ``routeshift.testing.helm.ensure_helm`` (downloaded once, cached under
``.cache/tools``). Renderings are cached for the session: the same combination is
asked for by several test files and helm takes a noticeable fraction of a second.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from routeshift.testing.helm import REPO_ROOT, ensure_helm

# The Argo CD health check runs on statuses the state machine decides (tests/rollouts builders).
_ROLLOUT_BUILDERS = str(REPO_ROOT / "tests" / "rollouts")
if _ROLLOUT_BUILDERS not in sys.path:
    sys.path.insert(0, _ROLLOUT_BUILDERS)

CHART = REPO_ROOT / "charts" / "routeshift"
KUBE_VERSION = "1.30.0"
RELEASE = "rs"
NAMESPACE = "routeshift-system"

#: Values combinations every structural test runs against (id → --set-json overrides).
COMBINATIONS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "servicemonitors-off": {"controller": {"serviceMonitor": {"enabled": False}},
                            "proxy": {"serviceMonitor": {"enabled": False}}},
    "proxy-off": {"proxy": {"enabled": False}},
    "proxy-tls": {"proxy": {"tls": {"enabled": True}}},
    "standalone": {"controller": {"leaderElection": {"mode": "none"}}},
    "replicas-3": {"controller": {"replicas": 3}},
    "watch-namespaces": {"controller": {"watchNamespaces": ["shop", "payments"]}},
    "config-tracking": {"controller": {"configTracking": {"configMaps": True, "secrets": True}}},
    # A default metrics provider with basic auth and a private CA: the controller may get those two Secrets.
    "metrics-provider": {"controller": {"metricsProvider": {
        "type": "prometheus", "address": "https://prometheus.monitoring:9090", "basicAuthSecretName": "prometheus-auth",
        "tls": {"caSecretRef": {"name": "prometheus-ca", "key": "ca.crt"}}}}},
    "everything-optional-off": {"dashboards": {"enabled": False}, "prometheusRule": {"enabled": False},
                                "controller": {"serviceMonitor": {"enabled": False},
                                               "leaderElection": {"mode": "none"}},
                                "proxy": {"enabled": False}},
}


@pytest.fixture(scope="session")
def helm() -> Path:
    return ensure_helm()


def run_helm(helm: Path, *args: str, values: dict[str, Any] | None = None,
             tmp_dir: Path | None = None) -> subprocess.CompletedProcess:
    command = [str(helm), *args]
    if values:
        assert tmp_dir is not None
        values_file = tmp_dir / f"values-{abs(hash(json.dumps(values, sort_keys=True)))}.yaml"
        values_file.write_text(yaml.safe_dump(values))
        command += ["--values", str(values_file)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="session")
def helm_run(helm: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., subprocess.CompletedProcess]:
    """``helm_run("lint", "--strict", CHART, values={...})`` → the finished helm process."""
    tmp_dir = tmp_path_factory.mktemp("helm-run")
    return lambda *args, values=None: run_helm(helm, *map(str, args), values=values, tmp_dir=tmp_dir)


@pytest.fixture(scope="session")
def render(helm: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., list[dict[str, Any]]]:
    """``render(values)`` → the rendered documents (hooks included), or a failed assertion with helm's error."""
    cache: dict[str, list[dict[str, Any]]] = {}
    tmp_dir = tmp_path_factory.mktemp("helm-values")

    def _render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        key = json.dumps(values or {}, sort_keys=True)
        if key not in cache:
            result = run_helm(helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE,
                              "--kube-version", KUBE_VERSION, values=values, tmp_dir=tmp_dir)
            assert result.returncode == 0, result.stderr
            cache[key] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
        return cache[key]

    return _render


@dataclass(frozen=True)
class Rendering:
    name: str
    values: dict[str, Any]
    documents: list[dict[str, Any]]

    def of_kind(self, kind: str) -> dict[str, dict[str, Any]]:
        return {doc["metadata"]["name"]: doc for doc in self.documents if doc["kind"] == kind}


@pytest.fixture(params=sorted(COMBINATIONS))
def combination(request, render) -> Rendering:
    """The chart rendered with each entry of COMBINATIONS in turn."""
    return Rendering(request.param, COMBINATIONS[request.param], render(COMBINATIONS[request.param]))


@pytest.fixture
def rendering(render) -> Callable[[str], Rendering]:
    """One named combination: ``rendering("proxy-tls")``."""
    return lambda name: Rendering(name, COMBINATIONS[name], render(COMBINATIONS[name]))
