"""Only Gateways whose GatewayClass names our controller are served, and their class is Accepted."""

from __future__ import annotations

import gw_harness
import kube_harness
from routeshift.testing.polling import until


def test_only_gateways_of_our_class_are_served(k8s_api, kube_proxy, echo_factory):
    ours, theirs = echo_factory("ours"), echo_factory("theirs")
    kube_harness.create_all(k8s_api, [
        kube_harness.gateway_class("routeshift"),
        kube_harness.gateway_class("other", controller="example.com/another-gateway"),
        gw_harness.gateway("ours-gw"),
        dict(gw_harness.gateway("their-gw"), spec={"gatewayClassName": "other", "listeners": [
            {"name": "http", "port": 80, "protocol": "HTTP"}]}),
        *kube_harness.echo_backend("ours", ours), *kube_harness.echo_backend("theirs", theirs),
        gw_harness.route("to-ours", [gw_harness.rule([gw_harness.backend("ours")])], hostnames=["ours.example"],
                         parents=[{"name": "ours-gw"}]),
        gw_harness.route("to-theirs", [gw_harness.rule([gw_harness.backend("theirs")])],
                         hostnames=["theirs.example"], parents=[{"name": "their-gw"}]),
    ])
    proxy = kube_proxy()

    until(lambda: kube_harness.backends(proxy, 1, host="ours.example") == {"ours": 1}, 5,
          description="our gateway's route served")
    assert kube_harness.backends(proxy, 5, host="theirs.example") == {404: 5}

    # Status: our class Accepted, the other class untouched; only our route gets a parent entry.
    accepted = until(lambda: kube_harness.condition(k8s_api.get(kube_harness.CLASSES, None, "routeshift")
                                                    .get("status") or {}, "Accepted"), 5)
    assert accepted["status"] == "True" and accepted["observedGeneration"] == 1
    other = k8s_api.get(kube_harness.CLASSES, None, "other").get("status") or {}
    assert not any(c.get("reason") == "Accepted" for c in other.get("conditions") or ())
    until(lambda: kube_harness.route_parents(k8s_api, "to-ours"), 5)
    assert kube_harness.route_parents(k8s_api, "to-theirs") == []
    assert not (k8s_api.get(kube_harness.GATEWAYS, "default", "their-gw").get("status") or {}).get("listeners")


def test_a_gateway_moved_to_our_class_starts_serving(k8s_api, kube_proxy, echo_factory):
    echo = echo_factory("late")
    kube_harness.create_all(k8s_api, [
        kube_harness.gateway_class("routeshift"),
        dict(gw_harness.gateway("gw"), spec={"gatewayClassName": "not-yet", "listeners": [
            {"name": "http", "port": 80, "protocol": "HTTP"}]}),
        *kube_harness.echo_backend("late", echo),
        gw_harness.route("r", [gw_harness.rule([gw_harness.backend("late")])]),
    ])
    proxy = kube_proxy()
    until(lambda: proxy.runtime.compiled is not None, 5, description="first table installed")
    assert kube_harness.backends(proxy, 3) == {404: 3}

    k8s_api.patch(kube_harness.GATEWAYS, "default", "gw", {"spec": {"gatewayClassName": "routeshift"}})
    until(lambda: kube_harness.backends(proxy, 1) == {"late": 1}, 5, description="gateway served after class change")
