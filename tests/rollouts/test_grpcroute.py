"""A Canary on a GRPCRoute steps its weights as on an HTTPRoute, and refuses what a GRPCRoute cannot match."""

from __future__ import annotations

import copy
import dataclasses
import json

import pydantic
import pytest

from canary_builders import FAILURE, SUCCESS, T0, Driver, World, spec
from rollouts import actions, machine, model, reconciler, route_adoption, routes
from rollouts.model import Phase
from rollouts.observations import Observations
from rollouts.route_kinds import RouteId, RouteKind

STABLE = model.BackendRef(name="web-v1", port=80)
CANARY = model.BackendRef(name="web-v2", port=80)
GRPC = {"name": "web", "kind": "GRPCRoute"}
HEADER = {"headers": [{"name": "x-canary", "value": "1"}]}


def grpcroute(stable_weight: int = 100, canary_weight: int = 0) -> dict:
    """A user's GRPCRoute: one shifted rule matching a service, plus a rule for another service."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GRPCRoute",
        "metadata": {"name": "web", "namespace": "default", "generation": 1, "resourceVersion": "100"},
        "spec": {
            "parentRefs": [{"name": "gw"}],
            "rules": [
                {
                    "matches": [{"method": {"type": "Exact", "service": "shop.Cart"},
                                 "headers": [{"name": "x-tenant", "value": "eu"}]}],
                    "filters": [{"type": "RequestHeaderModifier",
                                 "requestHeaderModifier": {"add": [{"name": "x-team", "value": "web"}]}}],
                    "backendRefs": [
                        {"name": "web-v1", "port": 80, "weight": stable_weight},
                        {"name": "web-v2", "port": 80, "weight": canary_weight},
                    ],
                },
                {
                    "matches": [{"method": {"service": "shop.Admin"}}],
                    "backendRefs": [{"name": "admin", "port": 8080}],
                },
            ],
        },
        "status": {"parents": [{"parentRef": {"name": "gw"}, "conditions": [
            {"type": "Accepted", "status": "True", "reason": "Accepted", "observedGeneration": 1}]}]},
    }


@dataclasses.dataclass
class GrpcWorld(World):
    """The state machine's world with a GRPCRoute in place of the HTTPRoute."""

    route: dict = dataclasses.field(default_factory=grpcroute)

    def observations(self, canary, **kwargs) -> Observations:
        observed = routes.observe(self.route, namespace="default", name="web", stable=canary.stable,
                                  canary=canary.canary, owner="web", kind=RouteKind.GRPC_ROUTE)
        return Observations(generation=kwargs.pop("generation", 1), routes=(observed,), **kwargs)


def _set(stable, canary, **kwargs):
    return actions.SetRouteWeights("default", "web", STABLE, CANARY, stable, canary, kind=RouteKind.GRPC_ROUTE,
                                   **kwargs)


# --------------------------------------------------------------------------- the spec


def test_route_kind_defaults_to_httproute_and_names_the_route():
    assert spec().routes("default") == (RouteId("default", "web", RouteKind.HTTP_ROUTE),)
    both = spec(routeRef=None, routeRefs=[{"name": "web"}, GRPC])
    assert both.routes("default") == (RouteId("default", "web"), RouteId("default", "web", RouteKind.GRPC_ROUTE))


@pytest.mark.parametrize(
    ("strategy", "refused"),
    [
        pytest.param({"abTesting": {"match": {**HEADER, "queryParams": [{"name": "v", "value": "b"}]}}},
                     True, id="ab-query-params"),
        pytest.param({"blueGreen": {"preview": {"queryParams": [{"name": "v", "value": "b"}]}}},
                     True, id="preview-query-params"),
        pytest.param({"abTesting": {"match": {**HEADER, "cookies": [{"name": "beta", "value": "yes"}]}}},
                     False, id="headers-and-cookies"),
        pytest.param({"progressive": {"mirror": {}}}, False, id="mirroring"),
    ],
)
def test_what_a_grpcroute_match_cannot_say_is_refused_when_the_spec_is_parsed(strategy, refused):
    make = lambda: spec(routeRef=GRPC, strategy=strategy)  # noqa: E731
    if not refused:
        assert make().routes("default")[0].kind is RouteKind.GRPC_ROUTE
        return
    with pytest.raises(pydantic.ValidationError, match="GRPCRoute web: a GRPCRoute match has no query parameters"):
        make()
    # The same strategy on an HTTPRoute is fine.
    assert spec(strategy=strategy).strategy is not None


def test_a_grpcroute_among_several_routes_refuses_query_params_for_all():
    with pytest.raises(pydantic.ValidationError, match="GRPCRoute api"):
        spec(routeRef=None, routeRefs=[{"name": "web"}, {"name": "api", "kind": "GRPCRoute"}],
             strategy={"abTesting": {"match": {"queryParams": [{"name": "v", "value": "b"}]}}})


def test_the_canary_depends_on_the_grpcroute_cache():
    keys = reconciler.dependencies(spec(routeRef=GRPC), "default")
    assert ("grpcroutes", "default", "web") in keys and ("httproutes", "default", "web") not in keys


# --------------------------------------------------------------------------- route patches


