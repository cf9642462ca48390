"""Tables for the pure status decisions: (objects) → (conditions), no API, no mocks."""

from __future__ import annotations

import pytest

import gw_harness as g
from gateway_proxy import attachment, resources
from gateway_proxy.kubernetes import conditions as kube_conditions, status as kube_status

OURS = kube_status.CONTROLLER
CLASS = kube_status.GatewayClass("routeshift", OURS, 3)
NOW, LATER = "2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z"


def _config(*documents, extra=()):
    objects = [resources.parse(d, "test") for d in [*documents, *extra]]
    return attachment.Config.of([o for o in objects if o is not None])


def _with_generation(document, generation):
    document["metadata"]["generation"] = generation
    return document


def _route_conditions(documents, route="r"):
    statuses = kube_status.compute(_config(*documents), (CLASS,))
    [parents] = [parents for (_, name), parents in statuses.routes.items() if name == route]
    return [{c.type: (c.status, c.reason) for c in p.conditions} for p in parents]


BACKENDS = [*g.service("svc", 1), *g.service("svc", 1, "other"), g.namespace("other", {"team": "a"})]
OK = {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("True", "ResolvedRefs")}


def _accepted(reason):
    return {"Accepted": ("False", reason), "ResolvedRefs": ("True", "ResolvedRefs")}


def _resolved(reason):
    return {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("False", reason)}


def _mirror(**share):
    return {"type": "RequestMirror", "requestMirror": {"backendRef": g.backend("svc"), **share}}


ROUTE_TABLE = [
    pytest.param([g.gateway(), g.route("r", [g.rule([g.backend("svc")])])], [OK], id="accepted"),
    pytest.param([g.gateway(), g.route("r", [g.rule([g.backend("svc")])], parents=[{"name": "gw", "sectionName": "nope"}])],
                 [_accepted("NoMatchingParent")], id="unknown-section-name"),
    pytest.param([g.gateway(), g.route("r", [g.rule([g.backend("svc")])], parents=[{"name": "gw", "port": 8080}])],
                 [_accepted("NoMatchingParent")], id="unknown-port"),
    pytest.param([g.gateway(), g.route("r", [g.rule([g.backend("svc")])], namespace="other",
                                       parents=[{"name": "gw", "namespace": "default"}])],
                 [_accepted("NotAllowedByListeners")], id="other-namespace-on-same-listener"),
    pytest.param([g.gateway(listeners=[g.listener("sel", namespaces="Selector", selector={"matchLabels": {"team": "a"}})]),
                  g.route("r", [g.rule([g.backend("svc")])], namespace="other", parents=[{"name": "gw", "namespace": "default"}])],
                 [OK], id="selector-admits-labelled-namespace"),
    pytest.param([g.gateway(listeners=[g.listener("k", kinds=[{"kind": "GRPCRoute"}])]),
                  g.route("r", [g.rule([g.backend("svc")])])],
                 [_accepted("NotAllowedByListeners")], id="listener-kinds-exclude-httproute"),
    pytest.param([g.gateway(listeners=[{"name": "tcp", "port": 80, "protocol": "TCP"}]), g.route("r", [g.rule([g.backend("svc")])])],
                 [_accepted("NotAllowedByListeners")], id="tcp-listener"),
    pytest.param([g.gateway(listeners=[g.listener("h", hostname="a.example")]),
                  g.route("r", [g.rule([g.backend("svc")])], hostnames=["b.example"])],
                 [_accepted("NoMatchingListenerHostname")], id="hostnames-disjoint"),
    pytest.param([g.gateway(listeners=[g.listener("h", hostname="*.example")]),
                  g.route("r", [g.rule([g.backend("svc")])], hostnames=["b.example"])],
                 [OK], id="wildcard-listener-covers-route-hostname"),
    pytest.param([g.gateway(), g.route("r", [g.rule([g.backend("svc")], filters=[
        {"type": "RequestRedirect", "requestRedirect": {"hostname": "x"}}, {"type": "URLRewrite", "urlRewrite": {"hostname": "y"}}])])],
                 [{"Accepted": ("False", "IncompatibleFilters"), "ResolvedRefs": ("True", "ResolvedRefs")}],
                 id="redirect-and-rewrite-in-the-only-rule"),
    pytest.param([g.gateway(), g.route("r", [g.rule([g.backend("svc")], filters=[{"type": "ExtensionRef"}]),
                                             g.rule([g.backend("svc")])])],
                 [OK], id="one-programmable-rule-is-enough"),
    pytest.param([g.gateway(), g.route("r", [g.rule([g.backend("svc")], filters=[_mirror(percent=30)])])], [OK],
                 id="mirror-percent"),
    pytest.param([g.gateway(), g.route("r", [g.rule([g.backend("svc")], filters=[
        _mirror(percent=30, fraction={"numerator": 1})])])], [_accepted("UnsupportedValue")],
                 id="mirror-percent-and-fraction"),
    pytest.param([g.gateway(), g.route("r", [g.rule([g.backend("svc")], filters=[
        _mirror(fraction={"numerator": 2, "denominator": 1})])])], [_accepted("UnsupportedValue")],
                 id="mirror-numerator-above-denominator"),
    pytest.param([g.gateway(), g.route("r", [g.rule([g.backend("svc")], filters=[
        _mirror(fraction={"numerator": 0, "denominator": 0})])])], [_accepted("UnsupportedValue")],
                 id="mirror-denominator-zero"),
    pytest.param([g.gateway(), g.route("r", [g.rule([g.backend("gone")])])], [_resolved("BackendNotFound")],
                 id="missing-service"),
    pytest.param([g.gateway(), g.route("r", [g.rule([g.backend("svc", port=81)])])], [_resolved("BackendNotFound")],
                 id="missing-service-port"),
    pytest.param([g.gateway(), g.route("r", [g.rule([g.backend("svc", kind="ConfigMap")])])], [_resolved("InvalidKind")],
                 id="unsupported-kind"),
    pytest.param([g.gateway(), g.route("r", [g.rule([g.backend("svc", namespace="other")])])],
                 [_resolved("RefNotPermitted")], id="cross-namespace-without-grant"),
    pytest.param([g.gateway(), g.reference_grant("other", "default", version="v1"),
                  g.route("r", [g.rule([g.backend("svc", namespace="other")])])], [OK], id="cross-namespace-granted"),
    pytest.param([g.gateway(), g.route("r", [g.rule([g.backend("gone"), g.backend("svc", kind="ConfigMap")])])],
                 [_resolved("InvalidKind")], id="most-fundamental-reason-wins"),
    pytest.param([g.gateway(), g.route("r", [g.rule([g.backend("svc")])], parents=[{"name": "someone-elses"}])], [],
                 id="parent-not-ours-gets-no-entry"),
    pytest.param([g.gateway(), g.route("r", [g.rule([g.backend("svc")])],
                                       parents=[{"name": "gw", "sectionName": "http"}, {"name": "gw", "sectionName": "x"}])],
                 [OK, _accepted("NoMatchingParent")], id="one-entry-per-parent-ref"),
]


