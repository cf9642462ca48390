"""Fixtures of the notification tests: a loopback chat service, the emulated API with the
NotificationProvider CRD, and a notifier wired to both (helpers in ``chat_receiver``)."""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Iterator

import pytest

if str(pathlib.Path(__file__).parent) not in sys.path:  # --import-mode=importlib: make chat_receiver importable
    sys.path.insert(0, str(pathlib.Path(__file__).parent))

from chat_receiver import Clock, Events, Receiver, Setup  # noqa: E402
from rollouts import crd, patching  # noqa: E402
from rollouts.notifications.notifier import Notifier  # noqa: E402
from rollouts.reconciler import CanaryObject, Controller  # noqa: E402


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
    yield server
    for release in server.held.values():
        release.set()
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def api(k8s_api):
    """The emulated API server with the NotificationProvider CRD installed."""
    k8s_api.create("apiextensions.k8s.io/v1/customresourcedefinitions", crd.notification_provider_crd())
    return k8s_api


@pytest.fixture
async def setup(api) -> Iterator[Setup]:
    clock = Clock()
    notifier = Notifier(clock=clock, backoff=0.01)
    cluster = patching.Cluster(patching.Connection(server=api.url))
    controller = Controller(cluster=cluster, notifier=notifier)
    canary = CanaryObject(namespace="default", name="web", generation=1, spec={}, annotations={})
    yield Setup(controller, notifier, clock, Events(), canary)
    await cluster.close()
