"""The C route table picks backends, endpoints and mirrors as the reference data path does.

Same seed, same draws: RandomSource is CPython's Mersenne Twister, and route_decide draws in the
order exchange.handle/begin draws (weighted pick, then each mirror's share), so whole decision
sequences, round-robin cursors included, are compared with the reference's.
"""

from __future__ import annotations

import pathlib
import random
import socket
import sys

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from gateway_proxy import _hotpath_py, mirroring

from gw_harness import backend, gateway, path_match, route, rule
from hotpath_worlds import compile_documents

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import route_table_harness as harness  # noqa: E402

# The reference's weighted-pick tables, through ``impl`` answering from a one-rule C table.
from test_weighted_pick_and_headers import test_pick_edges, test_pick_is_proportional_to_weight  # noqa: E402,F401


@pytest.fixture(params=["pure", "compiled"])
def impl(request):
    return harness.CTableBuild(harness.base_build(request.param), harness.table_module())


@pytest.fixture(scope="module")
def table():
    return harness.table_module()


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**32 - 1, 2**32, 2**63 + 11, 2**64 - 1, -7])
def test_random_source_draws_what_cpython_random_draws(table, seed):
    # 1,500 doubles use 3,000 words: the 624-word state is regenerated several times.
    ours, theirs = table.RandomSource(seed), random.Random(seed)
    assert [ours.random() for _ in range(1500)] == [theirs.random() for _ in range(1500)]


def service(name, addresses, ready=True, port=8080):
    return [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
             "spec": {"ports": [{"name": "http", "port": 80}]}},
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": {"name": f"{name}-1", "namespace": "default", "labels": {"kubernetes.io/service-name": name}},
             "addressType": "IPv4", "ports": [{"name": "http", "port": port}],
             "endpoints": [{"addresses": [address], "conditions": {"ready": ready}} for address in addresses]}]


# "gone" has no Service (500), "down" has no ready endpoint (503).
SERVICES = (service("v1", ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) + service("v2", ["10.0.1.1"], port=9090)
            + service("v3", ["10.0.2.1", "10.0.2.2"]) + service("down", ["10.0.3.1"], ready=False))


def compile_world(routes, listeners=None):
    return compile_documents(_hotpath_py, [gateway(listeners=listeners)] + SERVICES + routes)


def reference_decisions(compiled, requests, seed, tls_flags=None):
    """exchange.handle and Exchange.begin's decisions, drawing from random.Random(seed)."""
    draw = random.Random(seed).random
    impl = _hotpath_py
    out = []
    for number, (host, path) in enumerate(requests):
        table = compiled.tls_table if tls_flags and tls_flags[number] else compiled.table
        match = impl.route(table, impl.normalize_host(host), "GET", path, "", {"host": host})
        if match is None:
            out.append((404, None, None, None, ()))
            continue
        rule_ = match.rule
        name = (rule_.namespace, rule_.route, rule_.index)
        if rule_.redirect is not None:
            out.append((rule_.redirect.status, name, None, None, ()))
            continue
        picked = impl.pick_backend(rule_, draw())
        if picked is None or picked.status:
            out.append((500 if picked is None else picked.status, name, picked and picked.name, None, ()))
            continue
        mirrors = []
        for mirror in rule_.mirrors:
            if mirror.count and (mirror.weight >= mirroring.EVERY or draw() * mirroring.EVERY < mirror.weight):
                mirrors.append((mirror.name, mirror.next_endpoint()))
        out.append((0, name, picked.name, picked.next_endpoint(), tuple(mirrors)))
    return out


def c_decisions(table, compiled, requests, seed, tls_flags=None):
    c_table = table.RouteTable(compiled.table, compiled.tls_table)
    source = table.RandomSource(seed)
    out = []
    for number, (host, path) in enumerate(requests):
        status, _, rule_id, backend_id, endpoint, mirrors = c_table.decide(
            source, "GET", path, "", host, [("Host", host)], bool(tls_flags and tls_flags[number]))
        rule_ = None if rule_id is None else c_table.rules[rule_id]
        out.append((status, None if rule_ is None else (rule_.namespace, rule_.route, rule_.index),
                    None if backend_id is None else c_table.backends[backend_id].name,
                    None if endpoint is None else c_table.endpoint(endpoint),
                    tuple((c_table.backends[c_table.endpoint_owner(e)].name, c_table.endpoint(e)) for e in mirrors)))
    return out


@st.composite
def weighted_rules(draw, index):
    backends = [backend(draw(st.sampled_from(["v1", "v2", "v3", "gone", "down"])), draw(st.integers(0, 3)))
                for _ in range(draw(st.integers(1, 3)))]
    filters = []
    for _ in range(draw(st.integers(0, 2))):
        mirror = {"backendRef": {"name": draw(st.sampled_from(["v1", "v2", "v3", "down"])), "port": 80}}
        share = draw(st.sampled_from([None, 0, 37, 50, 100]))
        if share is not None:
            mirror["percent"] = share
        filters.append({"type": "RequestMirror", "requestMirror": mirror})
    if draw(st.integers(0, 5)) == 0:
        filters.append({"type": "RequestRedirect", "requestRedirect": {"statusCode": 301}})
    return rule(backends, [path_match(f"/p{index}")], filters=filters or None)


@st.composite
def weighted_routes(draw):
    return [route(f"r{index}", [draw(weighted_rules(index))]) for index in range(draw(st.integers(1, 4)))]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(weighted_routes(), st.lists(st.integers(0, 4), min_size=1, max_size=40), st.integers(0, 2**64 - 1))
