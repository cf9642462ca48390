"""GatewayClass ``status.supportedFeatures``: only what the proxy really does, each shown by a test.

A feature claimed without working is worse than one left out: users pick an implementation by
this list. So every claimed feature names the test that shows it over real sockets, and a
claim without one fails here.
"""

from __future__ import annotations

import ast
import http.client
import pathlib

import pytest

import gw_harness
import kube_harness
from gateway_proxy.kubernetes import features as kube_features
from routeshift.testing.polling import until

TESTS = pathlib.Path(__file__).resolve().parents[1]

# Feature → "file::test" (under tests/gateway_proxy) that shows it working.
EVIDENCE = {
    "Gateway": "kubernetes/test_gateway_listener_status.py::test_attached_routes_are_counted_per_listener",
    "HTTPRoute": "kubernetes/test_weight_patch_serves_and_reports.py::"
                 "test_weights_patched_with_kubectl_take_effect_and_are_reported",
    "ReferenceGrant": "test_weights_and_backends_over_sockets.py::test_reference_grant_allows_cross_namespace_backend",
    "GatewayHTTPListenerIsolation": "test_routing_over_sockets.py::test_listener_hostname_intersection_and_isolation",
    "HTTPRouteParentRefPort": "test_weights_and_backends_over_sockets.py::test_parent_refs_section_name_and_port",
    "HTTPRouteMethodMatching": "test_routing_over_sockets.py::test_method_match",
    "HTTPRouteQueryParamMatching": "test_routing_over_sockets.py::test_query_params_names_case_sensitive",
    "HTTPRouteResponseHeaderModification": "test_filters_over_sockets.py::test_response_header_modifier",
    "HTTPRouteBackendRequestHeaderModification": "test_filters_over_sockets.py::"
                                                 "test_backend_ref_header_modifiers_apply_to_their_backend_only",
    "HTTPRouteSchemeRedirect": "test_filters_over_sockets.py::test_request_redirect",
    "HTTPRoutePortRedirect": "test_filters_over_sockets.py::test_request_redirect",
    "HTTPRoutePathRedirect": "test_filters_over_sockets.py::test_request_redirect",
    "HTTPRoute303RedirectStatusCode": "kubernetes/test_gateway_class_features.py::test_redirect_status_codes",
    "HTTPRoute307RedirectStatusCode": "kubernetes/test_gateway_class_features.py::test_redirect_status_codes",
    "HTTPRoute308RedirectStatusCode": "kubernetes/test_gateway_class_features.py::test_redirect_status_codes",
    "HTTPRouteHostRewrite": "test_filters_over_sockets.py::test_url_rewrite",
    "HTTPRoutePathRewrite": "test_filters_over_sockets.py::test_url_rewrite",
    "HTTPRouteRequestMirror": "test_filters_over_sockets.py::test_request_mirror_to_several_backends",
    "HTTPRouteRequestMultipleMirrors": "test_filters_over_sockets.py::test_request_mirror_to_several_backends",
    "HTTPRouteRequestPercentageMirror": "test_filters_over_sockets.py::"
                                        "test_request_mirror_fraction_copies_that_share_of_requests",
    "HTTPRouteRequestTimeout": "test_filters_over_sockets.py::test_timeouts",
    "HTTPRouteBackendTimeout": "test_filters_over_sockets.py::test_timeouts",
    "HTTPRouteCORS": "http_features/test_cors_over_sockets.py::"
                     "test_preflight_from_an_allowed_origin_is_answered_by_the_proxy",
    "HTTPRouteBackendProtocolWebSocket": "websocket/test_backend_protocols_in_kubernetes_mode.py::"
                                         "test_a_websocket_service_port_resolves_and_carries_websocket",
    "GRPCRoute": "grpc/test_grpcroute_in_kubernetes_mode.py::test_a_grpcroute_is_served_and_reported",
}

# sigs.k8s.io/gateway-api pkg/features (v1.4): a misspelt name would advertise nothing.
UPSTREAM = {
    "Gateway", "GatewayPort8080", "GatewayStaticAddresses", "GatewayHTTPListenerIsolation",
    "GatewayHTTPSListenerDetectMisdirectedRequests", "GatewayInfrastructurePropagation", "GatewayAddressEmpty",
    "HTTPRoute", "HTTPRouteDestinationPortMatching", "HTTPRouteBackendRequestHeaderModification",
    "HTTPRouteQueryParamMatching", "HTTPRouteMethodMatching", "HTTPRouteResponseHeaderModification",
    "HTTPRoutePortRedirect", "HTTPRouteSchemeRedirect", "HTTPRoutePathRedirect", "HTTPRouteHostRewrite",
    "HTTPRoutePathRewrite", "HTTPRouteRequestMirror", "HTTPRouteRequestMultipleMirrors",
    "HTTPRouteRequestPercentageMirror", "HTTPRouteRequestTimeout", "HTTPRouteBackendTimeout",
    "HTTPRouteParentRefPort", "HTTPRouteBackendProtocolH2C", "HTTPRouteBackendProtocolWebSocket",
    "HTTPRouteNamedRouteRule", "HTTPRouteCORS", "HTTPRoute303RedirectStatusCode", "HTTPRoute307RedirectStatusCode",
    "HTTPRoute308RedirectStatusCode", "ReferenceGrant", "GRPCRoute",
}