def test_weights_change_and_nothing_else_of_the_grpcroute():
    route = grpcroute()
    ops = routes.patch(route, _set(90, 10), owner="web")
    assert ops == [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "100"},
        {"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 90},
        {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": 10},
    ]
    after = routes.apply(route, ops)
    observed = routes.observe(after, namespace="default", name="web", stable=STABLE, canary=CANARY, owner="web",
                              kind=RouteKind.GRPC_ROUTE)
    assert (observed.rules, observed.kind, observed.route.label) == (((90, 10),), RouteKind.GRPC_ROUTE,
                                                                    "GRPCRoute default/web")
    assert after["spec"]["rules"][1] == route["spec"]["rules"][1]


def test_the_match_rule_is_a_valid_grpcroute_rule_and_leaves_no_trace_when_removed():
    route = grpcroute()
    match = model.RequestMatch(headers=[model.HeaderMatch(name="x-canary", value="1")],
                               cookies=[model.CookieMatch(name="beta", value="yes")])
    matched = routes.apply(route, routes.patch(route, _set(100, 0, match=match), owner="web"))
    owned = matched["spec"]["rules"][-1]
    assert owned["name"] == "routeshift-web-0"
    assert owned["backendRefs"] == [{"name": "web-v2", "port": 80, "weight": 1}]
    (condition,) = owned["matches"]
    # GRPCRouteMatch: the user's method and headers kept, the Canary's headers added, nothing else.
    assert set(condition) == {"method", "headers"}
    assert condition["method"] == {"type": "Exact", "service": "shop.Cart"}
    assert [h["name"] for h in condition["headers"]] == ["x-tenant", "x-canary", "Cookie"]
    assert all(h.get("type", "Exact") in ("Exact", "RegularExpression") for h in condition["headers"])
    assert "timeouts" not in owned  # a GRPCRoute rule has no timeouts field
    restored = routes.apply(matched, routes.patch(matched, _set(100, 0), owner="web"))
    assert json.dumps(restored["spec"]) == json.dumps(route["spec"])


def test_the_mirror_filter_is_a_grpcroute_request_mirror_and_is_removed_again():
    route = grpcroute()
    mirrored = routes.apply(route, routes.patch(route, _set(100, 0, mirror=True), owner="web"))
    assert mirrored["spec"]["rules"][0]["filters"][-1] == {
        "type": "RequestMirror", "requestMirror": {"backendRef": {"name": "web-v2", "port": 80}}}
    restored = routes.apply(mirrored, routes.patch(mirrored, _set(100, 0), owner="web"))
    assert json.dumps(restored["spec"]) == json.dumps(route["spec"])


def test_workload_adoption_of_a_grpcroute_round_trips_byte_identical():
    original = grpcroute()
    for ref in original["spec"]["rules"][0]["backendRefs"]:
        ref["name"] = "app"
    original["spec"]["rules"][0]["backendRefs"].pop()
    primary, canary = model.BackendRef(name="app-primary", port=80), model.BackendRef(name="app-canary", port=80)
    adopt = actions.AdoptRoute("default", "web", "app", primary, canary, kind=RouteKind.GRPC_ROUTE)
    adopted = routes.apply(original, route_adoption.adopt_patch(original, adopt, namespace="default"))
    assert [r["name"] for r in adopted["spec"]["rules"][0]["backendRefs"]] == ["app-primary", "app-canary"]
    release = actions.ReleaseRoute("default", "web", primary, canary, kind=RouteKind.GRPC_ROUTE,
                                   original=route_adoption.app_refs(original, "app", namespace="default"))
    restored = routes.apply(adopted, route_adoption.release_patch(adopted, release))
    assert json.dumps(restored["spec"]) == json.dumps(original["spec"])


# --------------------------------------------------------------------------- the state machine


def test_a_progressive_rollout_on_a_grpcroute_succeeds_with_the_planned_weights():
    driver = Driver(spec(routeRef=GRPC), world=GrpcWorld())
    before = copy.deepcopy(driver.world.route)
    assert driver.run_until(Phase.SUCCEEDED) == [0, 5, 10, 20, 50, 100]
    writes = [a for d in driver.history for a in d.actions if isinstance(a, actions.SetRouteWeights)]
    assert writes and {a.kind for a in writes} == {RouteKind.GRPC_ROUTE}
    assert driver.world.route["spec"]["rules"][1] == before["spec"]["rules"][1]
    assert driver.status.routing.routes == [model.RouteRef(name="web", namespace="default", kind="GRPCRoute")]
    assert driver.status.condition("RouteAccepted").status.value == "True"


def test_a_failed_analysis_on_a_grpcroute_rolls_back_in_one_write():
    metrics = {"interval": "10s", "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}}]}
    driver = Driver(spec(routeRef=GRPC, analysis=metrics), world=GrpcWorld())
    driver.tick()
    for _ in range(2):
        driver.tick()
        driver.tick(10, verdict=SUCCESS)
    assert driver.world.weights() == (80, 20)
    driver.tick()
    writes = len(driver.world.writes)
    driver.tick(10, verdict=FAILURE)
    assert (driver.status.phase, driver.world.weights()) == (Phase.ROLLING_BACK, (100, 0))
    assert len(driver.world.writes) == writes + 1
    driver.tick()
    assert driver.status.phase == Phase.FAILED


def test_a_missing_grpcroute_is_named_by_its_kind():
    missing = routes.observe(None, namespace="default", name="web", stable=STABLE, canary=CANARY, owner="web",
                             kind=RouteKind.GRPC_ROUTE)
    decided = machine.decide(spec(routeRef=GRPC), model.CanaryStatus(), Observations(1, (missing,)), now=T0)
    ready = decided.status.condition("Ready")
    assert (ready.reason, ready.message) == ("RouteNotFound", "GRPCRoute default/web not found")
