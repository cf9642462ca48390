"""Manual operations (annotations and spec.paused) and pauses in the plan; each is idempotent."""

from __future__ import annotations

import pytest

from canary_builders import Driver, at, spec
from rollouts import actions
from rollouts.model import Phase


def _op(name: str, value: str = "n1") -> dict[str, str]:
    return {f"routeshift.dev/{name}": value}


def _started(**overrides) -> Driver:
    driver = Driver(spec(**overrides))
    driver.tick()
    driver.tick()
    return driver


def _events(decided, kind=None):
    return [a for a in decided.actions if isinstance(a, actions.RecordEvent) and (kind is None or a.reason == kind)]


@pytest.mark.parametrize(
    ("operation", "value", "weights", "phase"),
    [
        pytest.param("pause", "n1", (95, 5), Phase.PAUSED, id="pause"),
        pytest.param("promote", "n1", (90, 10), Phase.PROGRESSING, id="promote-next-step"),
        pytest.param("skip-step", "n1", (90, 10), Phase.PROGRESSING, id="skip-step"),
        pytest.param("promote-full", "n1", (0, 100), Phase.PROMOTING, id="promote-full"),
        pytest.param("set-weight", "40@n1", (60, 40), Phase.PROGRESSING, id="set-weight"),
        pytest.param("abort", "n1", (100, 0), Phase.ROLLING_BACK, id="abort"),
    ],
)
def test_operation_acts_once_and_is_recorded(operation, value, weights, phase):
    driver = _started()
    decided = driver.tick(annotations=_op(operation, value))
    assert driver.world.weights() == weights
    assert driver.status.phase == phase
    assert driver.status.handled_operations[operation] == value
    assert _events(decided, "OperationHandled")
    writes = len(driver.world.writes)
    again = driver.tick(annotations=_op(operation, value))
    assert not _events(again, "OperationHandled")
    assert len(driver.world.writes) == writes


def test_set_weight_holds_until_resume_then_continues_without_lowering():
    driver = _started()
    driver.tick(annotations=_op("set-weight", "30@a"))
    for _ in range(5):
        driver.tick(10, annotations=_op("set-weight", "30@a"))
    assert driver.world.weights() == (70, 30)
    assert "held at canary 30%" in driver.status.message
    driver.tick(annotations={**_op("set-weight", "30@a"), **_op("resume", "b")})
    assert driver.world.weights() == (50, 50)  # first step at or above 30


def test_invalid_set_weight_is_rejected_with_an_event():
    driver = _started()
    decided = driver.tick(annotations=_op("set-weight", "140@x"))
    assert driver.world.weights() == (95, 5)
    assert "outside 0..100" in _events(decided, "OperationRejected")[0].message


@pytest.mark.parametrize(
    "operation",
    [pytest.param(op, id=op) for op in ("pause", "resume", "promote", "promote-full", "skip-step", "abort",
                                        "set-weight", "retry", "undo")],
)
def test_operations_outside_their_phase_are_rejected(operation):
    driver = Driver(spec(release=None))
    driver.tick()
    driver.tick()
    assert driver.status.phase == Phase.INITIALIZED
    decided = driver.tick(annotations=_op(operation, "5@z"))
    assert _events(decided, "OperationRejected")
    assert driver.status.handled_operations[operation] == "5@z"
    assert driver.status.phase == Phase.INITIALIZED


def test_pause_then_resume_continues_where_it_stood():
    driver = _started()
    driver.tick(annotations=_op("pause", "p"))
    driver.tick(3600, annotations=_op("pause", "p"))
    assert driver.status.phase == Phase.PAUSED
    assert driver.world.weights() == (95, 5)
    driver.tick(annotations={**_op("pause", "p"), **_op("resume", "r")})
    assert driver.status.phase == Phase.PROGRESSING
    driver.tick(10, annotations={**_op("pause", "p"), **_op("resume", "r")})
    assert driver.world.weights() == (90, 10)


def test_spec_paused_holds_and_stops_the_deadline_clock():
    driver = _started(progressDeadlineSeconds=30)
    driver.canary = spec(progressDeadlineSeconds=30, paused=True)
    driver.tick(10)
    assert driver.status.phase == Phase.PAUSED
    driver.tick(600)
    assert driver.status.phase == Phase.PAUSED
    driver.canary = spec(progressDeadlineSeconds=30)
    driver.tick(1)
    assert driver.status.phase == Phase.PROGRESSING


def test_manual_pause_step_waits_for_resume():
    driver = Driver(spec(strategy={"progressive": {"steps": [10, 50], "pauses": [{"atWeight": 10}]}}))
    driver.tick()
    driver.tick()
    driver.tick(10)
    assert driver.status.phase == Phase.PAUSED
    assert "manual pause at 10%" in driver.status.message
    driver.tick(3600)
    assert driver.world.weights() == (90, 10) and driver.status.phase == Phase.PAUSED
    driver.tick(annotations=_op("resume", "go"))
    assert driver.world.weights() == (50, 50)
    assert driver.status.phase == Phase.PROGRESSING


