"""State lives in status: a restarted controller resumes at the same step and never lowers weights."""

from __future__ import annotations

import copy
import datetime

import pytest

from canary_builders import Driver, spec
from rollouts import machine, model, steps
from rollouts.model import Phase


def _progressing(ticks: int) -> Driver:
    driver = Driver(spec())
    for _ in range(ticks):
        driver.tick(10)
    return driver


@pytest.mark.parametrize("ticks", [pytest.param(n, id=f"after-{n}-ticks") for n in (1, 2, 3, 5, 7, 9)])
def test_a_fresh_controller_with_the_stored_status_decides_the_same(ticks):
    driver = _progressing(ticks)
    stored = copy.deepcopy(model.dump_status(driver.status))
    obs = driver.world.observations(driver.canary)
    first = machine.decide(driver.canary, model.parse_status(stored), obs, now=driver.now)
    second = machine.decide(driver.canary, model.parse_status(copy.deepcopy(stored)), obs, now=driver.now)
    assert first == second


@pytest.mark.parametrize("ticks", [pytest.param(n, id=f"restart-after-{n}") for n in (1, 2, 4, 6, 8)])
def test_restarting_at_any_point_never_lowers_the_canary_weight(ticks):
    driver = _progressing(ticks)
    before = driver.world.weights()[1]
    driver.status = model.parse_status(copy.deepcopy(model.dump_status(driver.status)))
    seen = driver.run_until(Phase.SUCCEEDED)
    assert seen[0] == before
    assert seen == sorted(seen)


def test_a_crash_between_route_patch_and_status_write_resumes_at_the_routes_weight():
    driver = _progressing(2)  # at 5%, settled
    assert driver.world.weights() == (95, 5)
    stale = driver.status.model_copy(deep=True)
    driver.tick(10)  # completes 5%, writes 10% ...
    assert driver.world.weights() == (90, 10)
    driver.status = stale  # ... but the status write was lost
    driver.tick()
    assert driver.world.weights() == (90, 10)
    assert driver.status.step == 1
    assert "without lowering it" in " ".join(r.reason for r in driver.status.decisions)


def test_status_survives_a_json_round_trip_exactly():
    driver = _progressing(6)
    dumped = model.dump_status(driver.status)
    assert model.dump_status(model.parse_status(copy.deepcopy(dumped))) == dumped


def test_decision_log_is_bounded():
    driver = Driver(spec(strategy={"progressive": {"stepWeight": 1}}))
    driver.run_until(Phase.SUCCEEDED, limit=400)
    assert len(driver.status.decisions) == model.DECISION_LOG_LIMIT
    assert driver.status.decisions[-1].phase == Phase.SUCCEEDED


def test_a_shorter_plan_after_an_edit_clamps_to_the_promotion():
    driver = Driver(spec(strategy={"progressive": {"steps": [5, 10, 20, 50, 80]}}))
    for _ in range(8):
        driver.tick(10)
    assert driver.status.step >= 3
    driver.canary = spec(strategy={"progressive": {"steps": [5]}})
    driver.tick(10)
    assert isinstance(machine.current_step(driver.canary, driver.status), steps.PromoteStep)
    assert driver.run_until(Phase.SUCCEEDED)[-1] == 100


@pytest.mark.parametrize(
    ("change", "quiet"),
    [
        pytest.param({}, True, id="nothing-new"),
        pytest.param({"generation": 2}, False, id="spec-edited"),
        pytest.param({"release": "v3"}, False, id="new-release"),
        pytest.param({"annotations": {"routeshift.dev/undo": "u"}}, False, id="pending-operation"),
    ],
)
def test_idle_canaries_need_no_observation_until_something_changes(change, quiet):
    driver = Driver(spec())
    driver.run_until(Phase.SUCCEEDED)
    canary = spec(release=change.get("release", "v2"))
    assert machine.quiet(canary, driver.status, generation=change.get("generation", 1),
                         annotations=change.get("annotations", {})) is quiet


def test_a_rollout_in_flight_is_never_quiet():
    driver = Driver(spec())
    driver.tick()
    assert not machine.quiet(driver.canary, driver.status, generation=1, annotations={})


@pytest.mark.parametrize("ticks", [pytest.param(n, id=f"after-{n}-ticks") for n in (2, 5, 8)])
def test_deciding_leaves_the_status_it_was_given_as_it_was(ticks):
    # The daemon keeps the status it passed in and writes only when the decision's differs
    # from it: a decision that edited its input would be taken for "nothing changed".
    driver = _progressing(ticks)
    given = driver.status
    before = copy.deepcopy(model.dump_status(given))
    decided = machine.decide(driver.canary, given, driver.world.observations(driver.canary), now=driver.now + datetime.timedelta(seconds=60))
    assert model.dump_status(given) == before
    assert decided.status != given and len(decided.status.decisions) > len(given.decisions)
