"""Properties over random inputs: route patches touch only what they may; weights only go up."""

from __future__ import annotations

import copy

from hypothesis import given, settings, strategies as st

from canary_builders import ERROR, FAILURE, INCONCLUSIVE, SUCCESS, Driver, httproute, spec
from rollouts import actions, model, routes, steps
from rollouts.model import Phase

STABLE = model.BackendRef(name="web-v1", port=80)
CANARY = model.BackendRef(name="web-v2", port=80)
MATCH = model.RequestMatch(headers=[model.HeaderMatch(name="x-canary", value="1")])

weights = st.integers(min_value=0, max_value=100)


@st.composite
def user_routes(draw):
    """The test route plus random unrelated rules and random extra refs in the shifted rule."""
    route = httproute(draw(weights), draw(weights))
    for n in range(draw(st.integers(0, 3))):
        route["spec"]["rules"].insert(draw(st.integers(0, len(route["spec"]["rules"]))), {
            "matches": [{"path": {"type": "Exact", "value": f"/other/{n}"}}],
            "backendRefs": [{"name": draw(st.sampled_from(["web-v1", "other", "web-v2"])), "port": 80,
                             "weight": draw(weights)}]})
    if draw(st.booleans()):
        route["spec"]["rules"][0]["backendRefs"].append({"name": "shadow", "port": 81, "weight": draw(weights)})
    return route


def _strip_owned(route):
    """The route minus everything the controller may change: its weights and its own additions."""
    clean = copy.deepcopy(route)
    clean["metadata"].pop("resourceVersion", None)
    rules = [r for r in clean["spec"]["rules"] if not str(r.get("name", "")).startswith("routeshift-web-")]
    for rule in rules:
        names = {ref["name"] for ref in rule.get("backendRefs", [])}
        if {"web-v1", "web-v2"} <= names:
            for ref in rule["backendRefs"]:
                if ref["name"] in ("web-v1", "web-v2"):
                    ref.pop("weight", None)
            rule["filters"] = [f for f in rule.get("filters", []) if f.get("type") != "RequestMirror"]
    clean["spec"]["rules"] = rules
    return clean


@settings(max_examples=150, deadline=None)
@given(route=user_routes(), stable=weights, canary=weights, match=st.booleans(), mirror=st.booleans())
def test_patches_change_only_shifted_weights_and_owned_additions(route, stable, canary, match, mirror):
    action = actions.SetRouteWeights("default", "web", STABLE, CANARY, stable, canary,
                                     match=MATCH if match else None, mirror=mirror)
    after = routes.apply(route, routes.patch(route, action, owner="web"))
    assert _strip_owned(after) == _strip_owned(route)
    observed = routes.observe(after, namespace="default", name="web", stable=STABLE, canary=CANARY, owner="web")
    wanted = steps.Traffic(canary=canary, match=MATCH if match else None, mirror=mirror)
    if stable + canary == 100:
        assert observed.carries(wanted)
    assert routes.patch(after, action, owner="web") == []  # idempotent


@settings(max_examples=60, deadline=None)
@given(verdicts=st.lists(st.sampled_from([SUCCESS, INCONCLUSIVE, ERROR]), min_size=1, max_size=40),
       restarts=st.sets(st.integers(0, 39)))
def test_without_a_failure_weights_never_go_down(verdicts, restarts):
    canary = spec(analysis={"interval": "10s", "metrics": [
        {"name": "request-success-rate", "thresholdRange": {"min": 99}}]}, progressDeadlineSeconds=10_000)
    driver = Driver(canary)
    seen = [0]
    for n, verdict in enumerate(verdicts):
        if n in restarts:
            driver.status = model.parse_status(copy.deepcopy(model.dump_status(driver.status)))
        driver.tick(10, verdict=verdict)
        seen.append(driver.world.weights()[1])
    assert seen == sorted(seen)
    assert driver.status.phase != Phase.FAILED


@settings(max_examples=40, deadline=None)
@given(before=st.integers(0, 12))
def test_a_failure_at_any_point_ends_with_all_traffic_on_stable(before):
    canary = spec(analysis={"interval": "10s", "metrics": [
        {"name": "request-success-rate", "thresholdRange": {"min": 99}}]})
    driver = Driver(canary)
    for _ in range(before):
        driver.tick(10, verdict=SUCCESS)
    if driver.world.weights()[1] == 100:
        return  # the promotion is not analysed: nothing left to fail

    for _ in range(4):
        driver.tick(10, verdict=FAILURE)
    assert driver.world.weights() == (100, 0)
    assert driver.status.phase == Phase.FAILED
