"""HTTPRoute matching and precedence, end to end over real sockets, in both hot-path builds."""

from __future__ import annotations

import pytest

from gw_harness import backend, backend_of, deploy, gateway, listener, path_match, route, rule


@pytest.fixture
def three(echo_factory):
    return {name: echo_factory(name) for name in ("v1", "v2", "v3")}


def test_path_exact_and_segment_aware_prefix(proxy, three):
    deploy(proxy, three, [route("r", [
        rule([backend("v1")], [path_match("/exact", "Exact")]),
        rule([backend("v2")], [path_match("/v2/")]),  # trailing slash of the prefix is ignored
    ])])
    assert backend_of(proxy, "/exact") == "v1"
    assert backend_of(proxy, "/exact/more") == 404
    assert backend_of(proxy, "/v2") == "v2"
    assert backend_of(proxy, "/v2/") == "v2"
    assert backend_of(proxy, "/v2/x?q=1") == "v2"
    assert backend_of(proxy, "/v2example") == 404


def test_regular_expression_path(proxy, three):
    deploy(proxy, three, [route("r", [rule([backend("v1")], [path_match(r"/items/\d+", "RegularExpression")])])])
    assert backend_of(proxy, "/items/42") == "v1"
    assert backend_of(proxy, "/items/abc") == 404


def test_headers_names_case_insensitive_values_exact_or_regex(proxy, three):
    deploy(proxy, three, [route("r", [
        rule([backend("v1")], [path_match("/", headers=[{"name": "X-Version", "value": "one"}])]),
        rule([backend("v2")], [path_match("/", headers=[{"name": "x-tier", "type": "RegularExpression",
                                                          "value": "gold|silver"}])]),
        rule([backend("v3")], [path_match("/")]),
    ])])
    assert backend_of(proxy, headers={"x-VERSION": "one"}) == "v1"
    assert backend_of(proxy, headers={"X-Version": "ONE"}) == "v3"  # values are case-sensitive
    assert backend_of(proxy, headers={"X-Tier": "silver"}) == "v2"
    assert backend_of(proxy, headers={"X-Tier": "bronze"}) == "v3"


def test_query_params_names_case_sensitive(proxy, three):
    deploy(proxy, three, [route("r", [
        rule([backend("v1")], [path_match("/", queryParams=[{"name": "color", "value": "blue"}])]),
        rule([backend("v2")], [path_match("/")]),
    ])])
    assert backend_of(proxy, "/?color=blue") == "v1"
    assert backend_of(proxy, "/?Color=blue") == "v2"
    assert backend_of(proxy, "/?color=red") == "v2"


def test_method_match(proxy, three):
    deploy(proxy, three, [route("r", [
        rule([backend("v1")], [path_match("/", method="POST")]),
        rule([backend("v2")], [path_match("/")]),
    ])])
    assert proxy.json("/", method="POST", body=b"x")[1]["backend"] == "v1"
    assert backend_of(proxy, "/") == "v2"


def test_matches_in_a_rule_are_ored_fields_are_anded(proxy, three):
    deploy(proxy, three, [route("r", [
        rule([backend("v1")], [path_match("/a", headers=[{"name": "x", "value": "1"}]), path_match("/b")]),
        rule([backend("v2")], [path_match("/")]),
    ])])
    assert backend_of(proxy, "/a", headers={"x": "1"}) == "v1"
    assert backend_of(proxy, "/a") == "v2"  # path alone is not enough: fields are ANDed
    assert backend_of(proxy, "/b") == "v1"  # the second match of the same rule


def test_precedence_exact_over_longest_prefix(proxy, three):
    deploy(proxy, three, [route("r", [
        rule([backend("v1")], [path_match("/")]),
        rule([backend("v2")], [path_match("/a")]),
        rule([backend("v3")], [path_match("/a/b", "Exact")]),
    ])])
    assert backend_of(proxy, "/a/b") == "v3"
    assert backend_of(proxy, "/a/b/c") == "v2"
    assert backend_of(proxy, "/c") == "v1"


