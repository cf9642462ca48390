"""Weighted backends, unresolvable references and endpoint readiness, over real sockets."""

from __future__ import annotations

import collections

import pytest

from gw_harness import (backend, backend_of, deploy, gateway, listener, namespace, reference_grant, route, rule,
                        service)


def spread(proxy, count=400, path="/"):
    return collections.Counter(backend_of(proxy, path) for _ in range(count))


def test_weights_split_traffic_and_zero_never_serves(proxy, echo_factory):
    echoes = {name: echo_factory(name) for name in ("v1", "v2", "v3")}
    deploy(proxy, echoes, [route("r", [rule([backend("v1", 3), backend("v2", 1), backend("v3", 0)])])])
    counts = spread(proxy)
    assert counts["v3"] == 0
    assert set(counts) == {"v1", "v2"}
    # 3:1 with 400 draws: v1 share 0.75, six standard deviations is about +-0.13
    assert 0.62 < counts["v1"] / 400 < 0.88


def test_default_weight_is_one(proxy, echo_factory):
    echoes = {name: echo_factory(name) for name in ("v1", "v2")}
    deploy(proxy, echoes, [route("r", [rule([backend("v1"), backend("v2")])])])
    counts = spread(proxy)
    assert 0.35 < counts["v1"] / 400 < 0.65


@pytest.mark.parametrize("backends", [
    pytest.param([backend("v1", 0), backend("v2", 0)], id="all-zero"),
    pytest.param([], id="no-backends"),
])
def test_all_zero_weights_or_no_backends_is_500(proxy, echo_factory, backends):
    echoes = {name: echo_factory(name) for name in ("v1", "v2")}
    deploy(proxy, echoes, [route("r", [rule(backends)])])
    assert spread(proxy, 20) == {500: 20}


@pytest.mark.parametrize("bad", [
    pytest.param(backend("missing"), id="missing-service"),
    pytest.param(backend("v2", kind="ConfigMap"), id="unknown-kind"),
    pytest.param(backend("v2", namespace="other"), id="cross-namespace-without-grant"),
    pytest.param(backend("v2", port=81), id="port-not-on-service"),
])
def test_unresolvable_backend_gets_its_share_as_500(proxy, echo_factory, bad):
    echoes = {"v1": echo_factory("v1"), "v2": echo_factory("v2"), "other/v2": echo_factory("other-v2")}
    deploy(proxy, echoes, [route("r", [rule([backend("v1", 1), bad])])])
    counts = spread(proxy)
    assert set(counts) == {"v1", 500}
    assert 0.35 < counts[500] / 400 < 0.65


@pytest.mark.parametrize("version", ["v1beta1", "v1"])
def test_reference_grant_allows_cross_namespace_backend(proxy, echo_factory, version):
    echoes = {"other/v2": echo_factory("other-v2")}
    deploy(proxy, echoes, [route("r", [rule([backend("v2", namespace="other")])])],
           extra=[reference_grant("other", "default", version)])
    assert spread(proxy, 10) == {"other-v2": 10}


def test_reference_grant_for_another_name_does_not_apply(proxy, echo_factory):
    echoes = {"other/v2": echo_factory("other-v2")}
    deploy(proxy, echoes, [route("r", [rule([backend("v2", namespace="other")])])],
           extra=[reference_grant("other", "default", name="someone-else")])
    assert spread(proxy, 10) == {500: 10}


def test_unready_endpoints_are_skipped_and_none_ready_is_503(proxy, echo_factory):
    up, down = echo_factory("up"), echo_factory("down")
    documents = [gateway(), *service("svc", up.port), *service("dead", down.port, ready=False)]
    # A second slice of svc whose only endpoint is not ready never receives traffic.
    unready_slice = service("svc", down.port, ready=False)[1]
    unready_slice["metadata"]["name"] = "svc-unready"
    documents.append(unready_slice)
    documents.append(route("r", [rule([backend("svc")], [{"path": {"type": "PathPrefix", "value": "/svc"}}]),
                                 rule([backend("dead")], [{"path": {"type": "PathPrefix", "value": "/dead"}}])]))
    proxy.write("config.yaml", documents)
    assert spread(proxy, 20, "/svc") == {"up": 20}
    assert spread(proxy, 5, "/dead") == {503: 5}


