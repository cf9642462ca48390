"""GRPCRoute in Kubernetes mode: watched like HTTPRoutes, served over HTTP/2, reported per parent.

The proxy watches the API emulator as it would a cluster. A GRPCRoute attached to our Gateway
serves gRPC calls and reports ``Accepted`` and ``ResolvedRefs`` for its generation; a backend
whose Service port declares a protocol that cannot carry gRPC is reported ``UnsupportedProtocol``
and its share answered UNAVAILABLE; a GRPCRoute claiming a hostname an older HTTPRoute serves on
the same listener is refused (``NotAllowedByListeners``); the listener lists GRPCRoute among its
supportedKinds and the GatewayClass lists ``GRPCRoute`` among its supportedFeatures.
"""

from __future__ import annotations

import os
import sys

import pytest

import gw_harness
from grpc_config import grpc_route, grpc_rule, services
from routeshift.testing.polling import until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kubernetes"))
import kube_harness  # noqa: E402

GRPC_ROUTES = "gateway.networking.k8s.io/v1/grpcroutes"


@pytest.fixture
def kube_proxy(kubeconfig):
    started = []

    def start(**options):
        proxy = kube_harness.KubeProxy(kubeconfig, **options).start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in reversed(started):
        proxy.stop()


def _conditions(k8s_api, name: str) -> dict[str, dict]:
    obj = k8s_api.get(GRPC_ROUTES, "default", name) or {}
    parents = (obj.get("status") or {}).get("parents") or []
    return {c["type"]: c for c in parents[0]["conditions"]} if parents else {}


def test_a_grpcroute_is_served_and_reported(k8s_api, kube_proxy, grpc_backend_factory, clients, echo_factory):
    app = grpc_backend_factory("grpc-app")
    web = echo_factory("web")
    ws_only = services({"ws-only": app}, app_protocol="kubernetes.io/ws")
    kube_harness.create_all(k8s_api, [kube_harness.gateway_class(), gw_harness.gateway(),
                                      *services({"grpc-app": app}), *ws_only, *kube_harness.echo_backend("web", web),
                                      gw_harness.route("a-web", [gw_harness.rule([gw_harness.backend("web")])],
                                                       hostnames=["shared.example.com"])])
    for route in (grpc_route("api", [grpc_rule([gw_harness.backend("grpc-app")])], hostnames=["api.example.com"]),
                  grpc_route("half-ws", [grpc_rule([gw_harness.backend("grpc-app"), gw_harness.backend("ws-only")])],
                             hostnames=["half.example.com"]),
                  grpc_route("late", [grpc_rule([gw_harness.backend("grpc-app")])], hostnames=["shared.example.com"])):
        k8s_api.create(GRPC_ROUTES, route, "default")
    proxy = kube_proxy()

    accepted = until(lambda: _conditions(k8s_api, "api").get("Accepted"), 10, description="api has a status")
    assert (accepted["status"], accepted["observedGeneration"]) == ("True", 1)
    assert _conditions(k8s_api, "api")["ResolvedRefs"]["status"] == "True"
    assert clients(proxy.port, "api.example.com").backend() == "grpc-app"

    resolved = until(lambda: _conditions(k8s_api, "half-ws").get("ResolvedRefs"), 10)
    assert (resolved["status"], resolved["reason"]) == ("False", "UnsupportedProtocol")
    answers = {clients(proxy.port, "half.example.com").backend() for _ in range(40)}
    assert answers == {"grpc-app", "UNAVAILABLE"}

    # Created in the same second or later, and "default/a-web" sorts first: the HTTPRoute keeps the hostname.
    refused = until(lambda: _conditions(k8s_api, "late").get("Accepted"), 10)
    assert (refused["status"], refused["reason"]) == ("False", "NotAllowedByListeners")
    assert kube_harness.backends(proxy, 3, host="shared.example.com") == {"web": 3}

    gateway = k8s_api.get(kube_harness.GATEWAYS, "default", "gw")
    listener = gateway["status"]["listeners"][0]
    assert {"group": "gateway.networking.k8s.io", "kind": "GRPCRoute"} in listener["supportedKinds"]
    assert listener["attachedRoutes"] == 4
    klass = until(lambda: (k8s_api.get(kube_harness.CLASSES, None, "routeshift") or {}).get("status"), 10)
    assert {"name": "GRPCRoute"} in klass["supportedFeatures"]