def test_precedence_method_then_headers_then_queries(proxy, three):
    deploy(proxy, three, [route("r", [
        rule([backend("v1")], [path_match("/p", queryParams=[{"name": "q", "value": "1"}],
                                          headers=[{"name": "h", "value": "1"}])]),
        rule([backend("v2")], [path_match("/p", method="GET")]),
        rule([backend("v3")], [path_match("/p", headers=[{"name": "h", "value": "1"}, {"name": "i", "value": "1"}])]),
    ])])
    # method beats header count
    assert backend_of(proxy, "/p?q=1", headers={"h": "1", "i": "1"}) == "v2"
    # without a GET: two headers beat one header plus a query
    assert proxy.json("/p?q=1", method="POST", body=b"", headers={"h": "1", "i": "1"})[1]["backend"] == "v3"
    assert proxy.json("/p?q=1", method="POST", body=b"", headers={"h": "1"})[1]["backend"] == "v1"


def test_precedence_more_query_matches(proxy, three):
    deploy(proxy, three, [route("r", [
        rule([backend("v1")], [path_match("/p", queryParams=[{"name": "a", "value": "1"}])]),
        rule([backend("v2")], [path_match("/p", queryParams=[{"name": "a", "value": "1"}, {"name": "b", "value": "1"}])]),
    ])])
    assert backend_of(proxy, "/p?a=1&b=1") == "v2"
    assert backend_of(proxy, "/p?a=1") == "v1"


def test_precedence_oldest_route_then_name_then_rule_order(proxy, three):
    deploy(proxy, three, [
        route("zz-old", [rule([backend("v1")], [path_match("/t")])], created="2020-01-01T00:00:00Z"),
        route("aa-new", [rule([backend("v2")], [path_match("/t")])], created="2024-01-01T00:00:00Z"),
        route("bb", [rule([backend("v3")], [path_match("/n")])], created="2024-01-01T00:00:00Z"),
        route("ab", [rule([backend("v2")], [path_match("/n")]), rule([backend("v1")], [path_match("/n")])],
              created="2024-01-01T00:00:00Z"),
    ])
    assert backend_of(proxy, "/t") == "v1"  # oldest creationTimestamp wins over the name
    assert backend_of(proxy, "/n") == "v2"  # same age: "default/ab" < "default/bb", then its first rule


def test_hostnames_exact_beats_wildcard_and_port_is_ignored(proxy, three):
    deploy(proxy, three, [
        route("wild", [rule([backend("v1")])], hostnames=["*.example.com"]),
        route("exact", [rule([backend("v2")])], hostnames=["foo.example.com"]),
        route("any", [rule([backend("v3")])]),
    ])
    assert backend_of(proxy, host="foo.example.com:8080") == "v2"
    assert backend_of(proxy, host="bar.example.com") == "v1"
    assert backend_of(proxy, host="a.b.example.com") == "v1"
    assert backend_of(proxy, host="example.com") == "v3"  # a wildcard never covers the apex
    assert backend_of(proxy, host="other.org") == "v3"


def test_no_match_is_404(proxy, three):
    deploy(proxy, three, [route("r", [rule([backend("v1")], [path_match("/only")])], hostnames=["a.com"])])
    assert backend_of(proxy, "/only", host="b.com") == 404
    assert backend_of(proxy, "/other", host="a.com") == 404


def test_listener_hostname_intersection_and_isolation(proxy, three):
    gateways = [gateway(listeners=[listener("specific", hostname="abc.foo.example.com"),
                                   listener("wild", hostname="*.example.com"),
                                   listener("empty")])]
    deploy(proxy, three, [
        route("on-specific", [rule([backend("v1")], [path_match("/specific")])],
              parents=[{"name": "gw", "sectionName": "specific"}]),
        route("on-wild", [rule([backend("v2")], [path_match("/wild")])],
              parents=[{"name": "gw", "sectionName": "wild"}], hostnames=["abc.foo.example.com", "x.example.com", "no.org"]),
        route("on-empty", [rule([backend("v3")], [path_match("/empty")])],
              parents=[{"name": "gw", "sectionName": "empty"}]),
    ], gateways=gateways)
    assert backend_of(proxy, "/specific", host="abc.foo.example.com") == "v1"
    # abc.foo.example.com belongs to the most specific listener only: the others' routes are isolated
    assert backend_of(proxy, "/wild", host="abc.foo.example.com") == 404
    assert backend_of(proxy, "/empty", host="abc.foo.example.com") == 404
    assert backend_of(proxy, "/wild", host="x.example.com") == "v2"
    assert backend_of(proxy, "/wild", host="y.example.com") == 404  # not in the route's hostnames
    assert backend_of(proxy, "/wild", host="no.org") == 404  # outside the listener's hostname
    assert backend_of(proxy, "/empty", host="no.org") == "v3"
