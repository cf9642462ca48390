"""Fixtures for the plugin tests: an emulated cluster with Routeshift's CRDs, a route and a Canary.

The suite runs with ``--import-mode=importlib``, which does not put test directories on
``sys.path``; the helpers in ``plugin_world`` are plain classes used by several files,
so this directory is added to the path here.
"""

import pathlib
import sys

import pytest

_HERE = str(pathlib.Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import plugin_world  # noqa: E402  (needs the path above)
from routeshift.emulator import EmulatorThread  # noqa: E402


@pytest.fixture
def k8s_api():
    """A bare API, no Deployment controller or kubelet: these tests write the Deployments'
    status themselves (as their controller would), and a running one would overwrite it."""
    with EmulatorThread(workloads=False) as api:
        yield api


@pytest.fixture
def world(k8s_api, kubectl):
    """CRDs, Services, the HTTPRoute ``web`` and the Canary ``web`` (release v2), no controller."""
    built = plugin_world.World(k8s_api, kubectl)
    built.install()
    built.create_canary()
    return built


@pytest.fixture
def bare_world(k8s_api, kubectl):
    """CRDs, Services and the route, but no Canary yet."""
    built = plugin_world.World(k8s_api, kubectl)
    built.install()
    return built
