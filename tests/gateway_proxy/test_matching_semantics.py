"""Matching and precedence decided by the hot path alone (no sockets), in both builds."""

from __future__ import annotations

import pytest

from gw_harness import backend, gateway, listener, path_match, route, rule
from hotpath_worlds import answer, world


def backend_for(impl, compiled, **request):
    found = answer(impl, compiled, **request)
    return found[2] if found else None


@pytest.mark.parametrize("match, path, hit", [
    pytest.param(path_match("/v2"), "/v2", True, id="prefix-equal"),
    pytest.param(path_match("/v2"), "/v2/x", True, id="prefix-child"),
    pytest.param(path_match("/v2"), "/v2/", True, id="prefix-trailing-slash-request"),
    pytest.param(path_match("/v2"), "/v2example", False, id="prefix-not-a-segment"),
    pytest.param(path_match("/v2/"), "/v2", True, id="prefix-trailing-slash-ignored"),
    pytest.param(path_match("/v2/"), "/v2x", False, id="prefix-trailing-slash-still-segment-aware"),
    pytest.param(path_match("/"), "/anything/at/all", True, id="root-prefix"),
    pytest.param(path_match("/a/b", "Exact"), "/a/b", True, id="exact"),
    pytest.param(path_match("/a/b", "Exact"), "/a/b/", False, id="exact-trailing-slash"),
    pytest.param(path_match("/a/b", "Exact"), "/A/b", False, id="exact-case-sensitive"),
    pytest.param(path_match(r"/r/[0-9]+", "RegularExpression"), "/r/12", True, id="regex"),
    pytest.param(path_match(r"/r/[0-9]+", "RegularExpression"), "/r/12/x", False, id="regex-full-match"),
])
def test_path_matching(impl, match, path, hit):
    compiled = world(impl, [route("r", [rule([backend("v1")], [match])])])
    assert (backend_for(impl, compiled, path=path) == "v1") is hit


def test_header_and_query_and_method_conditions(impl):
    compiled = world(impl, [route("r", [
        rule([backend("v1")], [path_match("/", method="PUT", headers=[{"name": "X-A", "value": "1"}],
                                          queryParams=[{"name": "q", "value": "a b"}])]),
        rule([backend("v2")], [path_match("/", headers=[{"name": "x-re", "type": "RegularExpression",
                                                           "value": "ab+c"}])]),
    ])])
    assert backend_for(impl, compiled, method="PUT", headers={"x-a": "1"}, query="q=a+b") == "v1"
    assert backend_for(impl, compiled, method="PUT", headers={"x-a": "1"}, query="q=a%20b&q=other") == "v1"
    assert backend_for(impl, compiled, method="GET", headers={"x-a": "1"}, query="q=a+b") is None
    assert backend_for(impl, compiled, method="PUT", headers={"x-a": "1"}, query="Q=a+b") is None
    assert backend_for(impl, compiled, headers={"x-re": "abbbc"}) == "v2"
    assert backend_for(impl, compiled, headers={"x-re": "xabc"}) is None


def test_repeated_header_match_names_only_first_counts(impl):
    compiled = world(impl, [route("r", [rule([backend("v1")], [path_match("/", headers=[
        {"name": "X-A", "value": "1"}, {"name": "x-a", "value": "2"}])])])])
    assert backend_for(impl, compiled, headers={"x-a": "1"}) == "v1"


@pytest.mark.parametrize("request_, expected", [
    pytest.param({"path": "/a/b"}, "exact", id="exact-beats-prefix"),
    pytest.param({"path": "/a/b/c"}, "long", id="longest-prefix"),
    pytest.param({"path": "/a/x", "method": "POST"}, "method", id="method-beats-headers"),
    pytest.param({"path": "/a/x", "headers": {"h1": "1", "h2": "1"}}, "two-headers", id="most-headers"),
    pytest.param({"path": "/a/x", "headers": {"h1": "1"}, "query": "q1=1&q2=1"}, "two-queries", id="most-queries"),
    pytest.param({"path": "/a/x"}, "old", id="oldest-route"),
])
def test_precedence_order(impl, request_, expected):
    created_old, created_new = "2020-01-01T00:00:00Z", "2025-01-01T00:00:00Z"

    def named(name, matches, created=created_new):
        return route(name, [rule([backend("v1")], matches)], created=created)

    compiled = world(impl, [
        named("exact", [path_match("/a/b", "Exact")]),
        named("long", [path_match("/a/b")]),
        named("method", [path_match("/a", method="POST")]),
        named("two-headers", [path_match("/a", headers=[{"name": "h1", "value": "1"}, {"name": "h2", "value": "1"}])]),
        named("two-queries", [path_match("/a", headers=[{"name": "h1", "value": "1"}],
                                         queryParams=[{"name": "q1", "value": "1"}, {"name": "q2", "value": "1"}])]),
        named("old", [path_match("/a")], created_old),
        named("new", [path_match("/a")]),
    ])
    assert answer(impl, compiled, **request_)[0] == expected


def test_ties_break_on_namespace_then_name_then_rule_order(impl):
    compiled = world(impl, [
        route("b", [rule([backend("v1")], [path_match("/t")])], namespace="default"),
        route("a", [rule([backend("v2")], [path_match("/t")]), rule([backend("v3")], [path_match("/t")])],
              namespace="default"),
    ], gateways=[gateway(listeners=[listener("http", namespaces="All")])])
    assert answer(impl, compiled, path="/t") == ("a", 0, "v2")


@pytest.mark.parametrize("host, expected", [
    pytest.param("a.example.com", "exact", id="exact-host"),
    pytest.param("A.Example.COM:8443", "exact", id="case-and-port-ignored"),
    pytest.param("b.a.example.com", "deeper-wildcard", id="longer-wildcard"),
    pytest.param("c.example.com", "wildcard", id="wildcard"),
    pytest.param("x.y.example.com", "wildcard", id="wildcard-several-labels"),
    pytest.param("example.com", "catch-all", id="apex-not-covered"),
    pytest.param("[::1]:80", "catch-all", id="ipv6-literal"),
])
def test_hostname_specificity(impl, host, expected):
    compiled = world(impl, [
        route("exact", [rule([backend("v1")])], hostnames=["a.example.com"]),
        route("deeper-wildcard", [rule([backend("v1")])], hostnames=["*.a.example.com"]),
        route("wildcard", [rule([backend("v1")])], hostnames=["*.example.com"]),
        route("catch-all", [rule([backend("v1")])]),
    ])
    assert answer(impl, compiled, host=host)[0] == expected


def test_more_specific_host_falls_back_to_wider_route_hostnames_within_a_listener(impl):
    compiled = world(impl, [
        route("specific", [rule([backend("v1")], [path_match("/only")])], hostnames=["a.example.com"]),
        route("wide", [rule([backend("v2")], [path_match("/")])]),
    ])
    assert answer(impl, compiled, host="a.example.com", path="/only")[0] == "specific"
    assert answer(impl, compiled, host="a.example.com", path="/other")[0] == "wide"


def test_tie_breaks_on_namespace_before_name(impl):
    compiled = world(impl, [
        route("a", [rule([backend("v1")], [path_match("/t")])], namespace="zeta"),
        route("z", [rule([backend("v2")], [path_match("/t")])], namespace="alpha"),
    ], gateways=[gateway(listeners=[listener("http", namespaces="All")])])
    assert answer(impl, compiled, path="/t")[:2] == ("z", 0)  # "alpha/z" sorts before "zeta/a"
