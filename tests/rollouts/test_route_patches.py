"""Route patches touch only the stable/canary weights and the controller's own rules."""

from __future__ import annotations

import copy

import pytest

from canary_builders import httproute
from rollouts import actions, model, routes

STABLE = model.BackendRef(name="web-v1", port=80)
CANARY = model.BackendRef(name="web-v2", port=80)


def _set(stable, canary, **kwargs):
    return actions.SetRouteWeights("default", "web", STABLE, CANARY, stable, canary, **kwargs)


def test_patch_changes_only_weights_after_a_resource_version_test():
    route = httproute()
    ops = routes.patch(route, _set(70, 30), owner="web")
    assert ops == [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "100"},
        {"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 70},
        {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": 30},
    ]
    after = routes.apply(route, ops)
    expected = copy.deepcopy(route)
    expected["spec"]["rules"][0]["backendRefs"][0]["weight"] = 70
    expected["spec"]["rules"][0]["backendRefs"][1]["weight"] = 30
    assert after == expected


def test_no_patch_when_the_route_already_carries_the_weights():
    assert routes.patch(httproute(100, 0), _set(100, 0), owner="web") == []


def test_missing_weights_are_added_and_default_to_one():
    route = httproute()
    for ref in route["spec"]["rules"][0]["backendRefs"]:
        del ref["weight"]
    assert routes.observe(route, namespace="default", name="web", stable=STABLE, canary=CANARY,
                          owner="web").rules == ((1, 1),)
    ops = routes.patch(route, _set(90, 10), owner="web")
    assert [op["op"] for op in ops] == ["test", "add", "add"]


def test_every_rule_referencing_both_moves_and_others_do_not():
    route = httproute()
    second = copy.deepcopy(route["spec"]["rules"][0])
    second["matches"] = [{"path": {"type": "Exact", "value": "/api"}}]
    route["spec"]["rules"].append(second)
    route["spec"]["rules"].append({"backendRefs": [{"name": "web-v1", "port": 80, "weight": 7}]})
    after = routes.apply(route, routes.patch(route, _set(80, 20), owner="web"))
    observed = routes.observe(after, namespace="default", name="web", stable=STABLE, canary=CANARY, owner="web")
    assert observed.rules == ((80, 20), (80, 20))
    assert after["spec"]["rules"][3] == {"backendRefs": [{"name": "web-v1", "port": 80, "weight": 7}]}
    assert after["spec"]["rules"][1] == route["spec"]["rules"][1]


@pytest.mark.parametrize(
    ("ref", "matches"),
    [
        pytest.param({"name": "web-v2", "port": 80}, True, id="same-namespace-implicit"),
        pytest.param({"name": "web-v2", "namespace": "default", "port": 80}, True, id="same-namespace-explicit"),
        pytest.param({"name": "web-v2", "namespace": "other", "port": 80}, False, id="other-namespace"),
        pytest.param({"name": "web-v2", "kind": "ServiceImport", "port": 80}, False, id="other-kind"),
    ],
)
def test_backend_refs_are_matched_by_kind_namespace_and_name(ref, matches):
    route = httproute()
    route["spec"]["rules"][0]["backendRefs"][1] = {**ref, "weight": 0}
    observed = routes.observe(route, namespace="default", name="web", stable=STABLE, canary=CANARY, owner="web")
    assert bool(observed.rules) == matches


def test_match_rule_is_added_then_removed_leaving_the_route_as_it_was():
    route = httproute()
    match = model.RequestMatch(headers=[model.HeaderMatch(name="x-canary", value="1")])
    with_rule = routes.apply(route, routes.patch(route, _set(100, 0, match=match), owner="web"))
    assert len(with_rule["spec"]["rules"]) == 3
    assert routes.patch(with_rule, _set(100, 0, match=match), owner="web") == []
    back = routes.apply(with_rule, routes.patch(with_rule, _set(100, 0), owner="web"))
    assert back == route


def test_mirror_filter_is_added_then_removed_leaving_the_route_as_it_was():
    route = httproute()
    route["spec"]["rules"][0].pop("filters")
    mirrored = routes.apply(route, routes.patch(route, _set(100, 0, mirror=True), owner="web"))
    assert mirrored["spec"]["rules"][0]["filters"][0]["type"] == "RequestMirror"
    observed = routes.observe(mirrored, namespace="default", name="web", stable=STABLE, canary=CANARY, owner="web")
    assert observed.mirrors == 1
    back = routes.apply(mirrored, routes.patch(mirrored, _set(100, 0), owner="web"))
    assert back["spec"]["rules"][0]["filters"] == []
    assert {k: v for k, v in back["spec"]["rules"][0].items() if k != "filters"} == route["spec"]["rules"][0]


def test_a_stale_resource_version_fails_the_test_operation():
    route = httproute()
    ops = routes.patch(route, _set(50, 50), owner="web")
    route["metadata"]["resourceVersion"] = "101"
    with pytest.raises(ValueError, match="test failed"):
        routes.apply(route, ops)


def test_owned_rule_names_are_dns_labels_even_for_long_canary_names():
    prefix = routes.owned_rule_prefix("x" * 80)
    assert len(prefix) + 2 <= 63 and prefix.endswith("-")