def _test_names(path: pathlib.Path) -> set[str]:
    return {node.name for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_every_claimed_feature_is_an_upstream_name_shown_by_a_test():
    claimed = kube_features.SUPPORTED_FEATURES
    assert list(claimed) == sorted(set(claimed)), "sorted, no duplicates (the spec requires the order)"
    assert set(claimed) <= UPSTREAM
    assert set(EVIDENCE) == set(claimed), "every claimed feature names its test, and only those"
    for feature, where in EVIDENCE.items():
        file, _, name = where.partition("::")
        assert name in _test_names(TESTS / file), f"{feature}: {where} does not exist"


def _features(k8s_api):
    return (k8s_api.get(kube_harness.CLASSES, None, "routeshift").get("status") or {}).get("supportedFeatures")


def test_our_class_lists_them_and_is_written_once(k8s_api, kube_proxy):
    kube_harness.create_all(k8s_api, [kube_harness.gateway_class(), kube_harness.gateway_class("theirs", "x.io/y"),
                                      gw_harness.gateway()])
    proxy = kube_proxy()
    features = until(lambda: _features(k8s_api), 5, description="features published")
    assert features == [{"name": name} for name in kube_features.SUPPORTED_FEATURES]
    assert "status" not in k8s_api.get(kube_harness.CLASSES, None, "theirs")
    for index in range(5):  # events that make the proxy recompute every status
        k8s_api.patch(kube_harness.GATEWAYS, "default", "gw", {"metadata": {"labels": {"n": str(index)}}})
    until(lambda: proxy.call(lambda: proxy.mode.idle), 5)
    patches = [e for e in k8s_api.requests() if e[0] == "PATCH" and e[1].endswith("/gatewayclasses/routeshift/status")]
    assert len(patches) == 1


def _class_crd_before_v1_2():
    """A GatewayClass CRD whose status schema has no supportedFeatures: the API prunes it."""
    condition = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    schema = {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {"controllerName": {"type": "string"}}},
        "status": {"type": "object", "properties": {"conditions": {"type": "array", "items": condition}}}}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "gatewayclasses.gateway.networking.k8s.io"},
            "spec": {"group": "gateway.networking.k8s.io", "scope": "Cluster",
                     "names": {"plural": "gatewayclasses", "singular": "gatewayclass", "kind": "GatewayClass",
                               "listKind": "GatewayClassList"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                                   "schema": {"openAPIV3Schema": schema}}]}}


def test_an_older_crd_that_drops_the_features_is_not_written_in_a_loop(k8s_api, kube_proxy):
    k8s_api.create("apiextensions.k8s.io/v1/customresourcedefinitions", _class_crd_before_v1_2())
    kube_harness.create_all(k8s_api, [kube_harness.gateway_class(), gw_harness.gateway()])
    proxy = kube_proxy()

    def accepted():
        status = k8s_api.get(kube_harness.CLASSES, None, "routeshift").get("status") or {}
        return any(c.get("type") == "Accepted" and c.get("status") == "True" for c in status.get("conditions") or ())

    until(accepted, 5, description="class accepted")
    assert _features(k8s_api) is None  # pruned by the CRD's schema
    for index in range(5):
        k8s_api.patch(kube_harness.GATEWAYS, "default", "gw", {"metadata": {"labels": {"n": str(index)}}})
    until(lambda: proxy.call(lambda: proxy.mode.idle), 5)
    patches = [e for e in k8s_api.requests() if e[0] == "PATCH" and e[1].endswith("/gatewayclasses/routeshift/status")]
    assert len(patches) == 1


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirect_status_codes(k8s_api, kube_proxy, code):
    kube_harness.create_all(k8s_api, [
        kube_harness.gateway_class(), gw_harness.gateway(),
        gw_harness.route("moved", [gw_harness.rule(filters=[{"type": "RequestRedirect", "requestRedirect": {
            "hostname": "new.example", "statusCode": code}}])]),
    ])
    proxy = kube_proxy()
    until(lambda: proxy.call(lambda: proxy.runtime.compiled is not None), 5, description="table installed")
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    try:
        connection.request("GET", "/p?q=1", headers={"Host": "example.com"})
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert (response.status, response.getheader("Location")) == (code, "http://new.example/p?q=1")
