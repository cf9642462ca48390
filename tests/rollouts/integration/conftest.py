"""Fixtures for running the real kopf operator against the emulated API server."""

from __future__ import annotations

import pytest

from operator_harness import ROUTES, AcceptingGateway, route
from rollouts import crd
from routeshift.testing.controller import start_controller


@pytest.fixture
def cluster(k8s_api):
    for definition in crd.all_crds().values():
        k8s_api.create("apiextensions.k8s.io/v1/customresourcedefinitions", definition)
    for name in ("web-v1", "web-v2"):
        k8s_api.create("v1/services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                                       "spec": {"ports": [{"port": 80}]}}, "default")
    k8s_api.create(ROUTES, route(), "default")
    return k8s_api


@pytest.fixture
def gateway(cluster):
    with AcceptingGateway(cluster, "default", "web", stable="web-v1", canary="web-v2") as double:
        yield double


@pytest.fixture
def start(k8s_api, kopf_runner):
    def run(evaluate, *, metrics_port=None):
        return start_controller(k8s_api, kopf_runner, evaluate, metrics_port=metrics_port)
    return run
