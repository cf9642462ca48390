"""Failed analysis, rollback webhooks, aborts and deadlines return all traffic in one write."""

from __future__ import annotations

import dataclasses

import pytest

from canary_builders import ERROR, FAILURE, INCONCLUSIVE, SUCCESS, Driver, World, gate, spec
from rollouts import actions
from rollouts.model import Phase

METRICS = {"interval": "10s", "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}}],
           "webhooks": [{"name": "kill-switch", "type": "rollback", "url": "http://hooks.test/rollback"}]}


def _at_twenty_percent() -> Driver:
    driver = Driver(spec(analysis=METRICS))
    driver.tick()
    driver.tick()
    driver.tick(10, verdict=SUCCESS, gates=(gate("kill-switch", "rollback", False),))
    driver.tick()
    driver.tick(10, verdict=SUCCESS, gates=(gate("kill-switch", "rollback", False),))
    assert driver.world.weights() == (80, 20)
    driver.tick()
    return driver


@pytest.mark.parametrize(
    ("observed", "result", "words"),
    [
        pytest.param({"verdict": FAILURE, "gates": (gate("kill-switch", "rollback", False),)}, "failed",
                     "analysis failed", id="failed-analysis"),
        pytest.param({"verdict": SUCCESS, "gates": (gate("kill-switch", "rollback", True),)}, "failed",
                     "rollback webhook kill-switch", id="rollback-webhook"),
        pytest.param({"annotations": {"routeshift.dev/abort": "1"}}, "aborted", "aborted", id="abort"),
    ],
)
def test_rollback_returns_all_traffic_in_one_write(observed, result, words):
    driver = _at_twenty_percent()
    writes = len(driver.world.writes)
    decided = driver.tick(10, **observed)
    assert driver.world.weights() == (100, 0)
    assert len(driver.world.writes) == writes + 1
    assert driver.status.phase == Phase.ROLLING_BACK
    assert words in driver.status.message
    assert any(isinstance(a, actions.RecordEvent) and a.reason == "RollingBack" and a.type.value == "Warning"
               for a in decided.actions)
    decided = driver.tick()
    assert driver.status.phase == Phase.FAILED
    assert driver.status.result == result
    assert driver.status.condition("Promoted").status.value == "False"
    assert [a.result for a in decided.actions if isinstance(a, actions.RecordRolloutResult)] == [result]
    assert len(driver.world.writes) == writes + 1
    assert driver.status.live_backend.name == "web-v1"


def test_failed_verdict_lands_in_the_decision_log_with_metric_values():
    driver = _at_twenty_percent()
    driver.tick(10, verdict=FAILURE, gates=(gate("kill-switch", "rollback", False),))
    record = next(r for r in reversed(driver.status.decisions) if r.verdict == "Failed")
    assert record.weight == 0 and "80 < 99" in record.reason
    assert record.metrics[0].value == 80.0
    assert record.metrics[0].bound == ">= 99"
    assert record.metrics[0].sample_size == 500
    assert driver.status.condition("Analysis").status.value == "False"


@pytest.mark.parametrize(
    "held",
    [pytest.param(INCONCLUSIVE, id="inconclusive"), pytest.param(ERROR, id="error")],
)
def test_holding_past_the_progress_deadline_rolls_back(held):
    driver = Driver(spec(analysis=METRICS, progressDeadlineSeconds=35))
    driver.tick()
    driver.tick()
    quiet = (gate("kill-switch", "rollback", False),)
    for _ in range(3):
        driver.tick(10, verdict=held, gates=quiet)
        assert driver.world.weights() == (95, 5)
        assert driver.status.phase == Phase.PROGRESSING
        assert held.reason in driver.status.message
    driver.tick(10, verdict=held, gates=quiet)
    assert driver.status.phase == Phase.ROLLING_BACK
    assert "progress deadline of 35s exceeded" in driver.status.message
    assert driver.world.weights() == (100, 0)


def test_a_route_that_never_accepts_rolls_back_at_the_deadline():
    driver = Driver(spec(progressDeadlineSeconds=30), World(gateway="lags"))
    driver.tick()
    assert driver.world.weights() == (95, 5)
    driver.tick(20)
    assert "has judged generation 1 of 2" in driver.status.message
    driver.tick(20)
    assert driver.status.phase == Phase.ROLLING_BACK


def test_retry_after_failure_reruns_the_same_release():
    driver = _at_twenty_percent()
    driver.tick(10, verdict=FAILURE, gates=(gate("kill-switch", "rollback", False),))
    driver.tick()
    assert driver.status.phase == Phase.FAILED
    driver.tick(annotations={"routeshift.dev/retry": "a"})
    assert driver.status.phase == Phase.PROGRESSING
    assert driver.status.release == "v2"
    assert driver.world.weights() == (95, 5)
    assert driver.status.analysis_state is None


def test_an_expired_thin_traffic_hold_pauses_for_a_person_instead_of_rolling_back():
    expired = dataclasses.replace(INCONCLUSIVE, reason="hold deadline 10m passed: insufficient traffic 10/50",
                                  hold_expired=True)
    driver = Driver(spec(analysis=METRICS, progressDeadlineSeconds=35))
    driver.tick()
    driver.tick()
    quiet = (gate("kill-switch", "rollback", False),)
    driver.tick(10, verdict=expired, gates=quiet)
    assert driver.status.phase == Phase.PAUSED
    assert "paused for a person" in driver.status.message and "10/50" in driver.status.message
    assert driver.status.decisions[-1].metrics, "the values behind the pause are in the decision log"
    for _ in range(6):  # far past the progress deadline: a paused rollout does not time out
        driver.tick(10, gates=quiet)
    assert driver.status.phase == Phase.PAUSED
    assert driver.world.weights() == (95, 5)


def test_an_expired_hold_keeps_saying_why_it_paused_until_resumed():
    """Status remembers the reason of the pause: later decisions, the Paused condition and
    `kubectl canary status` say "hold deadline passed", never "paused by the pause operation"."""
    expired = dataclasses.replace(INCONCLUSIVE, reason="hold deadline 10m passed: insufficient traffic 10/50",
                                  hold_expired=True)
    quiet = (gate("kill-switch", "rollback", False),)
    driver = Driver(spec(analysis=METRICS))
    driver.tick()
    driver.tick()
    driver.tick(10, verdict=expired, gates=quiet)
    reason = driver.status.message
    assert "hold deadline 10m passed" in reason
    events = len(driver.events())
    for _ in range(5):
        driver.tick(10, gates=quiet)
    status = driver.status
    assert status.message == reason
    assert not any("pause operation" in d.reason for d in status.decisions)
    assert len(driver.events()) == events, "a held pause is not announced again"
    assert (status.manual_pause, status.paused_reason, status.paused_message) == (True, "AnalysisHoldExpired", reason)
    paused = status.condition("Paused")
    assert (paused.status.value, paused.reason, paused.message) == ("True", "AnalysisHoldExpired", reason)
    driver.tick(annotations={"routeshift.dev/pause": "p1"}, gates=quiet)  # pausing again keeps the real reason
    assert driver.status.paused_reason == "AnalysisHoldExpired"
    driver.tick(annotations={"routeshift.dev/resume": "r1"}, gates=quiet)
    status = driver.status
    assert status.phase == Phase.PROGRESSING
    assert (status.manual_pause, status.paused_reason, status.paused_message) == (False, None, None)
    assert (status.condition("Paused").status.value, status.condition("Paused").reason) == ("False", "NotPaused")
