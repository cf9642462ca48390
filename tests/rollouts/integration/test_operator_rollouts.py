"""The real kopf operator drives Canaries against the emulated API server.

A 5/10/20/50/100 rollout ends Succeeded with exactly those weights seen by the gateway
and the user's other rules untouched; failing analysis rolls back in one write; 409s on
every other route patch lose no update; deleting a Canary mid-rollout restores traffic;
and a restarted operator resumes without lowering weights.
"""

from __future__ import annotations

import copy
import urllib.request

import pytest

from operator_harness import CANARIES, ROUTES, ScriptedAnalysis, canary, phase
from rollouts import operator
from routeshift.testing.polling import until


def test_progressive_rollout_succeeds_with_exactly_the_planned_weights(cluster, gateway, start):
    before = copy.deepcopy(cluster.get(ROUTES, "default", "web")["spec"])
    controller, thread = start(ScriptedAnalysis(gateway=gateway), metrics_port=0)
    cluster.create(CANARIES, canary(), "default")
    until(lambda: phase(cluster) == "Succeeded", timeout=20, description="rollout succeeded")
    assert gateway.seen == [(100, 0), (95, 5), (90, 10), (80, 20), (50, 50), (0, 100)]
    after = cluster.get(ROUTES, "default", "web")["spec"]
    assert after["rules"][1] == before["rules"][1]
    assert after["rules"][0]["filters"] == before["rules"][0]["filters"]
    assert after["parentRefs"] == before["parentRefs"]
    status = cluster.get(CANARIES, "default", "web")["status"]
    assert status["conditions"] and {c["type"] for c in status["conditions"]} >= {
        "Ready", "Reconciling", "Stalled", "Promoted", "Analysis", "RouteAccepted"}
    assert {c["type"]: c["status"] for c in status["conditions"] if c["type"] in ("Ready", "Reconciling", "Stalled")} \
        == {"Ready": "True", "Reconciling": "False", "Stalled": "False"}
    assert any(r.get("metrics") for r in status["decisions"])
    stored = cluster.get(CANARIES, "default", "web")
    assert operator.FINALIZER in stored["metadata"]["finalizers"]
    # Events are posted after the status write that ends the phase: wait for them, do not race them.
    until(lambda: {"RolloutStarted", "StepCompleted", "Succeeded"} <= event_reasons(cluster, "web"), timeout=10,
          description="rollout events posted")
    until(lambda: 'routeshift_rollouts_total{name="web",namespace="default",result="succeeded"} 1.0'
          in controller.metrics.render().decode(), timeout=10, description="rollout counted")
    text = controller.metrics.render().decode()
    assert 'routeshift_canary_weight{backend="web-v2",name="web",namespace="default"} 100.0' in text
    served = urllib.request.urlopen(f"http://127.0.0.1:{controller.served_port}/metrics", timeout=5).read().decode()
    assert 'routeshift_canary_phase{name="web",namespace="default",phase="Succeeded"} 1.0' in served


def event_reasons(cluster, name):
    return {e["reason"] for e in cluster.objects("v1/events", "default") if e["involvedObject"]["name"] == name}


def test_failing_analysis_rolls_back_in_one_write(cluster, gateway, start):
    start(ScriptedAnalysis(fail_at=20, gateway=gateway))
    cluster.create(CANARIES, canary(), "default")
    until(lambda: phase(cluster) == "Failed", timeout=20, description="rolled back")
    assert gateway.seen == [(100, 0), (95, 5), (90, 10), (80, 20), (100, 0)]
    patches = [r for r in cluster.requests() if r[0] == "PATCH" and "/httproutes/web" in r[1]
               and "/status" not in r[1] and r[2] < 300]
    assert len(patches) == 4  # 5, 10, 20, then the rollback: one write
    status = cluster.get(CANARIES, "default", "web")["status"]
    assert status["result"] == "failed"
    assert "analysis failed" in " ".join(d["reason"] for d in status["decisions"])


def test_conflicts_on_half_the_route_patches_lose_no_update(cluster, gateway, start):
    fault = cluster.faults.inject(method="PATCH", path=r"/httproutes/web$", status=409, times=None, every=2)
    start(ScriptedAnalysis(gateway=gateway))
    cluster.create(CANARIES, canary(), "default")
    until(lambda: phase(cluster) == "Succeeded", timeout=30, description="rollout succeeded despite 409s")
    assert fault.fired >= 5
    assert gateway.seen == [(100, 0), (95, 5), (90, 10), (80, 20), (50, 50), (0, 100)]