@pytest.mark.parametrize("documents, expected", ROUTE_TABLE)
def test_route_parent_conditions(documents, expected):
    assert _route_conditions([*documents, *BACKENDS]) == expected


def test_conditions_carry_the_route_generation():
    route = _with_generation(g.route("r", [g.rule([g.backend("svc")])]), 7)
    statuses = kube_status.compute(_config(g.gateway(), route, *BACKENDS), (CLASS,))
    assert {c.observed_generation for c in statuses.routes[("default", "r")][0].conditions} == {7}


def test_a_rejected_route_reports_its_own_generation():
    old = _with_generation(g.route("r", [g.rule([g.backend("svc")])]), 1)
    parents = kube_status.lenient_parents(g.route("r", [], parents=[{"name": "gw"}, {"name": "not-ours"}]))
    rejected = kube_status.RejectedRoute("default", "r", 2, parents, "bad regex")
    statuses = kube_status.compute(_config(g.gateway(), old, *BACKENDS), (CLASS,), rejected=(rejected,))
    [entry] = statuses.routes[("default", "r")]
    assert entry.conditions == (kube_status.Condition("Accepted", "False", "UnsupportedValue", "bad regex", 2),)


def test_only_gateways_of_our_classes_are_ours():
    classes = (CLASS, kube_status.GatewayClass("other", "example.com/x", 1))
    theirs = dict(g.gateway("theirs"), spec={"gatewayClassName": "other", "listeners": []})
    gateways = _config(g.gateway(), theirs).gateways
    assert [gw.meta.name for gw in kube_status.our_gateways(gateways, classes, OURS)] == ["gw"]
    assert set(kube_status.compute(_config(), classes).classes) == {"routeshift"}


def test_attached_routes_ignore_hostnames_but_respect_allowed_routes():
    config = _config(
        g.gateway(listeners=[g.listener("a", hostname="a.example"), g.listener("b", port=81, namespaces="All")]),
        g.route("disjoint-host", [g.rule([g.backend("svc")])], hostnames=["z.example"]),
        g.route("foreign", [g.rule([g.backend("svc")])], namespace="other", parents=[{"name": "gw", "namespace": "default"}]),
        *BACKENDS)
    assert kube_status.attached_counts(config) == {("default", "gw", "a"): 1, ("default", "gw", "b"): 2}


