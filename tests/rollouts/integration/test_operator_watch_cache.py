"""The watch-fed caches change how much the controller asks the API server, never what it decides.

A step that dwells sleeps until its dwell ends (at most the resync interval), and with the
caches none of the reconciliations in between reads the route or a Service from the API server; and a rollout (one promoted, one
rolled back) takes the same decisions, with the same weights on the gateway, whether the
controller reads through the caches or asks the API server every time.
"""

from __future__ import annotations

import contextlib

import pytest

from operator_harness import CANARIES, ROUTES, AcceptingGateway, ScriptedAnalysis, canary, phase, route
from rollouts import crd
from routeshift.emulator.threaded import EmulatorThread
from routeshift.testing.controller import start_controller
from routeshift.testing.kube import KopfOperatorThread
from routeshift.testing.polling import until

READ_KINDS = ("httproutes", "services", "deployments")


def reconciles(controller) -> float:
    (family,) = controller.metrics.reconcile.collect()
    return next(sample.value for sample in family.samples if sample.name.endswith("_count"))


def test_polls_during_a_dwell_read_nothing_from_the_api(cluster, gateway, k8s_api, kopf_runner):
    controller, _ = start_controller(k8s_api, kopf_runner, ScriptedAnalysis(gateway=gateway))
    # A dwelling Canary sleeps until its dwell ends, at most resync_interval; make that short
    # here, so that the test sees many reconciliations of a step that only dwells.
    controller.resync_interval = 0.05
    # A long interval: the first step (5 %) dwells for the rest of the test.
    cluster.create(CANARIES, canary(analysis={"interval": "1h", "metrics": []}, progressDeadlineSeconds=7200),
                   "default")
    until(lambda: "dwelling until" in (cluster.get(CANARIES, "default", "web").get("status") or {}).get("message", ""),
          timeout=20,
          description="the first step accepted and dwelling")
    until(lambda: controller.caches.informers["httproutes"][0].synced.is_set(), timeout=10)
    start_count, start_requests = reconciles(controller), dict(controller.cluster.requests)
    until(lambda: reconciles(controller) >= start_count + 20, timeout=20, description="20 reconciliations")
    sent = {key: n - start_requests.get(key, 0) for key, n in controller.cluster.requests.items()}
    reads = {key: n for key, n in sent.items() if key[0] == "GET" and key[1] in READ_KINDS and n}
    assert reads == {}, f"reads during the dwell: {reads}"
    writes = {key: n for key, n in sent.items() if key[0] in ("PATCH", "PUT", "POST") and n}
    assert writes == {}, f"writes during the dwell: {writes}"
    exported = controller.metrics.render().decode()
    assert 'routeshift_cache_reads_total{resource="httproutes",source="cache"}' in exported
    assert 'routeshift_api_requests_total{resource="canaries/status",verb="PATCH"}' in exported


def decisions(api) -> list[tuple]:
    """What was decided: each verdict and each change of phase or weight, in order. Holds
    ("waiting for the gateway", "dwelling until ...") are left out: how often a step is seen
    waiting depends on when the gateway answers, not on what the controller decides."""
    kept: list[tuple] = []
    for d in api.get(CANARIES, "default", "web")["status"]["decisions"]:
        entry = (d["phase"], d["step"], d["weight"], d.get("verdict"), d["reason"] if d.get("verdict") else "")
        if d.get("verdict") or not kept or kept[-1][:3] != entry[:3]:
            kept.append(entry)
    return kept


@pytest.mark.parametrize("fail_at", [None, 20], ids=["promoted", "rolled-back"])
def test_the_same_rollout_takes_the_same_decisions_with_and_without_the_cache(fail_at):
    outcomes = {}
    for cached in (False, True):
        # Each controller gets an API server of its own, set up the same way.
        with EmulatorThread() as api, contextlib.ExitStack() as stack:
            for definition in crd.all_crds().values():
                api.create("apiextensions.k8s.io/v1/customresourcedefinitions", definition)
            for name in ("web-v1", "web-v2"):
                api.create("v1/services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                                           "spec": {"ports": [{"port": 80}]}}, "default")
            api.create(ROUTES, route(), "default")
            gateway = stack.enter_context(AcceptingGateway(api, "default", "web", stable="web-v1", canary="web-v2"))

            def runner(registry, **options):
                return stack.enter_context(KopfOperatorThread(registry, api.url, **options))

            start_controller(api, runner, ScriptedAnalysis(fail_at=fail_at, gateway=gateway), cached=cached)
            api.create(CANARIES, canary(), "default")
            until(lambda: phase(api) in ("Succeeded", "Failed"), timeout=30, description="rollout ended")
            outcomes[cached] = (phase(api), list(gateway.seen), decisions(api))
    assert outcomes[True] == outcomes[False]