def test_endpoints_round_robin_across_slices(proxy, echo_factory):
    first, second = echo_factory("a"), echo_factory("b")
    documents = [gateway(), *service("svc", first.port)]
    other = service("svc", second.port)[1]
    other["metadata"]["name"] = "svc-2"
    other["ports"][0]["port"] = second.port
    documents.append(other)
    # Both slices name port "http": the endpoints are (127.0.0.1, first) and (127.0.0.1, second).
    documents.append(route("r", [rule([backend("svc")])]))
    proxy.write("config.yaml", documents)
    assert spread(proxy, 20) == {"a": 10, "b": 10}


@pytest.mark.parametrize("allowed, labels, attached", [
    pytest.param({"namespaces": "Same"}, {}, False, id="same-rejects-other-namespace"),
    pytest.param({"namespaces": "All"}, {}, True, id="all"),
    pytest.param({"namespaces": "Selector", "selector": {"matchLabels": {"team": "a"}}}, {"team": "a"}, True,
                 id="selector-match-labels"),
    pytest.param({"namespaces": "Selector", "selector": {"matchLabels": {"team": "a"}}}, {"team": "b"}, False,
                 id="selector-mismatch"),
    pytest.param({"namespaces": "Selector", "selector": {"matchExpressions": [
        {"key": "team", "operator": "In", "values": ["a", "b"]}]}}, {"team": "b"}, True, id="selector-expression-in"),
    pytest.param({"namespaces": "Selector", "selector": {"matchExpressions": [
        {"key": "team", "operator": "DoesNotExist"}]}}, {"team": "b"}, False, id="selector-expression-absent"),
    pytest.param({"namespaces": "All", "kinds": [{"kind": "GRPCRoute"}]}, {}, False, id="kinds-exclude-httproute"),
    pytest.param({"namespaces": "All", "kinds": [{"kind": "HTTPRoute"}]}, {}, True, id="kinds-include-httproute"),
])
def test_allowed_routes(proxy, echo_factory, allowed, labels, attached):
    echoes = {"apps/v1": echo_factory("v1")}
    gw = gateway(listeners=[listener("http", **allowed)])
    deploy(proxy, echoes, [route("r", [rule([backend("v1")])], namespace="apps",
                                 parents=[{"name": "gw", "namespace": "default"}])],
           gateways=[gw], extra=[namespace("apps", labels)])
    assert backend_of(proxy) == ("v1" if attached else 404)


@pytest.mark.parametrize("parent, expected", [
    pytest.param({"name": "gw", "sectionName": "a"}, {"a.com": "v1", "b.com": 404}, id="section-name"),
    pytest.param({"name": "gw", "port": 8080}, {"a.com": 404, "b.com": "v1"}, id="port"),
    pytest.param({"name": "gw", "sectionName": "a", "port": 8080}, {"a.com": 404, "b.com": 404}, id="both-must-hold"),
    pytest.param({"name": "gw"}, {"a.com": "v1", "b.com": "v1"}, id="whole-gateway"),
    pytest.param({"name": "other-gw"}, {"a.com": 404, "b.com": 404}, id="other-gateway"),
])
def test_parent_refs_section_name_and_port(proxy, echo_factory, parent, expected):
    echoes = {"v1": echo_factory("v1")}
    gw = gateway(listeners=[listener("a", 80, "a.com"), listener("b", 8080, "b.com")])
    deploy(proxy, echoes, [route("r", [rule([backend("v1")])], parents=[parent])], gateways=[gw])
    assert {host: backend_of(proxy, host=host) for host in expected} == expected
