"""GRPCRoute matching and precedence as pure decisions: parse, attach, compile, route.

Tables of (routes, call) -> the rule that answers, following the spec's order: hostname
specificity, characters in the matching service, then method, then header matches, then the
oldest route, then "{namespace}/{name}", then rule order; and the HTTPRoute/GRPCRoute clash.
"""

from __future__ import annotations

import pytest

from gateway_proxy import attachment, resources
from gateway_proxy.errors import InvalidDocument
from gateway_proxy.grpc import attaching, codes, table
from grpc_config import grpc_route, grpc_rule, method
from gw_harness import backend, gateway, listener, route, rule

ECHO = "pkg.Echo"


def _config(*documents) -> attachment.Config:
    return attachment.Config.of(resources.parse(document, "test") for document in documents)


def _winner(routes, path=f"/{ECHO}/Call", authority="example.com", headers=None, gateways=None):
    config = _config(*(gateways or [gateway()]), *routes)
    settled = attaching.settle(config)
    compiled = table.compile_table(config, settled.grpc)
    found = table.route(compiled.plain, authority, path, headers or {})
    return None if found is None else (found.rule.route, found.rule.index)


@pytest.mark.parametrize("routes,call,expected", [
    pytest.param([grpc_route("r", [grpc_rule([], [method("pkg.Other")]), grpc_rule([], [method(ECHO, "Call")])])],
                 {}, ("r", 1), id="exact-service-and-method"),
    pytest.param([grpc_route("r", [grpc_rule([], [method(ECHO)]), grpc_rule([], [method(ECHO, "Call")])])],
                 {}, ("r", 1), id="a-method-adds-characters"),
    pytest.param([grpc_route("r", [grpc_rule([], [method(name="Call")]), grpc_rule([], [method(ECHO)])])],
                 {}, ("r", 1), id="service-characters-before-method-characters"),
    pytest.param([grpc_route("r", [grpc_rule([], [method(ECHO, "Call")]),
                                   grpc_rule([], [method(ECHO, "Call", headers={"v": "2"})])])],
                 {"headers": {"v": "2"}}, ("r", 1), id="header-matches-break-the-tie"),
    pytest.param([grpc_route("r", [grpc_rule([], [method(ECHO, "Call", headers={"v": "2"})])])],
                 {"headers": {"v": "3"}}, None, id="header-value-differs"),
    pytest.param([grpc_route("r", [grpc_rule([], [method(r"pkg\..*", "C.*", kind="RegularExpression")])])],
                 {}, ("r", 0), id="regex-service-and-method"),
    pytest.param([grpc_route("r", [grpc_rule([], [method(r"pkg\.E", kind="RegularExpression")])])],
                 {}, None, id="regex-matches-the-whole-service"),
    pytest.param([grpc_route("young", [grpc_rule([], [method(ECHO)])], created="2025-01-01T00:00:00Z"),
                  grpc_route("old", [grpc_rule([], [method(ECHO)])], created="2024-01-01T00:00:00Z")],
                 {}, ("old", 0), id="oldest-route"),
    pytest.param([grpc_route("b", [grpc_rule([], [method(ECHO)])]), grpc_route("a", [grpc_rule([], [method(ECHO)])])],
                 {}, ("a", 0), id="then-namespace-and-name"),
    pytest.param([grpc_route("r", [grpc_rule([], [method(ECHO)]), grpc_rule([], [method(ECHO)])])],
                 {}, ("r", 0), id="then-rule-order"),
    pytest.param([grpc_route("any", [grpc_rule([])]),
                  grpc_route("host", [grpc_rule([], [method(name="Nope")]), grpc_rule([])],
                             hostnames=["example.com"])],
                 {}, ("host", 1), id="exact-hostname-first"),
    pytest.param([grpc_route("wild", [grpc_rule([], [method(ECHO, "Call")])], hostnames=["*.com"]),
                  grpc_route("host", [grpc_rule([])], hostnames=["example.com"])],
                 {}, ("host", 0), id="non-wildcard-hostname-before-more-service-characters"),
    pytest.param([grpc_route("r", [grpc_rule([])])], {"path": "/not-grpc"}, None, id="not-a-grpc-path"),
    pytest.param([grpc_route("r", [grpc_rule([])])], {"path": f"/{ECHO}/Call/extra"}, None, id="too-many-segments"),
])
def test_precedence(routes, call, expected):
    assert _winner(routes, **call) == expected


