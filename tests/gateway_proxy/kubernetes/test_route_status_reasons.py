"""Rejections reach the API with the spec's reasons, and the data path agrees with them."""

from __future__ import annotations

import gw_harness
import kube_harness
from routeshift.testing.polling import until


def _entry(k8s_api, route, generation=1):
    parents = kube_harness.route_parents(k8s_api, route)
    if len(parents) == 1 and all(c["observedGeneration"] == generation for c in parents[0]["conditions"]):
        return parents[0]
    return None


def _reasons(entry):
    return {c["type"]: (c["status"], c["reason"]) for c in entry["conditions"]}


def test_unknown_section_name_is_not_accepted(k8s_api, kube_proxy, echo_factory):
    echo = echo_factory("app")
    kube_harness.create_all(k8s_api, [
        kube_harness.gateway_class(), gw_harness.gateway(), *kube_harness.echo_backend("app", echo),
        gw_harness.route("lost", [gw_harness.rule([gw_harness.backend("app")])],
                         parents=[{"name": "gw", "sectionName": "no-such-listener"}]),
        gw_harness.route("wrong-port", [gw_harness.rule([gw_harness.backend("app")])], hostnames=["port.example"],
                         parents=[{"name": "gw", "sectionName": "http", "port": 8080}]),
    ])
    proxy = kube_proxy()
    lost = until(lambda: _entry(k8s_api, "lost"), 5)
    assert _reasons(lost)["Accepted"] == ("False", "NoMatchingParent")
    assert lost["parentRef"]["sectionName"] == "no-such-listener"
    assert _reasons(until(lambda: _entry(k8s_api, "wrong-port"), 5))["Accepted"] == ("False", "NoMatchingParent")
    assert kube_harness.backends(proxy, 3) == {404: 3}
    assert kube_harness.backends(proxy, 3, host="port.example") == {404: 3}

    # Fixing the sectionName attaches the route, reported for the new generation.
    k8s_api.patch(kube_harness.ROUTES, "default", "lost", {"spec": {"parentRefs": [{"name": "gw", "sectionName": "http"}]}})
    fixed = until(lambda: _entry(k8s_api, "lost", generation=2), 5)
    assert _reasons(fixed) == {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("True", "ResolvedRefs")}
    assert kube_harness.backends(proxy, 3) == {"app": 3}


def test_backend_to_a_missing_service_is_unresolved_and_its_share_is_500(k8s_api, kube_proxy, echo_factory):
    echo = echo_factory("present")
    kube_harness.create_all(k8s_api, [
        kube_harness.gateway_class(), gw_harness.gateway(), *kube_harness.echo_backend("present", echo),
        gw_harness.route("half", [gw_harness.rule([gw_harness.backend("present", 1),
                                                   gw_harness.backend("missing", 1)])]),
    ])
    proxy = kube_proxy()
    entry = until(lambda: _entry(k8s_api, "half"), 5)
    assert _reasons(entry) == {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("False", "BackendNotFound")}
    assert "missing" in kube_harness.condition(entry, "ResolvedRefs")["message"]
    split = kube_harness.backends(proxy, 300)
    assert set(split) == {"present", 500}
    assert abs(split[500] - 150) <= 45, split  # binomial sd ≈ 8.7

    # Creating the Service resolves the reference: status and traffic both follow.
    missing = echo_factory("missing")
    kube_harness.create_all(k8s_api, kube_harness.echo_backend("missing", missing))
    until(lambda: _reasons(_entry(k8s_api, "half"))["ResolvedRefs"] == ("True", "ResolvedRefs"), 5)
    assert set(kube_harness.backends(proxy, 60)) == {"present", "missing"}


def test_cross_namespace_backend_needs_a_reference_grant(k8s_api, kube_proxy, echo_factory):
    echo = echo_factory("shared")
    kube_harness.create_all(k8s_api, [
        gw_harness.namespace("shared"),
        kube_harness.gateway_class(), gw_harness.gateway(), *kube_harness.echo_backend("svc", echo, "shared"),
        gw_harness.route("far", [gw_harness.rule([gw_harness.backend("svc", namespace="shared")])]),
    ])
    proxy = kube_proxy()
    entry = until(lambda: _entry(k8s_api, "far"), 5)
    assert _reasons(entry)["ResolvedRefs"] == ("False", "RefNotPermitted")
    assert kube_harness.backends(proxy, 3) == {500: 3}

    kube_harness.create_all(k8s_api, [gw_harness.reference_grant("shared", "default")])
    until(lambda: _reasons(_entry(k8s_api, "far"))["ResolvedRefs"] == ("True", "ResolvedRefs"), 5)
    assert kube_harness.backends(proxy, 3) == {"shared": 3}


def test_invalid_route_is_rejected_while_its_last_valid_generation_serves(k8s_api, kube_proxy, echo_factory):
    echo = echo_factory("app")
    kube_harness.create_all(k8s_api, [
        kube_harness.gateway_class(), gw_harness.gateway(), *kube_harness.echo_backend("app", echo),
        gw_harness.route("r", [gw_harness.rule([gw_harness.backend("app")])]),
    ])
    proxy = kube_proxy()
    until(lambda: _entry(k8s_api, "r"), 5)
    k8s_api.patch(kube_harness.ROUTES, "default", "r", {"spec": {"rules": [{
        "matches": [{"path": {"type": "RegularExpression", "value": "(unclosed"}}],
        "backendRefs": [{"name": "app", "port": 80}]}]}})
    entry = until(lambda: _entry(k8s_api, "r", generation=2), 5)
    accepted = kube_harness.condition(entry, "Accepted")
    assert (accepted["status"], accepted["reason"]) == ("False", "UnsupportedValue")
    assert "last valid generation keeps serving" in accepted["message"]
    assert kube_harness.backends(proxy, 3) == {"app": 3}
    assert "HTTPRoute default/r" in proxy.call(lambda: dict(proxy.runtime.errors))
