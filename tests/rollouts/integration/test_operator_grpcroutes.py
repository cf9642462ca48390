"""The real kopf operator steps a GRPCRoute's weights on the emulated API server, as for an HTTPRoute.

A Canary whose ``routeRef.kind`` is GRPCRoute is promoted through the planned weights, each
step counted only once the route's parents accept its generation; a failing analysis rolls
it back in one write; with ``stickySessions`` the shifted rule carries a cookie session
while the Canary lives and the GRPCRoute comes back byte-identical when it is deleted.
"""

from __future__ import annotations

import copy
import json

import pytest

from operator_harness import CANARIES, ROUTES, ScriptedAnalysis, canary, phase
from routeshift.testing.controller import GRPCROUTES, AcceptingGateway
from routeshift.testing.polling import until


def grpcroute() -> dict:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "parentRefs": [{"name": "gw"}],
            "rules": [
                {"matches": [{"method": {"type": "Exact", "service": "shop.Cart"}}],
                 "filters": [{"type": "RequestHeaderModifier",
                              "requestHeaderModifier": {"set": [{"name": "x-env", "value": "prod"}]}}],
                 "backendRefs": [{"name": "web-v1", "port": 80, "weight": 100},
                                 {"name": "web-v2", "port": 80, "weight": 0}]},
                {"matches": [{"method": {"service": "shop.Admin"}}], "backendRefs": [{"name": "admin", "port": 80}]},
            ],
        },
    }


@pytest.fixture
def grpc_gateway(cluster):
    # The HTTPRoute named web stays in place (conftest): the GRPCRoute of the same name must be the one moved.
    cluster.create(GRPCROUTES, grpcroute(), "default")
    with AcceptingGateway(cluster, "default", "web", stable="web-v1", canary="web-v2", resource=GRPCROUTES) as double:
        yield double


def grpc_canary(**spec) -> dict:
    return canary(routeRef={"name": "web", "kind": "GRPCRoute"}, **spec)


def test_a_grpcroute_canary_is_promoted_step_by_step(cluster, grpc_gateway, start):
    http_before = copy.deepcopy(cluster.get(ROUTES, "default", "web"))
    before = copy.deepcopy(cluster.get(GRPCROUTES, "default", "web")["spec"])
    start(ScriptedAnalysis(gateway=grpc_gateway))
    cluster.create(CANARIES, grpc_canary(strategy={"progressive": {"steps": [10, 50]}}), "default")
    until(lambda: phase(cluster) == "Succeeded", timeout=20, description="GRPCRoute rollout succeeded")
    assert grpc_gateway.seen == [(100, 0), (90, 10), (50, 50), (0, 100)]
    after = cluster.get(GRPCROUTES, "default", "web")["spec"]
    assert after["rules"][1] == before["rules"][1] and after["rules"][0]["filters"] == before["rules"][0]["filters"]
    assert cluster.get(ROUTES, "default", "web")["spec"] == http_before["spec"], "the HTTPRoute was not touched"
    status = cluster.get(CANARIES, "default", "web")["status"]
    accepted = next(c for c in status["conditions"] if c["type"] == "RouteAccepted")
    assert accepted["status"] == "True"
    assert status["routing"]["routes"] == [{"name": "web", "namespace": "default", "kind": "GRPCRoute"}]


def test_a_sticky_grpcroute_canary_rolls_back_in_one_write_and_is_handed_back_as_it_was(cluster, grpc_gateway,
                                                                                          start):
    original = copy.deepcopy(cluster.get(GRPCROUTES, "default", "web")["spec"])
    start(ScriptedAnalysis(fail_at=50, gateway=grpc_gateway))
    cluster.create(CANARIES, grpc_canary(stickySessions=True, strategy={"progressive": {"steps": [10, 50]}}),
                   "default")
    until(lambda: phase(cluster) == "Failed", timeout=20, description="GRPCRoute rolled back")
    assert grpc_gateway.seen == [(100, 0), (90, 10), (50, 50), (100, 0)]
    patches = [r for r in cluster.requests() if r[0] == "PATCH" and "/grpcroutes/web" in r[1]
               and "/status" not in r[1] and r[2] < 300]
    assert len(patches) == 3  # 10 (with the session), 50, then the rollback: one write
    rule = cluster.get(GRPCROUTES, "default", "web")["spec"]["rules"][0]
    assert rule["sessionPersistence"] == {"sessionName": "routeshift-web-0", "type": "Cookie"}
    cluster.delete(CANARIES, "default", "web")
    until(lambda: cluster.get(CANARIES, "default", "web") is None, timeout=20, description="canary gone")
    assert json.dumps(cluster.get(GRPCROUTES, "default", "web")["spec"]) == json.dumps(original)


def test_workload_form_adopts_a_grpcroute_and_hands_it_back_byte_identical(k8s_api, start):
    from test_workload_rollouts import DEPLOYMENTS, app_deployment, available, initialized, workload_canary

    from rollouts import crd

    for definition in crd.all_crds().values():
        k8s_api.create("apiextensions.k8s.io/v1/customresourcedefinitions", definition)
    k8s_api.create(DEPLOYMENTS, app_deployment(), "default")
    k8s_api.create("v1/services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "podinfo"},
                                   "spec": {"selector": {"app": "podinfo"},
                                            "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}},
                   "default")
    route = grpcroute()
    route["metadata"]["name"] = "podinfo"
    route["spec"]["rules"][0]["backendRefs"] = [{"name": "podinfo", "port": 80}]
    k8s_api.create(GRPCROUTES, route, "default")
    original = copy.deepcopy(k8s_api.get(GRPCROUTES, "default", "podinfo")["spec"])
    until(lambda: available(k8s_api, "podinfo") == 1, timeout=30, description="the user's app runs")
    with AcceptingGateway(k8s_api, "default", "podinfo", stable="podinfo-primary", canary="podinfo-canary",
                          resource=GRPCROUTES) as gateway:
        start(ScriptedAnalysis(gateway=gateway))
        k8s_api.create(CANARIES, workload_canary(routeRef={"name": "podinfo", "kind": "GRPCRoute"}), "default")
        initialized(k8s_api)
        assert k8s_api.get(GRPCROUTES, "default", "podinfo")["spec"]["rules"][0]["backendRefs"] == [
            {"name": "podinfo-primary", "port": 80, "weight": 100}, {"name": "podinfo-canary", "port": 80, "weight": 0}]
        adopted = k8s_api.get(CANARIES, "default", "podinfo")["status"]["workload"]["adoptedRoutes"]
        assert [(a["name"], a["kind"]) for a in adopted] == [("podinfo", "GRPCRoute")]
        k8s_api.delete(CANARIES, "default", "podinfo")
        until(lambda: k8s_api.get(CANARIES, "default", "podinfo") is None, timeout=30, description="canary gone")
    assert json.dumps(k8s_api.get(GRPCROUTES, "default", "podinfo")["spec"]) == json.dumps(original)
