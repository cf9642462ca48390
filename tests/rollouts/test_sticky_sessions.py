"""stickySessions: the shifted rules persist sessions while the Canary lives, and lose it on deletion."""

from __future__ import annotations

import copy
import json
import re

import pytest

from canary_builders import FAILURE, SUCCESS, Driver, httproute, spec
from rollouts import actions, model, routes, steps
from rollouts.model import Phase

STABLE = model.BackendRef(name="web-v1", port=80)
CANARY = model.BackendRef(name="web-v2", port=80)
METRICS = {"interval": "10s", "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}}]}


def _set(stable, canary, **kwargs):
    return actions.SetRouteWeights("default", "web", STABLE, CANARY, stable, canary, **kwargs)


def _two_shifted_rules():
    route = httproute()
    second = copy.deepcopy(route["spec"]["rules"][0])
    second["matches"] = [{"path": {"type": "PathPrefix", "value": "/api"}}]
    route["spec"]["rules"].append(second)
    return route


def _sessions(route):
    return [rule.get("sessionPersistence") for rule in route["spec"]["rules"]]


def _observe(route):
    return routes.observe(route, namespace="default", name="web", stable=STABLE, canary=CANARY, owner="web")


def test_each_shifted_rule_gets_its_own_cookie_session_and_others_none():
    route = _two_shifted_rules()
    sticky = routes.apply(route, routes.patch(route, _set(100, 0, sticky=True), owner="web"))
    assert _sessions(sticky) == [{"sessionName": "routeshift-web-0", "type": "Cookie"}, None,
                                 {"sessionName": "routeshift-web-1", "type": "Cookie"}]
    assert _observe(sticky).carries(steps.Traffic(canary=0, sticky=True))
    assert routes.patch(sticky, _set(100, 0, sticky=True), owner="web") == []


def test_removing_it_restores_the_route_byte_identical():
    route = _two_shifted_rules()
    sticky = routes.apply(route, routes.patch(route, _set(90, 10, sticky=True), owner="web"))
    ops = routes.patch(sticky, _set(100, 0), owner="web")
    assert [op for op in ops if op["op"] == "remove"] == [
        {"op": "remove", "path": "/spec/rules/0/sessionPersistence"},
        {"op": "remove", "path": "/spec/rules/2/sessionPersistence"}]
    assert json.dumps(routes.apply(sticky, ops)["spec"]) == json.dumps(route["spec"])


def test_a_users_own_session_persistence_is_kept_and_counts_as_sticky():
    route = httproute()
    own = {"sessionName": "cart", "type": "Header", "absoluteTimeout": "1h"}
    route["spec"]["rules"][0]["sessionPersistence"] = own
    assert routes.patch(route, _set(100, 0, sticky=True), owner="web") == []
    observed = _observe(route)
    assert (observed.sessions, observed.persistent) == (0, 1)
    assert observed.carries(steps.Traffic(canary=0, sticky=True)) and observed.carries(steps.Traffic(canary=0, sticky=False))
    assert routes.patch(route, _set(100, 0), owner="web") == []  # not ours: never removed


def test_another_canarys_session_is_not_taken_for_ours():
    route = httproute()
    route["spec"]["rules"][0]["sessionPersistence"] = {"sessionName": "routeshift-web-api-0", "type": "Cookie"}
    assert _observe(route).sessions == 0
    assert routes.patch(route, _set(100, 0), owner="web") == []


@pytest.mark.parametrize("owner", ["web", "a" * 253, "shop.example-web"])
def test_session_names_are_cookie_tokens_within_the_specs_limit(owner):
    name = routes.session_name(owner, 15)
    assert len(name) <= 128 and re.fullmatch(r"[A-Za-z0-9!#$%&'*+\-.^_`|~]+", name)


# --------------------------------------------------------------------------- through the state machine


def test_sessions_persist_from_the_first_write_through_a_promotion():
    driver = Driver(spec(stickySessions=True))
    driver.tick()
    assert _sessions(driver.world.route)[0] == {"sessionName": "routeshift-web-0", "type": "Cookie"}
    assert driver.world.weights() == (95, 5)  # the first step's write carries the session already
    assert driver.run_until(Phase.SUCCEEDED) == [5, 10, 20, 50, 100]
    assert _sessions(driver.world.route)[0] is not None
    assert _sessions(driver.world.route)[1] is None  # the unrelated rule


def test_a_rollback_sets_the_canary_weight_to_zero_and_keeps_the_sessions():
    driver = Driver(spec(stickySessions=True, analysis=METRICS))
    driver.tick()
    for _ in range(2):
        driver.tick()
        driver.tick(10, verdict=SUCCESS)
    assert driver.world.weights() == (80, 20)
    driver.tick()
    writes = len(driver.world.writes)
    driver.tick(10, verdict=FAILURE)
    assert (driver.status.phase, driver.world.weights()) == (Phase.ROLLING_BACK, (100, 0))
    assert len(driver.world.writes) == writes + 1, "the rollback is one write"
    assert _sessions(driver.world.route)[0] is not None, "the gateway re-picks sessions pinned to weight 0"
    driver.tick()
    assert driver.status.phase == Phase.FAILED


def test_deletion_removes_the_sessions_and_hands_back_the_route_as_it_was():
    original = httproute()
    driver = Driver(spec(stickySessions=True))
    for _ in range(3):
        driver.tick(10)
    assert driver.world.weights() != (100, 0) and _sessions(driver.world.route)[0] is not None
    driver.tick(deleting=True)
    driver.tick(deleting=True)
    assert driver.status.phase == Phase.TERMINATED
    assert json.dumps(driver.world.route["spec"]) == json.dumps(original["spec"])


def test_turning_sticky_sessions_off_removes_them_at_the_next_write():
    driver = Driver(spec(stickySessions=True))
    driver.tick()
    driver.canary = spec(stickySessions=False)
    driver.tick(10, generation=2)
    assert _sessions(driver.world.route)[0] is None
