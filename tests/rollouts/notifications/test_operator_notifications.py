"""The real kopf operator on the emulated API: a rollout's notifications reach a loopback chat service."""

from __future__ import annotations

import threading

import pytest

from chat_receiver import provider, secret
from operator_harness import CANARIES, ROUTES, AcceptingGateway, ScriptedAnalysis, canary, phase, route
from rollouts import crd
from rollouts.notifications.model import parse_subscription
from routeshift.testing.controller import start_controller
from routeshift.testing.polling import until


@pytest.fixture
def cluster(k8s_api):
    for definition in crd.all_crds().values():
        k8s_api.create("apiextensions.k8s.io/v1/customresourcedefinitions", definition)
    k8s_api.create("v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ops"}})
    for name in ("web-v1", "web-v2"):
        k8s_api.create("v1/services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                                       "spec": {"ports": [{"port": 80}]}}, "default")
    k8s_api.create(ROUTES, route(), "default")
    return k8s_api


@pytest.fixture
def gateway(cluster):
    with AcceptingGateway(cluster, "default", "web", stable="web-v1", canary="web-v2") as double:
        yield double


def _warnings(cluster) -> list[tuple[str, str]]:
    return [(e["reason"], e["message"]) for e in cluster.objects("v1/events", "default") if e["type"] == "Warning"]


def test_a_rollouts_notifications_arrive_at_the_chat_services(cluster, gateway, kopf_runner, receiver):
    controller, _ = start_controller(cluster, kopf_runner, ScriptedAnalysis(gateway=gateway))
    controller.notifier.subscriptions.append(parse_subscription("ops/releases:promoted,failed,rolledBack"))
    secret(cluster, "team-slack", address=f"{receiver.url}/slack")
    provider(cluster, "team", type="slack", secretRef={"name": "team-slack"}, username="routeshift")
    provider(cluster, "releases", namespace="ops", type="webhook", address=f"{receiver.url}/ops")
    notifications = [{"providerRef": {"name": "team"}}, {"providerRef": {"name": "ghost"}, "events": ["promoted"]}]
    cluster.create(CANARIES, canary(strategy={"progressive": {"steps": [50]}}, notifications=notifications),
                   "default")

    until(lambda: phase(cluster) == "Succeeded", timeout=20, description="the rollout promoted")
    until(lambda: [r.json["blocks"][0]["text"]["text"] for r in receiver.at("/slack")] == [
        "default/web: rollout started", "default/web: step completed", "default/web: promoted"],
        timeout=10, description="the team's Slack heard every event, in order")
    assert all(r.json["username"] == "routeshift" for r in receiver.at("/slack"))
    until(lambda: [r.json["event"] for r in receiver.at("/ops")] == ["promoted"], timeout=10,
          description="the cluster-wide provider heard only what it subscribed to")
    assert receiver.at("/ops")[0].json["canary"] == {"namespace": "default", "name": "web"}
    missing = [message for reason, message in _warnings(cluster) if reason == "NotificationProviderNotFound"]
    assert len(missing) == 1 and "NotificationProvider default/ghost not found" in missing[0]


def test_a_hanging_or_failing_chat_service_does_not_hold_up_the_rollout(cluster, gateway, kopf_runner, receiver):
    released = receiver.held["/slow"] = threading.Event()
    receiver.answers["/broken"] = [500]
    controller, _ = start_controller(cluster, kopf_runner, ScriptedAnalysis(gateway=gateway))
    controller.notifier.backoff = 0.05
    provider(cluster, "slow", type="discord", address=f"{receiver.url}/slow", timeoutSeconds=30, retries=0)
    provider(cluster, "broken", type="msteams", address=f"{receiver.url}/broken", retries=1)
    notifications = [{"providerRef": {"name": "slow"}}, {"providerRef": {"name": "broken"}}]
    cluster.create(CANARIES, canary(strategy={"progressive": {"steps": [50]}}, notifications=notifications),
                   "default")

    until(lambda: phase(cluster) == "Succeeded", timeout=20, description="promoted despite both services")
    assert receiver.waiting == ["/slow"], "the first message to the hanging service is still unanswered"
    assert gateway.seen == [(100, 0), (50, 50), (0, 100)]
    released.set()
    until(lambda: [r.json["embeds"][0]["title"] for r in receiver.at("/slow")] == [
        "default/web: rollout started", "default/web: step completed", "default/web: promoted"],
        timeout=10, description="the held messages follow in order once the service answers")
    until(lambda: len(receiver.at("/broken")) == 6, timeout=10, description="each message tried twice")