def test_a_route_on_another_listener_does_not_serve_its_hostname():
    gateways = [gateway(listeners=[listener("a", hostname="a.example.com"), listener("wild", hostname="*.example.com")])]
    routes = [grpc_route("on-a", [grpc_rule([], [method("pkg.Other")])], parents=[{"name": "gw", "sectionName": "a"}]),
              grpc_route("on-wild", [grpc_rule([])], parents=[{"name": "gw", "sectionName": "wild"}])]
    assert _winner(routes, authority="a.example.com", gateways=gateways) is None
    assert _winner(routes, authority="b.example.com", gateways=gateways) == ("on-wild", 0)


def test_allowed_route_kinds_can_leave_grpcroutes_out():
    only_http = [gateway(listeners=[listener("http", kinds=[{"kind": "HTTPRoute"}])])]
    assert _winner([grpc_route("r", [grpc_rule([])])], gateways=only_http) is None


@pytest.mark.parametrize("http_created,grpc_created,loser", [
    pytest.param("2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "g", id="older-httproute-wins"),
    pytest.param("2025-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "h", id="older-grpcroute-wins"),
])
def test_one_hostname_is_served_by_one_route_kind(http_created, grpc_created, loser):
    config = _config(gateway(), route("h", [rule([backend("x")])], hostnames=["a.example.com"], created=http_created),
                     grpc_route("g", [grpc_rule([])], hostnames=["*.example.com"], created=grpc_created))
    settled = attaching.settle(config)
    assert [item.route.meta.name for item in settled.rejected] == [loser]
    assert {item.route.meta.name for item in settled.http + settled.grpc} == {"h", "g"} - {loser}


def test_routes_of_both_kinds_on_distinct_hostnames_are_both_served():
    config = _config(gateway(), route("h", [rule([backend("x")])], hostnames=["web.example.com"]),
                     grpc_route("g", [grpc_rule([])], hostnames=["api.example.com"]))
    settled = attaching.settle(config)
    assert not settled.rejected and len(settled.http) == len(settled.grpc) == 1


@pytest.mark.parametrize("filters,problem", [
    pytest.param([{"type": "ExtensionRef", "extensionRef": {"group": "x", "kind": "Y", "name": "z"}}],
                 "unsupported filters ExtensionRef", id="extension-ref"),
    pytest.param([{"type": "URLRewrite", "urlRewrite": {"hostname": "x"}}], "URLRewrite is not a GRPCRoute filter",
                 id="httproute-only-filter"),
    pytest.param([{"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "a", "value": "b"}]}}],
                 None, id="header-modifier-is-fine"),
])
def test_filters_a_grpcroute_cannot_hold_are_rule_problems(filters, problem):
    parsed = resources.parse(grpc_route("r", [grpc_rule([], filters=filters)]), "test")
    found = table.rule_problem(parsed.rules[0])
    assert (found[1] if found else None) == problem


@pytest.mark.parametrize("match,error", [
    pytest.param({"method": {"type": "Exact"}}, "needs service or method", id="empty-method-match"),
    pytest.param({"method": {"type": "Exact", "service": "a/b"}}, "cannot contain '/'", id="slash-in-exact"),
    pytest.param({"method": {"type": "RegularExpression", "service": "("}}, "error", id="bad-regex"),
    pytest.param({"method": {"type": "Prefix", "service": "a"}}, "unsupported method match type", id="unknown-type"),
])
def test_invalid_method_matches_are_rejected(match, error):
    with pytest.raises(InvalidDocument, match=error):
        resources.parse(grpc_route("r", [grpc_rule([], [match])]), "test")


def test_weighted_pick_follows_the_weights():
    rule_ = table.Rule("ns", "r", 0, [table.Backend("ns", "a", 0, (), 3), table.Backend("ns", "b", 0, (), 1),
                                      table.Backend("ns", "zero", 0, (), 0)], None, None, [], "")
    picks = [rule_.pick(step / 400).name for step in range(400)]
    assert picks.count("a") == 300 and picks.count("b") == 100


@pytest.mark.parametrize("status,expected", [(200, 2), (404, 12), (503, 14), (500, 2), (401, 16)])
def test_an_http_status_without_grpc_status_counts_as_grpc_does(status, expected):
    assert codes.from_http(status) == expected  # Unknown, Unimplemented, Unavailable, Unknown, Unauthenticated
