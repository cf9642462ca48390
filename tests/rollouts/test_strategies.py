"""Blue-green, A/B testing and mirroring end as specified, through the controller's own rules."""

from __future__ import annotations

import pytest

from canary_builders import SUCCESS, Driver, spec
from rollouts.model import Phase

PREVIEW = {"headers": [{"name": "x-canary", "value": "1"}], "cookies": [{"name": "beta", "value": "yes"}]}
AB = {"headers": [{"name": "x-user-group", "value": "beta"}], "queryParams": [{"name": "variant", "value": "b"}]}


def _owned(route):
    return [r for r in route["spec"]["rules"] if str(r.get("name", "")).startswith("routeshift-web-")]


@pytest.mark.parametrize(
    "strategy",
    [
        pytest.param({"blueGreen": {"preview": PREVIEW, "iterations": 2}}, id="blue-green"),
        pytest.param({"abTesting": {"match": AB, "iterations": 3}}, id="ab-testing"),
    ],
)
def test_match_strategies_analyse_then_swap_in_one_write(strategy):
    driver = Driver(spec(strategy=strategy))
    driver.tick()
    owned = _owned(driver.world.route)
    assert len(owned) == 1
    assert owned[0]["backendRefs"] == [{"name": "web-v2", "port": 80, "weight": 1}]
    assert owned[0]["matches"][0]["path"] == {"type": "PathPrefix", "value": "/"}
    assert driver.world.weights() == (100, 0)  # no live weight moves while matched traffic is analysed
    writes_before = len(driver.world.writes)
    seen = driver.run_until(Phase.SUCCEEDED)
    assert seen == [0, 100]
    assert _owned(driver.world.route) == []
    swap = driver.world.writes[writes_before]
    # The swap is one patch: both weights and the removal of the match rule together.
    assert {op["op"] for op in swap[1:]} == {"replace", "remove"}
    assert len(driver.world.writes) == writes_before + 1


def test_ab_match_translates_headers_cookies_and_query():
    driver = Driver(spec(strategy={"abTesting": {"match": {**AB, "cookies": [{"name": "grp", "value": "b.1"}]}}}))
    driver.tick()
    match = _owned(driver.world.route)[0]["matches"][0]
    assert {"name": "x-user-group", "type": "Exact", "value": "beta"} in match["headers"]
    cookie = next(h for h in match["headers"] if h["name"] == "Cookie")
    assert cookie["type"] == "RegularExpression" and r"grp=b\.1" in cookie["value"]
    assert match["queryParams"] == [{"name": "variant", "type": "Exact", "value": "b"}]


def test_match_stage_needs_the_configured_number_of_successful_intervals():
    analysed = spec(strategy={"abTesting": {"match": AB, "iterations": 3}},
                    analysis={"interval": "10s", "metrics": [{"name": "request-success-rate",
                                                              "thresholdRange": {"min": 99}}]})
    driver = Driver(analysed)
    driver.tick()
    driver.tick()  # accepted: dwell starts
    for n in (1, 2):
        driver.tick(10, verdict=SUCCESS)
        assert driver.status.iterations == n
        assert driver.world.weights() == (100, 0)
    driver.tick(10, verdict=SUCCESS)
    assert driver.world.weights() == (0, 100)


def test_mirroring_precedes_any_weight_and_is_removed_after():
    driver = Driver(spec(strategy={"progressive": {"mirror": {"iterations": 2}, "steps": [30, 100]}}))
    driver.tick()
    filters = driver.world.route["spec"]["rules"][0]["filters"]
    assert filters[-1] == {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "web-v2", "port": 80}}}
    assert driver.world.weights() == (100, 0)
    seen = driver.run_until(Phase.SUCCEEDED)
    assert seen == [0, 30, 100]
    assert [f["type"] for f in driver.world.route["spec"]["rules"][0]["filters"]] == ["RequestHeaderModifier"]


def test_mirror_filter_is_removed_in_the_same_write_as_the_first_weight():
    driver = Driver(spec(strategy={"progressive": {"mirror": {"iterations": 1}, "steps": [30]}}))
    driver.tick()
    driver.tick()
    driver.tick(10)
    last = driver.world.writes[-1]
    assert {op["path"] for op in last[1:]} == {
        "/spec/rules/0/backendRefs/0/weight", "/spec/rules/0/backendRefs/1/weight", "/spec/rules/0/filters/1"}
