"""With ``--workers N``, a route says ``Accepted`` for generation G only once every worker serves G.

The canary controller moves a rollout on when the route reports the new generation; a worker
still on the old weights would send traffic the controller believes has moved. Each flip below
sends every request to one backend or the other, so a single request answered by the wrong one
shows a worker behind the status; requests go on fresh connections, which SO_REUSEPORT spreads
over both workers.
"""

from __future__ import annotations

import os
import signal

import pytest

import gw_harness
import kube_harness
from gateway_proxy.kubernetes import mode as kube_mode
from routeshift.testing.polling import ConditionTimeout, until

FLIPS = 12
REQUESTS = 40  # per flip, each on a new connection: both workers answer some (2 × 0.5^40 they do not)


def _accepted_at(k8s_api, generation):
    parents = kube_harness.route_parents(k8s_api, "app")
    ours = [p for p in parents if p["controllerName"] == kube_mode.CONTROLLER]
    accepted = kube_harness.condition(ours[0], "Accepted") if len(ours) == 1 else None
    return bool(accepted and accepted["status"] == "True" and accepted["observedGeneration"] == generation)


def _dead(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"  # exited, not yet reaped
    except FileNotFoundError:
        return True


def _weights(stable, canary):
    return {"spec": {"rules": [{"backendRefs": [{"name": "stable", "port": 80, "weight": stable},
                                                {"name": "canary", "port": 80, "weight": canary}]}]}}


@pytest.fixture
def world(k8s_api, echo_factory):
    stable, canary = echo_factory("stable"), echo_factory("canary")
    kube_harness.create_all(k8s_api, [
        kube_harness.gateway_class(), gw_harness.gateway(),
        *kube_harness.echo_backend("stable", stable), *kube_harness.echo_backend("canary", canary),
        gw_harness.route("app", [gw_harness.rule([gw_harness.backend("stable", 1), gw_harness.backend("canary", 0)])]),
    ])
    return k8s_api


@pytest.fixture
def two_workers(world, kubeconfig):
    proxy = kube_harness.KubeProxyProcess(kubeconfig, workers=2)
    try:
        until(lambda: proxy.admin_get("/ready")[0] == 200, 20, ignore=(OSError,), description="proxy ready")
        until(lambda: _accepted_at(world, 1), 10, description="generation 1 accepted")
        yield proxy
    finally:
        code = proxy.stop()
        assert code == 0, proxy.output
        assert "writing status anyway" not in proxy.output  # no write went ahead of a live worker


def test_accepted_generation_is_served_by_every_worker(world, two_workers):
    assert len(two_workers.workers()) == 2
    for flip in range(FLIPS):
        wanted = "canary" if flip % 2 == 0 else "stable"
        world.patch(kube_harness.ROUTES, "default", "app", _weights(int(wanted == "stable"), int(wanted == "canary")))
        generation = world.get(kube_harness.ROUTES, "default", "app")["metadata"]["generation"]
        until(lambda: _accepted_at(world, generation), 10, interval=0.002,
              description=f"generation {generation} accepted")
        # No waiting here: the status is the promise that every worker already serves it.
        assert kube_harness.fresh_connections(two_workers.port, REQUESTS) == {wanted: REQUESTS}, \
            f"flip {flip}: a worker served an older generation than the status reported"


def test_status_waits_for_a_frozen_worker(world, two_workers):
    frozen, _ = two_workers.workers()
    os.kill(frozen, signal.SIGSTOP)  # it cannot install anything until continued
    try:
        world.patch(kube_harness.ROUTES, "default", "app", _weights(0, 1))
        # The other worker and the admin process have long installed generation 2 after a second.
        with pytest.raises(ConditionTimeout):
            until(lambda: _accepted_at(world, 2), 1.0, interval=0.01)
    finally:
        os.kill(frozen, signal.SIGCONT)
    until(lambda: _accepted_at(world, 2), 5, interval=0.002, description="generation 2 accepted")
    assert kube_harness.fresh_connections(two_workers.port, REQUESTS) == {"canary": REQUESTS}


def test_a_worker_that_died_is_not_waited_for(world, two_workers):
    doomed, survivor = two_workers.workers()
    os.kill(doomed, signal.SIGKILL)
    until(lambda: _dead(doomed), 5, description="worker dead")
    world.patch(kube_harness.ROUTES, "default", "app", _weights(0, 1))
    # Far sooner than the acknowledgement timeout (10 s): the dead worker's pipe closed.
    until(lambda: _accepted_at(world, 2), 3, interval=0.01, description="generation 2 accepted")
    assert kube_harness.fresh_connections(two_workers.port, 10) == {"canary": 10}


def test_gateway_and_class_status_from_the_command_line(world, kubeconfig):
    proxy = kube_harness.KubeProxyProcess(kubeconfig, "--gateway-address", "203.0.113.7",
                                          "--gateway-address", "Gateway.Example.com", workers=2)
    try:
        def addresses():
            status = world.get(kube_harness.GATEWAYS, "default", "gw").get("status") or {}
            return status.get("addresses")

        assert until(addresses, 20, description="addresses published") == [
            {"type": "IPAddress", "value": "203.0.113.7"}, {"type": "Hostname", "value": "gateway.example.com"}]
        features = until(lambda: (world.get(kube_harness.CLASSES, None, "routeshift").get("status") or {})
                         .get("supportedFeatures"), 5, description="features published")
        names = [item["name"] for item in features]
        assert names == sorted(names) and {"Gateway", "HTTPRoute", "HTTPRouteRequestMirror"} <= set(names)
    finally:
        assert proxy.stop() == 0, proxy.output
