"""A weight change patched in the API serves at once and is reported Accepted for its generation.

This is the contract the canary controller waits on (DESIGN.md section 3): after patching
``backendRefs[].weight`` it counts the step done when our parent entry says ``Accepted=True``
with ``observedGeneration`` equal to the route's new ``metadata.generation``.
"""

from __future__ import annotations

import json

import gw_harness
import kube_harness
from gateway_proxy.kubernetes import mode as kube_mode
from routeshift.testing.polling import until

REQUESTS = 400


def _world(k8s_api, stable, canary, stable_weight, canary_weight):
    kube_harness.create_all(k8s_api, [
        kube_harness.gateway_class(), gw_harness.gateway(),
        *kube_harness.echo_backend("stable", stable), *kube_harness.echo_backend("canary", canary),
        gw_harness.route("app", [gw_harness.rule([gw_harness.backend("stable", stable_weight),
                                                  gw_harness.backend("canary", canary_weight)])]),
    ])


def _accepted_at(k8s_api, generation):
    parents = kube_harness.route_parents(k8s_api, "app")
    ours = [p for p in parents if p["controllerName"] == kube_mode.CONTROLLER]
    if len(ours) != 1:
        return None
    accepted = kube_harness.condition(ours[0], "Accepted")
    return ours[0] if accepted and accepted["status"] == "True" and accepted["observedGeneration"] == generation else None


def test_weights_patched_with_kubectl_take_effect_and_are_reported(k8s_api, kube_proxy, kubectl, echo_factory):
    stable, canary = echo_factory("stable"), echo_factory("canary")
    _world(k8s_api, stable, canary, 100, 0)
    proxy = kube_proxy()
    until(lambda: _accepted_at(k8s_api, 1), 5, description="generation 1 accepted")
    assert kube_harness.backends(proxy, 50) == {"stable": 50}

    patch = {"spec": {"rules": [{"backendRefs": [{"name": "stable", "port": 80, "weight": 70},
                                                 {"name": "canary", "port": 80, "weight": 30}]}]}}
    result = kubectl("patch", "httproute", "app", "--type", "merge", "-p", json.dumps(patch))
    assert result.returncode == 0, result.stderr
    generation = k8s_api.get(kube_harness.ROUTES, "default", "app")["metadata"]["generation"]
    assert generation == 2

    entry = until(lambda: _accepted_at(k8s_api, 2), 5, description="generation 2 accepted")
    # Accepted for generation 2 is written only after generation 2 serves: no waiting here.
    split = kube_harness.backends(proxy, REQUESTS)
    assert set(split) == {"stable", "canary"}
    # 30 % of 400 = 120; binomial sd ≈ 9.2, so ±40 is over 4 sd.
    assert abs(split["canary"] - 120) <= 40, split
    assert entry["parentRef"] == {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                  "namespace": "default", "name": "gw"}
    resolved = kube_harness.condition(entry, "ResolvedRefs")
    assert (resolved["status"], resolved["reason"], resolved["observedGeneration"]) == ("True", "ResolvedRefs", 2)


def test_other_controllers_parent_entries_are_kept(k8s_api, kube_proxy, echo_factory):
    stable, canary = echo_factory("stable"), echo_factory("canary")
    _world(k8s_api, stable, canary, 1, 1)
    foreign = {"parentRef": {"name": "elsewhere", "namespace": "default"}, "controllerName": "example.com/other",
               "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "theirs",
                               "observedGeneration": 1, "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
    k8s_api.patch(kube_harness.ROUTES, "default", "app", {"status": {"parents": [foreign]}}, subresource="status")
    kube_proxy()
    until(lambda: _accepted_at(k8s_api, 1), 5, description="our entry written")
    parents = kube_harness.route_parents(k8s_api, "app")
    assert foreign in parents and len(parents) == 2

    k8s_api.patch(kube_harness.ROUTES, "default", "app", {"spec": {"rules": [{"backendRefs": [
        {"name": "stable", "port": 80, "weight": 0}, {"name": "canary", "port": 80, "weight": 1}]}]}})
    until(lambda: _accepted_at(k8s_api, 2), 5, description="generation 2 accepted")
    assert foreign in kube_harness.route_parents(k8s_api, "app")


def test_unchanged_status_is_not_written_again(k8s_api, kube_proxy, echo_factory):
    stable, canary = echo_factory("stable"), echo_factory("canary")
    _world(k8s_api, stable, canary, 1, 1)
    proxy = kube_proxy()
    until(lambda: _accepted_at(k8s_api, 1), 5)
    until(lambda: proxy.call(lambda: proxy.mode.idle), 5)
    writes = proxy.call(lambda: proxy.mode.writer.writes)
    installs = proxy.call(lambda: proxy.mode.installs)

    # A burst of events that change nothing routing or status depends on.
    for index in range(20):
        k8s_api.patch(kube_harness.SERVICES, "default", "stable", {"metadata": {"annotations": {"touch": str(index)}}})
    last = k8s_api.get(kube_harness.SERVICES, "default", "stable")["metadata"]["resourceVersion"]
    watcher = proxy.call(lambda: next(w for k, w in proxy.mode.watchers.items() if k.plural == "services"))
    until(lambda: proxy.call(lambda: watcher.resource_version == last), 5, description="burst seen")
    until(lambda: proxy.call(lambda: proxy.mode.idle), 5)
    assert proxy.call(lambda: proxy.mode.writer.writes) == writes
    assert proxy.call(lambda: proxy.mode.installs) == installs
    status_patches = [entry for entry in k8s_api.requests() if entry[0] == "PATCH" and entry[1].endswith("/status")]
    assert len(status_patches) == writes
