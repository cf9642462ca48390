"""A weight step reaches the Canary's status once the gateway has accepted it: one write per step.

Writing the status when the route is patched and again when the gateway accepts the new
weights doubled the watch events every controller and GitOps tool decodes. The step advance
waits (at most ``reconciler.DEFER_SECONDS``) for the gateway; one that does not catch up in
time is written anyway, saying what it waits for.
"""

from __future__ import annotations

from operator_harness import CANARIES, ROUTES, AcceptingGateway, ScriptedAnalysis, canary, phase
from rollouts import reconciler
from routeshift.testing.polling import until

STEPS = [10, 20, 30, 40, 50]


def status_writes(controller) -> int:
    return controller.cluster.requests[("PATCH", "canaries/status")]


def test_each_weight_step_is_written_once_when_the_gateway_accepts_it(cluster, start, monkeypatch):
    # A loaded machine may delay the gateway double's answer past the usual bound.
    monkeypatch.setattr(reconciler, "DEFER_SECONDS", 20.0)
    with AcceptingGateway(cluster, "default", "web", stable="web-v1", canary="web-v2") as gateway:
        controller, _ = start(ScriptedAnalysis(gateway=gateway))
        cluster.create(CANARIES, canary(strategy={"progressive": {"steps": STEPS}}), "default")
        until(lambda: phase(cluster) == "Succeeded", timeout=30, description="promoted")
    assert gateway.seen == [(100, 0)] + [(100 - w, w) for w in STEPS] + [(0, 100)]
    # Start, initialised, each step once, promotion and its end: a write per step plus a few;
    # written at the patch and again at the acceptance, it was two per step.
    assert status_writes(controller) <= len(STEPS) + 5, status_writes(controller)
    steps = [d for d in cluster.get(CANARIES, "default", "web")["status"]["decisions"] if "dwelling until" in d["reason"]]
    assert [d["weight"] for d in steps] == STEPS, "each step's dwell is in the decision log"


def test_a_step_the_gateway_does_not_accept_in_time_is_written_anyway(cluster, start):
    gateway = AcceptingGateway(cluster, "default", "web", stable="web-v1", canary="web-v2")
    with gateway:
        start(ScriptedAnalysis(gateway=gateway))
        cluster.create(CANARIES, canary(strategy={"progressive": {"steps": [10, 50]}}, acceptanceTimeoutSeconds=600,
                                        progressDeadlineSeconds=600), "default")
        until(lambda: "dwelling" in (cluster.get(CANARIES, "default", "web").get("status") or {}).get("message", ""),
              timeout=20, description="the first step accepted")
    # The gateway stopped answering: the 50 % step stays waiting for it, and says so.
    until(lambda: gateway.weights(cluster.get(ROUTES, "default", "web")) == (50, 50), timeout=20,
          description="the route moved to 50 %")
    status = until(lambda: (s := cluster.get(CANARIES, "default", "web")["status"])["weights"]["canary"] == 50 and s,
                   timeout=20, description="the status written without the gateway's acceptance")
    assert "has judged generation" in status["message"], status["message"]
    assert status["phase"] == "Progressing" and status.get("stepSettledAt") is None
