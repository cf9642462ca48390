"""Progressive rollouts reach Succeeded through exactly the planned weights."""

from __future__ import annotations

import pytest

from canary_builders import Driver, World, httproute, spec
from rollouts import actions
from rollouts.model import Phase


@pytest.mark.parametrize(
    ("strategy", "weights"),
    [
        pytest.param(None, [0, 5, 10, 20, 50, 100], id="default-steps"),
        pytest.param({"progressive": {"steps": [10, 40, 100]}}, [0, 10, 40, 100], id="custom-steps"),
        pytest.param({"progressive": {"steps": [25, 60]}}, [0, 25, 60, 100], id="promotion-appended"),
        pytest.param({"progressive": {"stepWeight": 20, "maxWeight": 60}}, [0, 20, 40, 60, 100], id="step-weight"),
    ],
)
def test_rollout_walks_the_planned_weights(strategy, weights):
    driver = Driver(spec(strategy=strategy))
    seen = driver.run_until(Phase.SUCCEEDED)
    assert seen == weights
    assert driver.status.live_backend.name == "web-v2"
    assert driver.status.previous_backend.name == "web-v1"
    assert driver.status.condition("Promoted").status.value == "True"
    assert "Succeeded" in driver.events()
    results = [a for d in driver.history for a in d.actions if isinstance(a, actions.RecordRolloutResult)]
    assert [r.result for r in results] == ["succeeded"]


def test_users_other_rules_and_filters_survive_untouched():
    driver = Driver(spec())
    before = httproute()
    driver.run_until(Phase.SUCCEEDED)
    after = driver.world.route
    assert after["spec"]["rules"][1] == before["spec"]["rules"][1]
    assert after["spec"]["rules"][0]["filters"] == before["spec"]["rules"][0]["filters"]
    assert after["spec"]["rules"][0]["matches"] == before["spec"]["rules"][0]["matches"]
    assert {k: v for k, v in after["spec"].items() if k != "rules"} == {
        k: v for k, v in before["spec"].items() if k != "rules"}
    for ops in driver.world.writes:
        assert ops[0]["op"] == "test" and ops[0]["path"] == "/metadata/resourceVersion"
        assert all(op["path"].endswith("/weight") for op in ops[1:])


def test_each_step_dwells_one_interval_after_acceptance():
    driver = Driver(spec())
    driver.tick()  # rollout starts, 5% written
    assert driver.world.weights() == (95, 5)
    driver.tick()  # route accepted: dwell starts
    settled = driver.status.step_settled_at
    assert settled is not None
    driver.tick(5)  # half the interval: still 5%
    assert driver.world.weights() == (95, 5)
    assert "dwelling" in driver.status.message
    driver.tick(5)  # interval elapsed, no metrics: step done and next weight written at once
    assert driver.world.weights() == (90, 10)


def test_status_reports_step_and_weights():
    driver = Driver(spec())
    driver.tick()
    assert driver.status.phase == Phase.PROGRESSING
    assert driver.status.step_progress == "1/5"
    assert (driver.status.weights.stable, driver.status.weights.canary) == (95, 5)
    assert driver.status.canary_weight == 5
    assert driver.status.release == "v2"
    assert driver.status.observed_generation == 1


def test_no_release_initializes_to_stable_and_waits():
    driver = Driver(spec(release=None), World(route=httproute(50, 50)))
    driver.tick()
    assert driver.world.weights() == (100, 0)
    driver.tick()
    assert driver.status.phase == Phase.INITIALIZED
    driver.tick(60)
    assert driver.status.phase == Phase.INITIALIZED
    assert len(driver.world.writes) == 1


def test_changing_the_release_starts_a_rollout():
    driver = Driver(spec(release=None))
    driver.tick()
    driver.tick()
    assert driver.status.phase == Phase.INITIALIZED
    driver.canary = spec(release="v3")
    driver.tick()
    assert driver.status.phase == Phase.PROGRESSING
    assert driver.status.release == "v3"
    assert driver.world.weights() == (95, 5)


def test_new_release_mid_rollout_restarts_from_first_step():
    driver = Driver(spec())
    driver.run_until(Phase.PROGRESSING)
    for _ in range(6):
        driver.tick(10)
    assert driver.world.weights()[1] >= 20
    driver.canary = spec(release="v3")
    driver.tick()
    assert driver.world.weights() == (95, 5)
    assert "mid-rollout" in driver.status.message or "mid-rollout" in driver.status.decisions[-2].reason


def test_ping_pong_release_after_success_needs_swapped_roles():
    driver = Driver(spec())
    driver.run_until(Phase.SUCCEEDED)
    assert driver.world.weights() == (0, 100)
    # Same roles, new release: the canary is live, so nothing moves and the Canary is Stalled.
    driver.canary = spec(release="v3")
    driver.tick()
    assert driver.status.condition("Stalled").status.value == "True"
    assert driver.status.condition("Stalled").reason == driver.status.condition("Ready").reason == "CanaryIsLive"
    assert driver.world.weights() == (0, 100)
    # Swapped roles: web-v2 is now stable, web-v1 the canary of v3.
    driver.canary = spec(release="v3", stable={"name": "web-v2", "port": 80}, canary={"name": "web-v1", "port": 80})
    driver.tick()
    assert driver.status.phase == Phase.PROGRESSING
    refs = driver.world.route["spec"]["rules"][0]["backendRefs"]
    assert {r["name"]: r["weight"] for r in refs} == {"web-v2": 95, "web-v1": 5}


def test_a_new_release_during_finalising_waits_for_the_promotion_to_finish():
    driver = Driver(spec(strategy={"progressive": {"steps": [50]}}))
    driver.run_until(Phase.FINALISING)
    driver.canary = spec(strategy={"progressive": {"steps": [50]}}, release="v3")
    driver.tick()
    assert driver.status.phase == Phase.SUCCEEDED
    assert driver.status.release == "v2"
    # v2's success is not v3's: nothing may read this status as Ready for the spec that asks for v3.
    assert (driver.status.condition("Ready").status.value, driver.status.condition("Reconciling").reason) == (
        "False", "ReleasePending")
    driver.tick()
    assert (driver.status.condition("Stalled").status.value, driver.status.condition("Stalled").reason) == (
        "True", "CanaryIsLive")
    assert driver.world.weights() == (0, 100)