def test_timed_pause_step_continues_by_itself():
    driver = Driver(spec(strategy={"progressive": {"steps": [10, 50], "pauses": [{"atWeight": 10, "duration": "1m"}]}}))
    driver.tick()
    driver.tick()
    driver.tick(10)  # analysis done: the pause step starts
    driver.tick()
    assert driver.world.weights() == (90, 10)
    driver.tick(30)
    assert driver.world.weights() == (90, 10)
    assert "pause 1m at 10%" in driver.status.message
    driver.tick(30)
    assert driver.world.weights() == (50, 50)


def test_undo_within_the_window_flips_back_in_one_write():
    driver = Driver(spec(undoWindowSeconds=600))
    driver.run_until(Phase.SUCCEEDED)
    writes = len(driver.world.writes)
    decided = driver.tick(60, annotations=_op("undo", "u1"))
    assert driver.world.weights() == (100, 0)
    assert len(driver.world.writes) == writes + 1
    assert driver.status.phase == Phase.ROLLING_BACK
    driver.tick(annotations=_op("undo", "u1"))
    assert driver.status.phase == Phase.FAILED
    assert driver.status.result == "undone"
    assert driver.status.condition("Promoted").reason == "Undone"
    assert any(a.reason == "RollingBack" for a in _events(decided))


def test_undo_after_the_window_is_rejected():
    driver = Driver(spec(undoWindowSeconds=600))
    driver.run_until(Phase.SUCCEEDED)
    decided = driver.tick(601, annotations=_op("undo", "late"))
    assert driver.world.weights() == (0, 100)
    assert "window of 600s has closed" in _events(decided, "OperationRejected")[0].message
    assert driver.status.phase == Phase.SUCCEEDED


def test_the_same_value_handled_before_a_restart_is_not_replayed():
    driver = _started()
    driver.tick(annotations=_op("promote", "once"))
    assert driver.world.weights() == (90, 10)
    driver.status = driver.status.model_copy()  # a new controller process reads the same status
    driver.tick(annotations=_op("promote", "once"))
    assert driver.world.weights() == (90, 10)
    assert driver.now == at(0)


@pytest.mark.parametrize(
    ("pause", "reason", "message"),
    [
        pytest.param(lambda d: d.tick(annotations=_op("pause")), "PauseOperation", "paused by the pause operation",
                     id="pause-operation"),
        pytest.param(lambda d: (setattr(d, "canary", spec(paused=True)), d.tick()), "SpecPaused",
                     "paused by spec.paused", id="spec-paused"),
    ],
)
def test_the_paused_condition_says_who_paused(pause, reason, message):
    driver = _started()
    assert driver.status.condition("Paused") is None  # not cluttering Canaries that never paused
    pause(driver)
    driver.tick(10)
    status = driver.status
    assert status.phase == Phase.PAUSED and status.message == message
    paused = status.condition("Paused")
    assert (paused.status.value, paused.reason, paused.message) == ("True", reason, message)


def test_the_paused_condition_names_a_manual_pause_step():
    driver = Driver(spec(strategy={"progressive": {"steps": [10, 50], "pauses": [{"atWeight": 10}]}}))
    driver.tick()
    driver.tick()
    driver.tick(10)
    paused = driver.status.condition("Paused")
    assert (paused.status.value, paused.reason) == ("True", "PauseStep")
    assert "manual pause at 10%" in paused.message
    assert driver.status.paused_reason is None  # not a manual pause: resume skips the step
    driver.tick(annotations=_op("resume", "go"))
    assert driver.status.condition("Paused").status.value == "False"


@pytest.mark.parametrize("hold", [
    pytest.param({"annotations": _op("pause", "p")}, id="pause-operation"),
    pytest.param({"annotations": _op("set-weight", "30@a")}, id="set-weight"),
])
def test_a_waiting_rollout_decided_again_changes_nothing(hold):
    """Each wake of a paused or held Canary (a resync, a route's status, any event) used to
    refresh its progress deadline clock, and so rewrite its status, for nothing."""
    driver = _started(progressDeadlineSeconds=30)
    driver.tick(**hold)
    driver.tick(1, **hold)
    before = driver.status
    for _ in range(3):
        decided = driver.tick(40, **hold)  # past the 30 s deadline: a wait is no failure to progress
        assert decided.status == before and not decided.actions
    assert driver.status.phase in (Phase.PAUSED, Phase.PROGRESSING)


@pytest.mark.parametrize(("hold", "release"), [
    pytest.param(_op("pause", "p"), _op("resume", "r"), id="pause-then-resume"),
    pytest.param(_op("set-weight", "30@a"), _op("resume", "r"), id="set-weight-then-resume"),
])
def test_the_deadline_starts_afresh_when_the_wait_ends(hold, release):
    driver = _started(progressDeadlineSeconds=30)
    driver.tick(annotations=hold)
    driver.tick(3600, annotations=hold)
    driver.tick(annotations={**hold, **release})
    driver.tick(5, annotations={**hold, **release})
    assert driver.status.phase == Phase.PROGRESSING, driver.status.message
