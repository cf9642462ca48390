"""Blue-green, A/B testing and mirroring run end to end under the real operator."""

from __future__ import annotations

import copy

import pytest

from operator_harness import CANARIES, ROUTES, ScriptedAnalysis, canary, phase
from routeshift.testing.polling import until

MATCH = {"headers": [{"name": "x-canary", "value": "yes"}]}


@pytest.mark.parametrize(
    ("strategy", "during"),
    [
        pytest.param({"blueGreen": {"preview": MATCH, "iterations": 2}}, (3, 1), id="blue-green"),
        pytest.param({"abTesting": {"match": {"queryParams": [{"name": "v", "value": "2"}]}, "iterations": 2}},
                     (3, 1), id="ab-testing"),
        pytest.param({"progressive": {"mirror": {"iterations": 2}, "steps": [50]}}, (2, 2), id="mirror"),
    ],
)
def test_strategy_ends_promoted_with_the_route_as_the_user_wrote_it(cluster, gateway, start, strategy, during):
    before = copy.deepcopy(cluster.get(ROUTES, "default", "web")["spec"])
    start(ScriptedAnalysis(gateway=gateway))
    cluster.create(CANARIES, canary(strategy=strategy), "default")
    until(lambda: phase(cluster) == "Succeeded", timeout=20, description="promoted")
    assert during in gateway.shapes  # the controller's own rule or mirror filter was live
    assert gateway.seen[0] == (100, 0) and gateway.seen[-1] == (0, 100)
    after = cluster.get(ROUTES, "default", "web")["spec"]
    for rule in after["rules"][0]["backendRefs"]:
        rule.pop("weight")
    for rule in before["rules"][0]["backendRefs"]:
        rule.pop("weight")
    assert after == before


def test_a_failing_match_stage_rolls_back_and_removes_the_match_rule(cluster, gateway, start):
    start(ScriptedAnalysis(fail_at=0, gateway=gateway))
    cluster.create(CANARIES, canary(strategy={"abTesting": {"match": MATCH, "iterations": 3}}), "default")
    until(lambda: phase(cluster) == "Failed", timeout=20, description="rolled back")
    assert gateway.seen == [(100, 0)]
    assert len(cluster.get(ROUTES, "default", "web")["spec"]["rules"]) == 2