def test_https_listener_without_a_tls_secret_is_not_programmed():
    gateway = g.gateway(listeners=[{"name": "https", "port": 443, "protocol": "HTTPS",
                                    "tls": {"certificateRefs": [{"name": "missing"}]}}])
    status = kube_status.compute(_config(gateway), (CLASS,)).gateways[("default", "gw")]
    listener = {c.type: (c.status, c.reason) for c in status.listeners[0].conditions}
    assert listener["ResolvedRefs"] == ("False", "InvalidCertificateRef")
    assert listener["Programmed"] == ("False", "Invalid")
    assert {c.type: c.status for c in status.conditions} == {"Accepted": "True", "Programmed": "False"}


# Rendering and merging with what is already written ------------------------------------------

def _desired(accepted="True", generation=1):
    parent = resources.ParentRef(resources.GATEWAY_GROUP, "Gateway", "default", "gw", None, None)
    return (kube_status.ParentStatus(parent, (
        kube_status.Condition("Accepted", accepted, "Accepted", "m", generation),)),)


def test_an_unchanged_route_status_is_not_written_again():
    first = kube_conditions.route_status(None, _desired(), OURS, NOW)
    assert first["parents"][0]["conditions"][0]["lastTransitionTime"] == NOW
    assert kube_conditions.route_status(first, _desired(), OURS, LATER) is None


def test_transition_time_moves_only_when_the_status_flips():
    first = kube_conditions.route_status(None, _desired(generation=1), OURS, NOW)
    newer = kube_conditions.route_status(first, _desired(generation=2), OURS, LATER)
    condition = newer["parents"][0]["conditions"][0]
    assert (condition["observedGeneration"], condition["lastTransitionTime"]) == (2, NOW)
    flipped = kube_conditions.route_status(newer, _desired("False", 3), OURS, LATER)
    assert flipped["parents"][0]["conditions"][0]["lastTransitionTime"] == LATER


def test_other_controllers_entries_are_kept_and_our_stale_ones_removed():
    foreign = {"parentRef": {"name": "x"}, "controllerName": "example.com/other", "conditions": []}
    stale = {"parentRef": {"name": "old"}, "controllerName": OURS, "conditions": []}
    assert kube_conditions.route_status({"parents": [foreign, stale]}, (), OURS, NOW) == {"parents": [foreign]}
    assert kube_conditions.route_status({"parents": [foreign]}, (), OURS, NOW) is None


def test_gateway_and_class_status_are_written_once():
    config = _config(g.gateway(), g.route("r", [g.rule([g.backend("svc")])]), *BACKENDS)
    statuses = kube_status.compute(config, (CLASS,))
    gateway = kube_conditions.gateway_status(None, statuses.gateways[("default", "gw")], NOW)
    assert gateway["listeners"][0]["attachedRoutes"] == 1
    assert kube_conditions.gateway_status(gateway, statuses.gateways[("default", "gw")], LATER) is None
    defaulted = {"conditions": [{"type": "Accepted", "status": "Unknown", "reason": "Pending"}]}
    klass = kube_conditions.class_status(defaulted, statuses.classes["routeshift"], NOW)
    assert klass["conditions"][0]["status"] == "True" and klass["conditions"][0]["observedGeneration"] == 3
    assert kube_conditions.class_status(klass, statuses.classes["routeshift"], LATER) is None


def test_the_memo_reuses_unchanged_routes_and_forgets_when_their_world_changes():
    route = resources.parse(g.route("r", [g.rule([g.backend("svc")])]), "t")
    other = resources.parse(g.route("o", [g.rule([g.backend("svc")])]), "t")
    world = [resources.parse(d, "t") for d in (g.gateway(), *g.service("svc", 1))]
    memo = kube_status.RouteMemo()
    first = kube_status.compute(attachment.Config.of([*world, route, other]), (CLASS,), memo=memo)
    patched = resources.parse(_with_generation(g.route("r", [g.rule([g.backend("svc", 3)])]), 2), "t")
    second = kube_status.compute(attachment.Config.of([*world, patched, other]), (CLASS,), memo=memo)
    assert second.routes[("default", "o")] is first.routes[("default", "o")]
    assert second.routes[("default", "r")][0].conditions[0].observed_generation == 2

    without_service = [w for w in world if not isinstance(w, (resources.Service, resources.EndpointSlice))]
    third = kube_status.compute(attachment.Config.of([*without_service, patched, other]), (CLASS,), memo=memo)
    assert [c.reason for c in third.routes[("default", "o")][0].conditions] == ["Accepted", "BackendNotFound"]
