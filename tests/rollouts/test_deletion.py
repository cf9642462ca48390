"""Deleting a Canary hands all traffic to the live backend before the finalizer goes."""

from __future__ import annotations

import pytest

from canary_builders import T0, Driver, httproute, spec
from rollouts import actions, machine, model
from rollouts.model import Phase
from rollouts.observations import Observations, RouteObservation
from rollouts.route_kinds import RouteId


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


# A spec edited into an invalid shape cannot say which routes to restore: status can.
INVALID = "stable and canary must be different Services"


@pytest.mark.parametrize(
    ("strategy", "ticks"),
    [
        pytest.param({}, 3, id="progressive-mid-rollout"),
        pytest.param({"abTesting": {"match": {"headers": [{"name": "x", "value": "1"}]}, "iterations": 50}}, 3,
                     id="ab-match-rule"),
        pytest.param({"progressive": {"mirror": {"iterations": 50}}}, 3, id="mirror-filter"),
    ],
)
def test_delete_with_an_unparseable_spec_restores_stable_from_what_status_recorded(strategy, ticks):
    driver = Driver(spec(strategy=strategy) if strategy else spec())
    for _ in range(ticks):
        driver.tick(10)
    assert driver.world.route != httproute(), "the rollout changed the route"
    assert driver.status.routing is not None
    driver.canary = model.recorded_spec(driver.status)
    decided = driver.tick(deleting=True, invalid_spec=INVALID)
    assert driver.status.phase == Phase.TERMINATING
    (terminating,) = [a for a in decided.actions if isinstance(a, actions.RecordEvent) and a.reason == "Terminating"]
    assert INVALID in terminating.message and "recorded in status" in terminating.message
    driver.tick(deleting=True, invalid_spec=INVALID)
    assert driver.status.phase == Phase.TERMINATED
    # Stable carries everything; the controller's own rules and mirror filter are gone, the user's stay.
    restored = httproute()
    assert driver.world.route["spec"] == restored["spec"]


def test_recorded_spec_names_the_routes_and_backends_of_the_last_valid_spec():
    canary = spec(routeRefs=[{"name": "web"}, {"name": "api", "namespace": "other"}],
                  canary={"name": "web-v2", "port": 8080, "namespace": "apps"})
    seen = (RouteObservation("default", "web", found=False), RouteObservation("other", "api", found=False))
    decided = machine.decide(canary, model.CanaryStatus(), Observations(1, seen), now=T0)
    recorded = model.recorded_spec(decided.status)
    assert recorded.routes("elsewhere") == (RouteId("default", "web"), RouteId("other", "api"))
    assert (recorded.stable, recorded.canary) == (canary.stable, canary.canary)
    assert model.recorded_spec(model.CanaryStatus()) is None


def test_delete_with_an_unparseable_spec_and_nothing_recorded_warns_that_traffic_was_not_restored():
    driver = _advanced(3)
    before = driver.world.weights()
    older = driver.status.model_copy(update={"routing": None})  # as written by a controller before routing
    assert model.recorded_spec(older) is None
    decided = machine.abandon(older, INVALID, owner="web", now=driver.now)
    assert decided.status.phase == Phase.TERMINATED
    assert not [a for a in decided.actions if isinstance(a, actions.SetRouteWeights)]
    (event,) = [a for a in decided.actions if isinstance(a, actions.RecordEvent)]
    assert (event.type, event.reason) == (actions.EventType.WARNING, "TrafficNotRestored")
    assert "NOT restored" in event.message and INVALID in event.message and "routeshift-web-" in event.message
    assert driver.world.weights() == before


def test_delete_with_an_unparseable_spec_before_any_traffic_moved_terminates_quietly():
    decided = machine.abandon(model.CanaryStatus(), INVALID, owner="web", now=T0)
    assert decided.status.phase == Phase.TERMINATED
    assert [(a.type, a.reason) for a in decided.actions] == [(actions.EventType.NORMAL, "Terminated")]


def test_delete_leaves_a_route_that_lost_its_backends_alone_and_says_so():
    driver = _advanced(3)
    driver.world.route["spec"]["rules"][0]["backendRefs"] = [{"name": "web-v1", "port": 80}]
    writes = len(driver.world.writes)
    decided = driver.tick(deleting=True)
    assert driver.status.phase == Phase.TERMINATED
    assert "left default/web alone" in driver.status.message
    assert [a.type for a in decided.actions if isinstance(a, actions.RecordEvent)][-1] == actions.EventType.WARNING
    assert len(driver.world.writes) == writes
