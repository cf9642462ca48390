"""Fixtures for the emulator's own tests: a small CRD, a plain HTTP client, a fast kubelet.

``widgets.test.routeshift.dev`` has a status subresource, printer columns and a schema, so
it exercises every custom-resource path of the emulator without depending on Routeshift's
own CRDs.
"""

import pathlib
import sys

import httpx
import pytest
import yaml

# --import-mode=importlib leaves test directories off sys.path; workload_helpers is shared by files here.
_HERE = str(pathlib.Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

CRD_PATH = pathlib.Path(__file__).with_name("widgets_crd.yaml")
CRDS = "apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "test.routeshift.dev/v1/widgets"
WIDGETS_URL = "/apis/test.routeshift.dev/v1/namespaces/default/widgets"


@pytest.fixture
def crd_path():
    return CRD_PATH


@pytest.fixture
def widgets(k8s_api):
    """The widget CRD installed; returns the resource name for ``k8s_api.get/create/...``."""
    k8s_api.create(CRDS, yaml.safe_load(CRD_PATH.read_text()))
    return WIDGETS


@pytest.fixture
def widgets_url(widgets):
    return WIDGETS_URL


@pytest.fixture
def http(k8s_api):
    with httpx.Client(base_url=k8s_api.url, timeout=10) as client:
        yield client


@pytest.fixture
def make_widget(widgets, k8s_api):
    def make(name, size=1, *, labels=None, namespace="default", **extra):
        metadata = {"name": name, **({"labels": labels} if labels else {}), **extra}
        return k8s_api.create(WIDGETS, {"metadata": metadata, "spec": {"size": size}}, namespace)
    return make


# ---------------------------------------------------------------- workload controllers and kubelet

FAST_KUBELET = {"restart_backoff": 0.2, "restart_backoff_cap": 1.0, "termination_grace_cap": 2.0,
                "stop_timeout": 2.0}


@pytest.fixture
def cluster():
    """An emulator whose kubelet backs off crash loops in 0.2 s instead of 10 s."""
    from routeshift.emulator import EmulatorThread

    with EmulatorThread(workloads=FAST_KUBELET) as api:
        yield api


@pytest.fixture
def cluster_kubectl(cluster, tmp_path):
    from routeshift.testing.kube import Kubectl

    return Kubectl(cluster.write_kubeconfig(tmp_path / "kubeconfig"), cache_dir=tmp_path / "kubectl-cache")
