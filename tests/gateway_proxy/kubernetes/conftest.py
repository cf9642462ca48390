"""Fixtures for the Kubernetes mode: the proxy watching the API emulator, echo backends."""

from __future__ import annotations

import os
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import kube_harness  # noqa: E402


@pytest.fixture
def kube_proxy(kubeconfig):
    """Start a proxy in Kubernetes mode against ``k8s_api``: ``kube_proxy(**mode_options)``."""
    started = []

    def start(**options):
        proxy = kube_harness.KubeProxy(kubeconfig, **options).start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in reversed(started):
        proxy.stop()
