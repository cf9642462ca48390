"""Gateway status: per-listener attachedRoutes and conditions, Accepted and Programmed."""

from __future__ import annotations

import gw_harness
import kube_harness
from routeshift.testing.polling import until


def _listeners(k8s_api):
    status = k8s_api.get(kube_harness.GATEWAYS, "default", "gw").get("status") or {}
    return {l["name"]: l for l in status.get("listeners") or ()}


def test_attached_routes_are_counted_per_listener(k8s_api, kube_proxy, echo_factory):
    echo = echo_factory("app")
    kube_harness.create_all(k8s_api, [
        gw_harness.namespace("team", {"team": "yes"}),
        kube_harness.gateway_class(),
        gw_harness.gateway(listeners=[
            gw_harness.listener("same", port=80),
            gw_harness.listener("all", port=81, namespaces="All"),
            gw_harness.listener("picky", port=82, namespaces="Selector", selector={"matchLabels": {"team": "yes"}}),
            {"name": "raw-tcp", "port": 9000, "protocol": "TCP"},
        ]),
        *kube_harness.echo_backend("app", echo),
        *kube_harness.echo_backend("app", echo, "team"),
        gw_harness.route("whole-gateway", [gw_harness.rule([gw_harness.backend("app")])]),
        gw_harness.route("only-all", [gw_harness.rule([gw_harness.backend("app")])],
                         parents=[{"name": "gw", "sectionName": "all"}]),
        gw_harness.route("from-team", [gw_harness.rule([gw_harness.backend("app")])], namespace="team",
                         parents=[{"name": "gw", "namespace": "default"}]),
    ])
    kube_proxy()
    until(lambda: _listeners(k8s_api).get("same", {}).get("attachedRoutes") == 1, 5)
    listeners = _listeners(k8s_api)
    # whole-gateway: same, all, picky? no (default ns lacks the label); only-all: all; from-team: all, picky.
    assert {name: l["attachedRoutes"] for name, l in listeners.items()} == {
        "same": 1, "all": 3, "picky": 1, "raw-tcp": 0}
    assert listeners["all"]["supportedKinds"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"},
                                                  {"group": "gateway.networking.k8s.io", "kind": "GRPCRoute"}]
    tcp = {c["type"]: (c["status"], c["reason"]) for c in listeners["raw-tcp"]["conditions"]}
    assert tcp["Accepted"] == ("False", "UnsupportedProtocol") and listeners["raw-tcp"]["supportedKinds"] == []
    gateway = k8s_api.get(kube_harness.GATEWAYS, "default", "gw")
    conditions = {c["type"]: c for c in gateway["status"]["conditions"]}
    assert conditions["Accepted"]["status"] == conditions["Programmed"]["status"] == "True"
    assert conditions["Programmed"]["observedGeneration"] == gateway["metadata"]["generation"]

    k8s_api.delete(kube_harness.ROUTES, "default", "only-all")
    until(lambda: _listeners(k8s_api)["all"]["attachedRoutes"] == 2, 5, description="count follows a deletion")


def test_https_listeners_need_a_tls_secret(k8s_api, kube_proxy):
    def secret(name, kind):
        return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "default"},
                "type": kind, "stringData": {"tls.crt": "x", "tls.key": "y"}}

    def https(name, secret_name):
        return {"name": name, "port": 443, "protocol": "HTTPS", "hostname": f"{name}.example",
                "tls": {"mode": "Terminate", "certificateRefs": [{"name": secret_name}]}}

    k8s_api.create("v1/secrets", secret("good", "kubernetes.io/tls"), "default")
    k8s_api.create("v1/secrets", secret("opaque", "Opaque"), "default")
    kube_harness.create_all(k8s_api, [kube_harness.gateway_class(), gw_harness.gateway(listeners=[
        https("with-tls", "good"), https("with-opaque", "opaque"), https("with-nothing", "absent")])])
    kube_proxy()
    listeners = until(lambda: len(_listeners(k8s_api)) == 3 and _listeners(k8s_api), 5)
    reasons = {name: {c["type"]: c["reason"] for c in l["conditions"]} for name, l in listeners.items()}
    assert reasons["with-tls"]["ResolvedRefs"] == "ResolvedRefs" and reasons["with-tls"]["Programmed"] == "Programmed"
    for name in ("with-opaque", "with-nothing"):  # only kubernetes.io/tls Secrets are watched at all
        assert reasons[name]["ResolvedRefs"] == "InvalidCertificateRef" and reasons[name]["Programmed"] == "Invalid"
