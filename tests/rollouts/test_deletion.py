"""Deleting a Canary hands all traffic to the live backend before the finalizer goes."""

from __future__ import annotations

import pytest

from canary_builders import Driver, spec
from rollouts.model import Phase


def _advanced(ticks: int) -> Driver:
    driver = Driver(spec())
    for _ in range(ticks):
        driver.tick(10)
    return driver


@pytest.mark.parametrize(
    ("ticks", "restored"),
    [
        pytest.param(3, (100, 0), id="mid-rollout-back-to-stable"),
        pytest.param(30, (0, 100), id="after-success-canary-stays-live"),
    ],
)
def test_delete_restores_live_backend(ticks, restored):
    driver = _advanced(ticks)
    driver.tick(deleting=True)
    assert driver.world.weights() == restored
    driver.tick(deleting=True)
    assert driver.status.phase == Phase.TERMINATED


def test_delete_removes_the_controllers_own_rules():
    driver = Driver(spec(strategy={"abTesting": {"match": {"headers": [{"name": "x", "value": "1"}]}}}))
    driver.tick()
    assert len(driver.world.route["spec"]["rules"]) == 3
    driver.tick(deleting=True)
    assert len(driver.world.route["spec"]["rules"]) == 2
    driver.tick(deleting=True)
    assert driver.status.phase == Phase.TERMINATED


def test_delete_before_any_traffic_moved_terminates_at_once():
    driver = Driver(spec(release=None))
    driver.tick(deleting=True)
    assert driver.status.phase == Phase.TERMINATED
    assert driver.world.writes == []
