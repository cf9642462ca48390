"""An invalid Canary is Stalled (and not Ready) with a reason and an Event, and no traffic moves."""

from __future__ import annotations

import pydantic
import pytest

from canary_builders import T0, Driver, World, httproute, spec
from rollouts import actions, machine, model
from rollouts.observations import Observations, RouteObservation


def _no_canary_route():
    route = httproute()
    route["spec"]["rules"][0]["backendRefs"] = [{"name": "web-v1", "port": 80}]
    return route


@pytest.mark.parametrize(
    ("observe", "reason"),
    [
        pytest.param(lambda d: Observations(1, (RouteObservation("default", "web", found=False),)), "RouteNotFound",
                     id="route-missing"),
        pytest.param(lambda d: World(route=_no_canary_route()).observations(d.canary), "BackendNotInRoute",
                     id="backend-not-in-route"),
        pytest.param(lambda d: d.world.observations(d.canary, missing_services=("default/web-v2",)),
                     "BackendNotFound", id="service-missing"),
    ],
)
def test_invalid_canary_moves_no_traffic(observe, reason):
    driver = Driver(spec())
    decided = machine.decide(driver.canary, driver.status, observe(driver), now=T0)
    stalled, ready = decided.status.condition("Stalled"), decided.status.condition("Ready")
    assert (stalled.status.value, stalled.reason) == ("True", reason)
    assert (ready.status.value, ready.reason) == ("False", reason)
    assert not [a for a in decided.actions if isinstance(a, actions.SetRouteWeights)]
    events = [a for a in decided.actions if isinstance(a, actions.RecordEvent)]
    assert [(e.type.value, e.reason) for e in events] == [("Warning", reason)]
    again = machine.decide(driver.canary, decided.status, observe(driver), now=T0)
    assert not [a for a in again.actions if isinstance(a, actions.RecordEvent)]  # no event storm


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        pytest.param({"steps": [10, 5]}, "strictly increasing", id="decreasing-steps"),
        pytest.param({"steps": [0, 50]}, "greater than or equal to 1", id="zero-step"),
        pytest.param({"steps": [10], "stepWeight": 5}, "not both", id="steps-and-step-weight"),
        pytest.param({"steps": [10, 50], "pauses": [{"atWeight": 20}]}, "not one of the steps", id="pause-off-plan"),
    ],
)
def test_bad_step_lists_are_refused(raw, words):
    with pytest.raises(pydantic.ValidationError, match=words):
        spec(strategy={"progressive": raw})


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        pytest.param({"routeRef": None}, "routeRef or routeRefs", id="no-route"),
        pytest.param({"canary": {"name": "web-v1", "port": 80}}, "different Services", id="same-backend"),
        pytest.param({"strategy": {"blueGreen": {"preview": {"headers": [{"name": "a", "value": "b"}]}},
                                   "abTesting": {"match": {"headers": [{"name": "a", "value": "b"}]}}}},
                     "only one of", id="two-strategies"),
        pytest.param({"strategy": {"abTesting": {"match": {}}}}, "at least one", id="empty-match"),
        pytest.param({"stable": {"name": "Web_V1", "port": 80}}, "pattern", id="bad-service-name"),
        pytest.param({"surprise": 1}, "Extra inputs", id="unknown-field"),
        pytest.param({"progressDeadlineSeconds": 10, "analysis": {"interval": "1m"}}, "must exceed the analysis",
                     id="deadline-shorter-than-interval"),
    ],
)
def test_bad_specs_are_refused(overrides, words):
    with pytest.raises(pydantic.ValidationError, match=words):
        spec(**overrides)


def test_unparseable_spec_is_rejected_without_touching_traffic():
    decided = machine.reject(model.CanaryStatus(), "steps must be strictly increasing", generation=4, now=T0)
    stalled = decided.status.condition("Stalled")
    assert (stalled.status.value, stalled.reason, stalled.observed_generation) == ("True", "InvalidSpec", 4)
    assert decided.status.condition("Ready").status.value == "False"
    assert decided.status.observed_generation == 4
    assert [a.reason for a in decided.actions] == ["InvalidSpec"]


def test_becoming_valid_again_clears_stalled_and_proceeds():
    driver = Driver(spec(), World(route=_no_canary_route()))
    driver.tick()
    assert driver.status.condition("Stalled").status.value == "True"
    driver.world.route = httproute()
    driver.tick()
    assert driver.status.condition("Stalled").status.value == "False"
    reconciling = driver.status.condition("Reconciling")
    assert (reconciling.status.value, reconciling.reason) == ("True", "Progressing")
    assert driver.status.condition("Ready").status.value == "False", "Ready once the release is promoted"
    assert "canary is valid" in [d.reason for d in driver.status.decisions]
    assert driver.world.weights() == (95, 5)
