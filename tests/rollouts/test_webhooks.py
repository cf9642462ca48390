"""Gating webhooks (pre-rollout, rollout, confirm-promotion) and notification hooks."""

from __future__ import annotations

import pytest

from canary_builders import Driver, at, gate, spec
from rollouts import actions, machine
from rollouts.model import Phase


def _hooks(*types):
    return {"interval": "10s", "webhooks": [{"name": f"{t}-hook", "type": t, "url": f"http://hooks.test/{t}"}
                                           for t in types]}


def test_pre_rollout_hook_gates_the_first_weight():
    driver = Driver(spec(analysis=_hooks("pre-rollout")))
    assert [h.name for h in machine.gates_due(driver.canary, driver.status.model_copy(
        update={"phase": Phase.PROGRESSING}), at(0))] == ["pre-rollout-hook"]
    driver.tick(gates=(gate("pre-rollout-hook", "pre-rollout", False, "HTTP 500"),))
    assert driver.world.weights() == (100, 0)
    assert "pre-rollout webhook pre-rollout-hook: HTTP 500" in driver.status.message
    assert machine.gates_due(driver.canary, driver.status, at(5)) == ()  # asked again after an interval
    assert [h.name for h in machine.gates_due(driver.canary, driver.status, at(10))] == ["pre-rollout-hook"]
    driver.tick(5, gates=(gate("pre-rollout-hook", "pre-rollout", True),))
    assert driver.world.weights() == (95, 5)
    assert driver.status.pre_rollout_passed
    assert machine.gates_due(driver.canary, driver.status, driver.now) == ()


def test_failing_rollout_hook_holds_the_step():
    driver = Driver(spec(analysis=_hooks("rollout")))
    driver.tick()
    driver.tick()
    assert machine.gates_due(driver.canary, driver.status, driver.now) == ()
    assert [h.name for h in machine.gates_due(driver.canary, driver.status, at(10))] == ["rollout-hook"]
    driver.tick(10, gates=(gate("rollout-hook", "rollout", False, "load test failed"),))
    assert driver.world.weights() == (95, 5)
    assert "rollout webhook rollout-hook failed: load test failed" in driver.status.message
    driver.tick(10, gates=(gate("rollout-hook", "rollout", True),))
    assert driver.world.weights() == (90, 10)


def test_confirm_promotion_waits_in_waiting_promotion():
    driver = Driver(spec(analysis=_hooks("confirm-promotion"), strategy={"progressive": {"steps": [50]}}))
    driver.tick()
    driver.tick()
    driver.tick(10)
    assert driver.status.phase == Phase.WAITING_PROMOTION
    assert driver.world.weights() == (50, 50)
    assert [h.name for h in machine.gates_due(driver.canary, driver.status, driver.now)] == ["confirm-promotion-hook"]
    driver.tick(3600, gates=(gate("confirm-promotion-hook", "confirm-promotion", False, "not approved"),))
    assert driver.status.phase == Phase.WAITING_PROMOTION  # waiting for a person is no deadline failure
    driver.tick(1, gates=(gate("confirm-promotion-hook", "confirm-promotion", True),))
    assert driver.status.phase == Phase.PROMOTING
    assert driver.world.weights() == (0, 100)


def test_event_and_post_rollout_hooks_are_notified():
    driver = Driver(spec(analysis=_hooks("event", "post-rollout")))
    driver.run_until(Phase.SUCCEEDED)
    calls = [a for d in driver.history for a in d.actions if isinstance(a, actions.CallWebhook)]
    events = [c.payload["reason"] for c in calls if c.hook.type.value == "event"]
    assert events[0] == "RolloutStarted" and "Succeeded" in events
    post = [c for c in calls if c.hook.type.value == "post-rollout"]
    assert len(post) == 1 and post[0].payload["phase"] in ("Promoting", "Finalising")


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        pytest.param(Phase.INITIALIZED, (), id="idle"),
        pytest.param(Phase.FAILED, (), id="failed"),
    ],
)
def test_no_gates_when_idle(phase, expected):
    canary = spec(analysis=_hooks("pre-rollout", "rollout", "rollback"))
    status = Driver(canary).status.model_copy(update={"phase": phase})
    assert machine.gates_due(canary, status, at(0)) == expected