def test_decision_sequences_are_the_reference_sequences(table, routes, paths, seed):
    requests = [("example.com", f"/p{index}/x") for index in paths]
    # Two compiles: each side starts from its own cursors at 0.
    expected = reference_decisions(compile_world(routes), requests, seed)
    assert c_decisions(table, compile_world(routes), requests, seed) == expected


def test_a_redirect_draws_nothing(table):
    routes = [route("r", [rule([backend("v1"), backend("v2")], [path_match("/a")]),
                          rule([backend("v1")], [path_match("/moved")], filters=[
                              {"type": "RequestRedirect", "requestRedirect": {"statusCode": 308}}])])]
    requests = [("example.com", "/a"), ("example.com", "/moved"), ("example.com", "/a"), ("example.com", "/a")]
    decided = c_decisions(table, compile_world(routes), requests, 3)
    assert decided == reference_decisions(compile_world(routes), requests, 3)
    assert decided[1][0] == 308 and decided[1][2] is None


def test_plain_and_tls_requests_turn_the_cursors_the_reference_turns(table):
    # An HTTPS listener's rules are in the plain and the TLS table, and a Backend object reached
    # from both must be laid out once: one C cursor per reference cursor, whichever table routed.
    listeners = [{"name": "http", "port": 80, "protocol": "HTTP"},
                 {"name": "https", "port": 443, "protocol": "HTTPS", "tls": {"certificateRefs": []}}]
    routes = [route("r", [rule([backend("v1")], [path_match("/")])])]
    requests = [("example.com", "/")] * 6
    flags = [False, True, True, False, True, False]
    expected = reference_decisions(compile_world(routes, listeners), requests, 5, flags)
    assert len({decision[3] for decision in expected}) == 3  # the three endpoints of v1, in turn
    assert c_decisions(table, compile_world(routes, listeners), requests, 5, flags) == expected


def test_a_rebuilt_table_continues_the_reference_cursor(table):
    compiled = compile_world([route("r", [rule([backend("v1")], [path_match("/")])])])
    backend_ = compiled.rules[0].backends[0]
    backend_.next_endpoint()
    backend_.next_endpoint()
    c_table = table.RouteTable(compiled.table)
    decided = c_table.decide(table.RandomSource(1), "GET", "/", "", "example.com")
    assert c_table.endpoint(decided[4]) == backend_.next_endpoint() == ("10.0.0.3", 8080)


def test_a_decision_carries_what_forwarding_needs(table):
    modifier = {"set": [{"name": "X-Set", "value": "s"}], "add": [{"name": "X-Add", "value": "a"}],
                "remove": ["X-Gone"]}
    backend_filtered = dict(backend("v2"), filters=[{"type": "RequestHeaderModifier",
                                                     "requestHeaderModifier": {"set": [{"name": "X-B", "value": "b"}]}}])
    routes = [route("r", [rule([backend("v1", 1), backend_filtered], [path_match("/api")], filters=[
        {"type": "RequestHeaderModifier", "requestHeaderModifier": modifier},
        {"type": "ResponseHeaderModifier", "responseHeaderModifier": {"remove": ["Server"]}},
        {"type": "URLRewrite", "urlRewrite": {"hostname": "inner", "path": {
            "type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2"}}}],
        timeouts={"request": "2s", "backendRequest": "500ms"})])]
    compiled = compile_world(routes)
    c_table = table.RouteTable(compiled.table)
    reference_rule = compiled.rules[0]
    fields = c_table.rule_fields(0)
    assert c_table.rules[0] is reference_rule
    assert (fields["request_timeout"], fields["backend_timeout"], fields["listener_port"], fields["https"]) == (
        2.0, 0.5, 80, 0)
    assert c_table.rewrites[fields["rewrite"]] is reference_rule.rewrite and fields["redirect"] == -1
    assert fields["rewrite_kind"] == 2 and fields["rewrite_host"] == 1  # REWRITE_PREFIX, hostname set
    match = c_table.matches[c_table.match("GET", "/api/x", host="example.com")]
    assert match.path_value == "/api"
    for backend_id, python_backend in enumerate(c_table.backends):
        request_ops, response_ops = (c_table.backend_fields(backend_id)["request_ops"],
                                     c_table.backend_fields(backend_id)["response_ops"])
        wanted = python_backend.request_headers or reference_rule.request_headers
        assert c_table.header_ops(request_ops) == (wanted.set_lines, wanted.remove, wanted.set_names,
                                                   wanted.add_names, wanted.add_items)
        assert c_table.header_ops(response_ops)[1] == reference_rule.response_headers.remove == {b"server"}
    assert c_table.header_ops(c_table.backend_fields(1)["request_ops"])[0] == b"X-Set: s\r\nX-B: b\r\n"


def test_endpoints_are_parsed_addresses(table):
    compiled = compile_world([route("r", [rule([backend("v2")], [path_match("/")])])])
    c_table = table.RouteTable(compiled.table)
    endpoint = c_table.decide(table.RandomSource(0), "GET", "/", "", "example.com")[4]
    assert c_table.endpoint(endpoint) == ("10.0.1.1", 9090)
    assert c_table.endpoint_address(endpoint) == (socket.AF_INET, socket.inet_pton(socket.AF_INET, "10.0.1.1"))


def test_zero_weights_and_unserved_backends_answer_their_status(table):
    routes = [route("zero", [rule([backend("v1", 0)], [path_match("/zero")])]),
              route("gone", [rule([backend("gone")], [path_match("/gone")])]),
              route("down", [rule([backend("down")], [path_match("/down")])])]
    c_table = table.RouteTable(compile_world(routes).table)
    source = table.RandomSource(0)
    statuses = [c_table.decide(source, "GET", path, "", "example.com")[0] for path in ("/zero", "/gone", "/down", "/none")]
    assert statuses == [500, 500, 503, 404]