def test_deleting_mid_rollout_restores_traffic_before_the_finalizer_goes(cluster, gateway, start):
    start(ScriptedAnalysis(gateway=gateway))
    cluster.create(CANARIES, canary(strategy={"progressive": {"steps": [30, 60], "pauses": [{"atWeight": 30}]}}),
                   "default")
    until(lambda: phase(cluster) == "Paused", timeout=20, description="paused at 30%")
    assert gateway.weights(cluster.get(ROUTES, "default", "web")) == (70, 30)
    cluster.delete(CANARIES, "default", "web")
    until(lambda: cluster.get(CANARIES, "default", "web") is None, timeout=20, description="canary gone")
    assert gateway.weights(cluster.get(ROUTES, "default", "web")) == (100, 0)


@pytest.mark.parametrize("steps_before_restart", [pytest.param(n, id=f"after-step-{n}") for n in (1, 2, 3, 4)])
def test_a_restarted_operator_resumes_without_lowering_weights(cluster, gateway, start, steps_before_restart):
    _, first = start(ScriptedAnalysis(gateway=gateway))
    cluster.create(CANARIES, canary(strategy={"progressive": {"steps": [10, 20, 40, 80]}}), "default")
    until(lambda: len(gateway.seen) > steps_before_restart, timeout=20, description="steps taken")
    first.stop()
    stopped_at = gateway.seen[-1][1]
    start(ScriptedAnalysis(gateway=gateway))
    until(lambda: phase(cluster) == "Succeeded", timeout=20, description="resumed to success")
    weights = [weight for _, weight in gateway.seen]
    assert stopped_at in weights
    assert weights == [0, 10, 20, 40, 80, 100]


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        pytest.param({"strategy": {"progressive": {"steps": [20, 10]}}}, "InvalidSpec", id="decreasing-steps"),
        pytest.param({"routeRef": {"name": "missing"}}, "RouteNotFound", id="route-missing"),
        pytest.param({"canary": {"name": "web-v3", "port": 80}}, "BackendNotInRoute", id="backend-not-in-route"),
    ],
)
def test_an_invalid_canary_is_stalled_with_an_event_and_moves_nothing(cluster, gateway, start, spec, reason):
    start(ScriptedAnalysis(gateway=gateway))
    cluster.create(CANARIES, canary(**spec), "default")

    def conditions():
        found = ((cluster.get(CANARIES, "default", "web") or {}).get("status") or {}).get("conditions") or []
        return {c["type"]: (c["status"], c["reason"]) for c in found} or None

    written = until(conditions, timeout=10, description="conditions written")
    assert (written["Stalled"], written["Ready"], written["Reconciling"]) == (
        ("True", reason), ("False", reason), ("False", reason))
    until(lambda: any(e["reason"] == reason and e["type"] == "Warning" for e in cluster.objects("v1/events", "default")),
          timeout=10, description="warning event posted")
    assert gateway.weights(cluster.get(ROUTES, "default", "web")) == (100, 0)
    assert len(gateway.generations) == 1


class ThinTraffic:
    """Every interval: too little traffic, and the hold deadline has passed (holdOutcome Inconclusive)."""

    REASON = "hold deadline 1s passed: insufficient traffic 3/50"

    async def __call__(self, spec, target, state, *, now, provider, templates=None, resolve_provider=None):
        from analysis.verdicts import IntervalVerdict, MetricVerdict, Verdict

        metric = MetricVerdict("request-success-rate", Verdict.INCONCLUSIVE, self.REASON, None, ">= 99", 3, 50)
        return IntervalVerdict(Verdict.INCONCLUSIVE, self.REASON, (metric,), hold_expired=True), state


def test_a_rollout_paused_by_an_expired_hold_keeps_saying_so(cluster, gateway, start):
    controller, _ = start(ThinTraffic())
    # A paused Canary sleeps until the resync: make that short, so that it looks again and again.
    controller.resync_interval = 0.05
    cluster.create(CANARIES, canary(), "default")
    until(lambda: phase(cluster) == "Paused", timeout=20, description="paused for a person")
    reconciles = lambda: controller.metrics.registry.get_sample_value(  # noqa: E731
        "routeshift_reconcile_duration_seconds_count") or 0
    paused_at = reconciles()
    until(lambda: reconciles() >= paused_at + 5, timeout=10, description="the controller looked again")
    status = cluster.get(CANARIES, "default", "web")["status"]
    assert ThinTraffic.REASON in status["message"] and "pause operation" not in status["message"]
    assert (status["pausedReason"], status["pausedMessage"]) == ("AnalysisHoldExpired", status["message"])
    paused = next(c for c in status["conditions"] if c["type"] == "Paused")
    assert (paused["status"], paused["reason"], paused["message"]) == ("True", "AnalysisHoldExpired",
                                                                       status["message"])
