"""Which status changes may wait for the gateway's acceptance: one plain weight step, briefly."""

import dataclasses
import datetime

import pytest

from canary_builders import T0, spec
from rollouts import actions, machine, model, reconciler

PENDING = model.Condition(type="RouteAccepted", status=model.ConditionStatus.UNKNOWN, reason="Pending",
                          message="parent gw has judged generation 2 of 3", last_transition_time=T0)
ACCEPTED = dataclasses.replace(PENDING, status=model.ConditionStatus.TRUE, reason="Accepted")
STORED = model.CanaryStatus(phase=model.Phase.PROGRESSING, release="v2", step=0, step_started_at=T0,
                            step_settled_at=T0, conditions=[ACCEPTED])
ADVANCED = STORED.model_copy(update={"step": 1, "step_settled_at": None, "conditions": [PENDING]})
NORMAL = machine.Decision(ADVANCED, (actions.RecordEvent(actions.EventType.NORMAL, "StepCompleted", "next"),))
WARNING = machine.Decision(ADVANCED, (actions.RecordEvent(actions.EventType.WARNING, "AnalysisHold", "thin"),))


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


@pytest.mark.parametrize(("canary", "status", "pending", "now", "deferred"), [
    pytest.param(spec(), ADVANCED, [NORMAL], at(0.5), True, id="a-weight-step-the-gateway-is-judging"),
    pytest.param(spec(), ADVANCED, [NORMAL], at(reconciler.DEFER_SECONDS), False, id="not-longer-than-the-bound"),
    pytest.param(spec(), ADVANCED.model_copy(update={"conditions": [ACCEPTED]}), [NORMAL], at(0.5), False,
                 id="accepted-already"),
    pytest.param(spec(), ADVANCED.model_copy(update={"conditions": []}), [NORMAL], at(0.5), False,
                 id="a-gateway-that-reports-no-status"),
    pytest.param(spec(), ADVANCED, [WARNING], at(0.5), False, id="a-warning-goes-out-at-once"),
    pytest.param(spec(), ADVANCED.model_copy(update={"step": 2}), [NORMAL], at(0.5), False, id="two-steps"),
    pytest.param(spec(), ADVANCED.model_copy(update={"phase": model.Phase.PAUSED}), [NORMAL], at(0.5), False,
                 id="a-phase-change"),
    pytest.param(spec(strategy={"progressive": {"steps": [10]}}), ADVANCED, [NORMAL], at(0.5), False,
                 id="the-promotion-is-not-a-weight-step"),
])
def test_only_a_plain_weight_step_waits_for_the_gateway(canary, status, pending, now, deferred):
    assert reconciler.deferrable(canary, STORED, status, pending, now) is deferred
