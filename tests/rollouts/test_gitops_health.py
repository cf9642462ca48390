"""Ready, Reconciling and Stalled say what Flux, Argo CD and ``kubectl wait`` need to know.

The table is ``rollouts.health.assess``: one row per phase and situation. The rest drives
the real state machines through rollouts and checks what a GitOps tool would read after
every decision: exactly one of the three conditions True, all three about the generation
the controller acted on, Ready only once what the spec asks for runs.
"""

from __future__ import annotations

import datetime

import pytest

from canary_builders import FAILURE, SUCCESS, Driver, spec
from rollouts import health, model
from rollouts.model import ConditionStatus as C, Phase
from workload_world import CRASHING, WorkloadDriver

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
METRICS = {"interval": "10s", "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}}]}
ANALYSIS_FAILED = "analysis failed at weight 20%: success rate 80 < 99"


def status(phase: Phase, **fields) -> model.CanaryStatus:
    fields.setdefault("release", "v2")
    return model.CanaryStatus(phase=phase, message=f"{phase.value} message", **fields)


def log(*entries: tuple[Phase, str]) -> list[model.DecisionRecord]:
    return [model.DecisionRecord(time=T0, phase=phase, step=0, weight=0, reason=reason) for phase, reason in entries]


ROLLED_BACK_LOG = log((Phase.PROGRESSING, "weight 20%: dwelling"), (Phase.ROLLING_BACK, ANALYSIS_FAILED),
                      (Phase.ROLLING_BACK, "rolling back: waiting for default/web to carry stable 100%"),
                      (Phase.FAILED, "rolled back: web-v1 serves all traffic (failed)"))
FAILED_REVISION = model.WorkloadStatus(revision="7f6d5c4b3a", failed=model.FailedRevision(
    revision="v2", reason="progress deadline of 60s exceeded: 0/2 ready, CrashLoopBackOff", time=T0))
REVERTED = model.WorkloadStatus(revision="7f6d5c4b3a", failed=model.FailedRevision(revision="5c1e9f0a7b", time=T0))
ROUTE_MISSING = ("RouteNotFound", "HTTPRoute default/web not found")

R, N, S = health.READY, health.RECONCILING, health.STALLED


@pytest.mark.parametrize("current, situation, expected", [
    # Working toward a new state: Reconciling, reason = phase, message = the latest decision.
    pytest.param(status(Phase.INITIALIZING), {}, (N, "Initializing", "Initializing message"), id="initializing"),
    pytest.param(status(Phase.PROGRESSING), {}, (N, "Progressing", "Progressing message"), id="progressing"),
    pytest.param(status(Phase.PAUSED), {}, (N, "Paused", "Paused message"), id="paused"),
    pytest.param(status(Phase.WAITING_PROMOTION), {}, (N, "WaitingPromotion", "WaitingPromotion message"),
                 id="waiting-promotion"),
    pytest.param(status(Phase.PROMOTING), {}, (N, "Promoting", "Promoting message"), id="promoting"),
    pytest.param(status(Phase.FINALISING), {}, (N, "Finalising", "Finalising message"), id="finalising"),
    pytest.param(status(Phase.ROLLING_BACK, result="failed"), {}, (N, "RollingBack", "RollingBack message"),
                 id="rolling-back"),
    pytest.param(status(Phase.TERMINATING), {}, (N, "Terminating", "Terminating message"), id="terminating"),
    # At rest and healthy: Ready.
    pytest.param(status(Phase.INITIALIZED, release=None), {}, (R, "Initialized", "Initialized message"),
                 id="initialized-nothing-to-roll-out"),
    pytest.param(status(Phase.SUCCEEDED, result="succeeded"), {"wanted_release": "v2"},
                 (R, "Succeeded", "Succeeded message"), id="succeeded"),
    pytest.param(status(Phase.FAILED, result="failed", workload=REVERTED), {"wanted_release": "v2"},
                 (R, "Reverted", "Failed message"), id="workload-target-changed-back-to-the-primarys-revision"),
    # At rest, but the spec already asks for the next release: the next decision starts it.
    pytest.param(status(Phase.SUCCEEDED, result="succeeded"), {"wanted_release": "v3"},
                 (N, "ReleasePending", "release v3 is next: Succeeded message"), id="succeeded-next-release-due"),
    pytest.param(status(Phase.FAILED, result="failed"), {"wanted_release": "v3"},
                 (N, "ReleasePending", "release v3 is next: Failed message"), id="failed-next-release-due"),
    # Rolled back: the release the spec names is not running, until a new one or a retry.
    pytest.param(status(Phase.FAILED, result="failed", decisions=ROLLED_BACK_LOG), {"wanted_release": "v2"},
                 (S, "RolledBack", f"release v2 rolled back: {ANALYSIS_FAILED}"), id="rolled-back-says-why"),
    pytest.param(status(Phase.FAILED, result="failed", workload=FAILED_REVISION, decisions=ROLLED_BACK_LOG), {},
                 (S, "RolledBack", "release v2 rolled back: progress deadline of 60s exceeded: 0/2 ready, "
                  "CrashLoopBackOff"), id="workload-rolled-back-names-the-revisions-problem"),
    pytest.param(status(Phase.FAILED, result="aborted", decisions=log((Phase.ROLLING_BACK, "aborted by the abort "
                                                                      "operation"))), {},
                 (S, "Aborted", "release v2 rolled back: aborted by the abort operation"), id="aborted"),
    pytest.param(status(Phase.FAILED, result="undone"), {},
                 (S, "Undone", "release v2 rolled back: Failed message"), id="undone-cause-no-longer-in-the-log"),
    # Cannot act without a person: Stalled with the problem, whatever the phase.
    pytest.param(status(Phase.PROGRESSING), {"problem": ROUTE_MISSING}, (S, *ROUTE_MISSING),
                 id="problem-mid-rollout"),
    pytest.param(status(Phase.SUCCEEDED), {"problem": ("CanaryIsLive", "web-v2 serves live traffic")},
                 (S, "CanaryIsLive", "web-v2 serves live traffic"), id="problem-at-rest"),
    pytest.param(status(Phase.INITIALIZING), {"problem": ("InvalidSpec", "steps must be strictly increasing")},
                 (S, "InvalidSpec", "steps must be strictly increasing"), id="invalid-spec"),
    # The last write before the finalizer lets go: none (kstatus reads deletionTimestamp).
    pytest.param(status(Phase.TERMINATED), {}, (None, "Terminated", "Terminated message"), id="terminated"),
])
def test_the_table(current, situation, expected):
    verdict = health.assess(current, **situation)
    assert (verdict.holds, verdict.reason, verdict.message) == expected
    assert verdict.conditions() == tuple((t, C.TRUE if t == verdict.holds else C.FALSE) for t in health.TYPES)


def test_every_phase_has_a_row():
    """A new phase must be given a GitOps verdict on purpose (and a row in docs/gitops-health.md)."""
    at_rest = {Phase.INITIALIZED, Phase.SUCCEEDED, Phase.FAILED, Phase.TERMINATED}
    assert set(health.WORKING) | at_rest == set(Phase)
    assert not set(health.WORKING) & at_rest


# --------------------------------------------------------------------------- along real rollouts


def gitops_view(current: model.CanaryStatus) -> tuple[str | None, str]:
    """(the True condition, its reason), checking what every reader may rely on."""
    by_type = {c.type: c for c in current.conditions if c.type in health.TYPES}
    assert set(by_type) == set(health.TYPES)
    true = [t for t, c in by_type.items() if c.status == C.TRUE]
    assert len(true) == (0 if current.phase == Phase.TERMINATED else 1), current.conditions
    assert len({(c.reason, c.message) for c in by_type.values()}) == 1, "all three say the same"
    assert {c.observed_generation for c in by_type.values()} == {current.observed_generation}
    return (true[0] if true else None), by_type[health.READY].reason


def trail(driver) -> list[tuple[str | None, str]]:
    """The distinct (True condition, reason) after each decision so far."""
    seen: list[tuple[str | None, str]] = []
    for decided in driver.history:
        view = gitops_view(decided.status)
        if not seen or seen[-1] != view:
            seen.append(view)
    return seen


def test_a_promoted_rollout_reconciles_until_it_succeeds_then_is_ready():
    driver = Driver(spec())
    driver.run_until(Phase.SUCCEEDED)
    assert trail(driver) == [(N, "Progressing"), (N, "Promoting"), (N, "Finalising"), (R, "Succeeded")]
    ready = driver.status.condition("Ready")
    assert ready.message == "release v2 promoted: web-v2 is live"


def test_a_rolled_back_rollout_stalls_with_its_cause_until_a_retry():
    driver = Driver(spec(analysis=METRICS))
    driver.tick()
    driver.run_until(Phase.FAILED, verdict=FAILURE)
    assert trail(driver)[-3:] == [(N, "Progressing"), (N, "RollingBack"), (S, "RolledBack")]
    stalled = driver.status.condition("Stalled")
    assert stalled.message.startswith("release v2 rolled back: analysis failed at weight 5%: ")
    driver.tick(10)
    assert gitops_view(driver.status) == (S, "RolledBack"), "a rollback stays a failure while the spec names it"
    driver.tick(10, annotations=driver.annotate("retry", "1"))
    assert gitops_view(driver.status) == (N, "Progressing")
    driver.run_until(Phase.SUCCEEDED, verdict=SUCCESS)
    assert gitops_view(driver.status) == (R, "Succeeded")


def test_a_new_release_is_reconciling_from_the_decision_that_sees_it():
    driver = Driver(spec())
    driver.run_until(Phase.SUCCEEDED)
    driver.canary = spec(release="v3", stable={"name": "web-v2", "port": 80}, canary={"name": "web-v1", "port": 80})
    driver.tick(generation=2)
    assert gitops_view(driver.status) == (N, "Progressing")
    assert driver.status.condition("Ready").observed_generation == 2


def test_an_idle_canary_from_an_older_controller_is_decided_once_to_gain_the_conditions():
    from rollouts import machine

    driver = Driver(spec())
    driver.run_until(Phase.SUCCEEDED)
    assert machine.quiet(driver.canary, driver.status, generation=1, annotations={})
    older = driver.status.model_copy(update={"conditions": [c for c in driver.status.conditions
                                                            if c.type not in health.TYPES]})
    assert not machine.quiet(driver.canary, older, generation=1, annotations={})


def test_a_workload_rollback_stalls_until_the_target_is_changed_back():
    driver = WorkloadDriver()
    driver.run_until(Phase.INITIALIZED, every=1)
    driver.tick(1)
    assert gitops_view(driver.status) == (R, "Initialized")
    driver.world.set_image(CRASHING)
    driver.run_until(Phase.FAILED, every=5)
    assert gitops_view(driver.status) == (S, "RolledBack")
    assert "CrashLoopBackOff" in driver.status.condition("Stalled").message
    driver.world.set_image("ghcr.io/routeshift/demo-app:v1")
    driver.tick(1)
    assert gitops_view(driver.status) == (R, "Reverted")


def test_a_primary_not_ready_by_the_deadline_stalls_with_one_event():
    driver = WorkloadDriver(ready_at_once=False)
    driver.tick()
    driver.tick(30)
    assert gitops_view(driver.status) == (N, "Initializing")
    driver.tick(31)
    driver.tick(5)
    assert gitops_view(driver.status) == (S, "PrimaryNotReady")
    assert "waiting for Deployment podinfo-primary" in driver.status.condition("Stalled").message
    assert driver.events().count("PrimaryNotReady") == 1
    driver.world.settle()
    driver.run_until(Phase.INITIALIZED, every=1)
    assert gitops_view(driver.status) == (R, "Initialized")
