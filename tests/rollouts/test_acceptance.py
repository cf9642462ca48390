"""A step's dwell starts only when the route's parents accept the new generation."""

from __future__ import annotations

import pytest

from canary_builders import Driver, World, httproute, spec
from rollouts import actions, routes
from rollouts.model import Phase
from rollouts.observations import Acceptance


def _route(parents):
    route = httproute()
    route["metadata"]["generation"] = 3
    route["status"] = {"parents": parents}
    return route


def _parent(status="True", generation=3, name="gw", reason="Accepted"):
    condition = {"type": "Accepted", "status": status, "reason": reason, "message": "m"}
    if generation is not None:
        condition["observedGeneration"] = generation
    return {"parentRef": {"name": name}, "conditions": [condition]}


@pytest.mark.parametrize(
    ("parents", "expected"),
    [
        pytest.param([_parent()], Acceptance.ACCEPTED, id="accepted"),
        pytest.param([_parent(), _parent(name="gw2")], Acceptance.ACCEPTED, id="two-parents"),
        pytest.param([_parent(generation=2)], Acceptance.PENDING, id="older-generation"),
        pytest.param([_parent(status="False", generation=2)], Acceptance.PENDING, id="old-rejection-is-pending"),
        pytest.param([_parent(status="False", reason="NotAllowedByListeners")], Acceptance.REJECTED, id="rejected"),
        pytest.param([_parent(), _parent(name="gw2", status="False")], Acceptance.REJECTED, id="one-of-two-rejects"),
        pytest.param([_parent(generation=None)], Acceptance.UNREPORTED, id="no-observed-generation"),
        pytest.param([], Acceptance.UNREPORTED, id="no-parents"),
        pytest.param([{"parentRef": {"name": "gw"}, "conditions": []}], Acceptance.UNREPORTED, id="no-condition"),
    ],
)
def test_route_acceptance(parents, expected):
    assert routes.acceptance(_route(parents))[0] == expected


def test_dwell_waits_for_the_new_generation():
    driver = Driver(spec(), World(gateway="lags"))
    driver.tick()
    driver.tick(30)
    assert driver.status.step_settled_at is None
    assert "has judged generation 1 of 2" in driver.status.message
    assert driver.status.condition("RouteAccepted").reason == "Pending"
    driver.world.route["status"]["parents"][0]["conditions"][0]["observedGeneration"] = 2
    driver.tick(1)
    assert driver.status.step_settled_at == driver.now
    assert driver.status.condition("RouteAccepted").status.value == "True"


def test_missing_observed_generation_falls_back_to_a_timeout_with_a_warning():
    driver = Driver(spec(acceptanceTimeoutSeconds=5), World(gateway="silent"))
    driver.tick()
    driver.tick(2)
    assert driver.status.step_settled_at is None
    assert "omits observedGeneration" in driver.status.message
    decided = driver.tick(3)
    assert driver.status.step_settled_at == driver.now
    condition = driver.status.condition("RouteAccepted")
    assert (condition.status.value, condition.reason) == ("Unknown", "ObservedGenerationMissing")
    assert any(isinstance(a, actions.RecordEvent) and a.reason == "AcceptanceUnverified" and a.type.value == "Warning"
               for a in decided.actions)
    assert driver.run_until(Phase.SUCCEEDED) == [5, 10, 20, 50, 100]


def test_a_rejected_route_holds_with_the_gateways_reason():
    driver = Driver(spec(), World(gateway="lags"))
    driver.tick()
    driver.world.route["status"] = {"parents": [_parent(status="False", generation=2, reason="NoMatchingParent")]}
    driver.tick(1)
    assert driver.world.weights() == (95, 5)
    assert "rejected the route: NoMatchingParent" in driver.status.message
    assert driver.status.condition("RouteAccepted").status.value == "False"
