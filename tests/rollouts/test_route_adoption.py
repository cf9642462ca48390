"""Handing the app's backendRefs to primary and canary, and back, leaves the rest of the route alone."""

from __future__ import annotations

import copy
import json

import pytest

from rollouts import actions, model, route_adoption, routes

PRIMARY = model.BackendRef(name="app-primary", port=80)
CANARY = model.BackendRef(name="app-canary", port=80)
ADOPT = actions.AdoptRoute(namespace="ns", name="r", app="app", primary=PRIMARY, canary=CANARY)


def route(*rules):
    return {"metadata": {"name": "r", "namespace": "ns", "resourceVersion": "7"},
            "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": list(refs)} for refs in rules]}}


def _round_trip(original):
    adopted = routes.apply(original, route_adoption.adopt_patch(original, ADOPT, namespace="ns"))
    found = route_adoption.app_refs(original, "app", namespace="ns")
    release = actions.ReleaseRoute(namespace="ns", name="r", primary=PRIMARY, canary=CANARY, original=found)
    return adopted, routes.apply(adopted, route_adoption.release_patch(adopted, release))


@pytest.mark.parametrize(
    "original",
    [
        pytest.param(route([{"name": "app", "port": 8080}]), id="one-ref"),
        pytest.param(route([{"name": "other", "port": 1, "weight": 3}, {"name": "app", "port": 8080, "weight": 7}]),
                     id="weighted-among-others"),
        pytest.param(route([{"name": "app", "port": 8080}], [{"name": "admin", "port": 9}],
                           [{"kind": "Service", "group": "", "name": "app", "port": 8080, "namespace": "ns"}]),
                     id="several-rules-explicit-fields"),
        pytest.param(route([{"name": "app", "port": 8080, "filters": [{"type": "RequestHeaderModifier"}]}]),
                     id="per-backend-filters"),
    ],
)
def test_adoption_and_release_round_trip_byte_identical(original):
    adopted, restored = _round_trip(copy.deepcopy(original))
    assert json.dumps(restored["spec"]) == json.dumps(original["spec"])
    assert route_adoption.adopted(adopted, PRIMARY, CANARY)
    assert route_adoption.app_refs(adopted, "app", namespace="ns") == ()


def test_the_primary_inherits_the_weight_and_the_canary_starts_at_zero():
    adopted, _ = _round_trip(route([{"name": "other", "port": 1, "weight": 3}, {"name": "app", "port": 8080, "weight": 7}]))
    assert adopted["spec"]["rules"][0]["backendRefs"] == [
        {"name": "other", "port": 1, "weight": 3},
        {"name": "app-primary", "port": 80, "weight": 7},
        {"name": "app-canary", "port": 80, "weight": 0},
    ]


def test_refs_to_other_namespaces_or_kinds_are_not_the_app():
    original = route([{"name": "app", "port": 80, "namespace": "elsewhere"}, {"name": "app", "kind": "ServiceImport",
                                                                           "group": "multicluster.x-k8s.io"}])
    assert route_adoption.adopt_patch(original, ADOPT, namespace="ns") == []


def test_patches_are_guarded_by_the_resource_version_and_empty_when_done():
    original = route([{"name": "app", "port": 8080}])
    ops = route_adoption.adopt_patch(original, ADOPT, namespace="ns")
    assert ops[0] == {"op": "test", "path": "/metadata/resourceVersion", "value": "7"}
    adopted = routes.apply(original, ops)
    assert route_adoption.adopt_patch(adopted, ADOPT, namespace="ns") == []
    release = actions.ReleaseRoute(namespace="ns", name="r", primary=PRIMARY, canary=CANARY,
                                   original=route_adoption.app_refs(original, "app", namespace="ns"))
    restored = routes.apply(adopted, route_adoption.release_patch(adopted, release))
    assert route_adoption.release_patch(restored, release) == []
