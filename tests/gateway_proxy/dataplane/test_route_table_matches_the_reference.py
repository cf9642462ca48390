"""The C route table picks the rule the reference picks: its own tables, then random tables."""

from __future__ import annotations

import pathlib
import re
import sys

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from gateway_proxy import _hotpath_py

from gw_harness import backend, gateway, path_match, route, rule
from hotpath_worlds import world

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import route_table_harness as harness  # noqa: E402

# The reference's matching and precedence tables, run here through ``impl``, which answers from a
# C table laid out from the table each test compiles.
from test_matching_semantics import (  # noqa: E402,F401
    test_header_and_query_and_method_conditions,
    test_hostname_specificity,
    test_more_specific_host_falls_back_to_wider_route_hostnames_within_a_listener,
    test_path_matching,
    test_precedence_order,
    test_repeated_header_match_names_only_first_counts,
    test_tie_breaks_on_namespace_before_name,
    test_ties_break_on_namespace_then_name_then_rule_order,
)


@pytest.fixture(params=["pure", "compiled"])
def impl(request):
    return harness.CTableBuild(harness.base_build(request.param), harness.table_module())


@pytest.fixture(scope="module")
def table():
    return harness.table_module()


def test_the_tls_flag_answers_from_the_tls_listener_table(table):
    plain = world(_hotpath_py, [route("plain", [rule([backend("v1")])])])
    secure = world(_hotpath_py, [route("secure", [rule([backend("v2")])])])
    both = table.RouteTable(plain.table, secure.table)
    assert both.matches[both.match("GET", "/", host="example.com")].rule.route == "plain"
    assert both.matches[both.match("GET", "/", host="example.com", tls=True)].rule.route == "secure"
    assert table.RouteTable(plain.table).match("GET", "/", host="example.com", tls=True) is None


def test_a_long_percent_encoded_query_value_still_matches(table):
    value = "é" * 200  # 400 bytes of UTF-8, 1,200 bytes on the wire: past any fixed buffer
    compiled = world(_hotpath_py, [route("r", [rule([backend("v1")], [path_match("/", queryParams=[
        {"name": "q", "value": value}])])])])
    c_table = table.RouteTable(compiled.table)
    encoded = "".join(f"%{byte:02X}" for byte in value.encode("utf-8"))
    assert c_table.match("GET", "/", f"q={encoded}", "example.com") is not None
    assert c_table.match("GET", "/", f"q={encoded[:-3]}", "example.com") is None
    assert c_table.match("GET", "/", f"q={encoded}%41", "example.com") is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(["%", "+", "%C3", "%A9", "%E1%80", "%F0%90%80", "%ED%A0%80", "%zz", "%4",
                                           "%FF", "%C0%80", "%F4%90%80%80"]),
                          st.text(alphabet=st.characters(max_codepoint=255, blacklist_characters="&="), max_size=3)),
                max_size=8).map("".join))
def test_query_components_decode_like_the_reference(table, text):
    assert table.decode_query_component(text) == _hotpath_py.parse_query("k=" + text)["k"]


# ---- random tables and requests ----

CONFIG_SEGMENTS = ["a", "b", "ab", "v2", "x-y", "", "é", "ж"]  # "ж" cannot be on the wire (latin-1)
REQUEST_SEGMENTS = ["a", "b", "ab", "v2", "x-y", "", "é", "A"]
config_paths = st.lists(st.sampled_from(CONFIG_SEGMENTS), max_size=4).map(lambda parts: "/" + "/".join(parts))
request_paths = st.one_of(st.lists(st.sampled_from(REQUEST_SEGMENTS), max_size=4).map(
    lambda parts: "/" + "/".join(parts)), st.sampled_from(["", "a/b", "//", "/a//"]))
header_names = st.sampled_from(["x-a", "X-B", "x-c"])
header_values = st.sampled_from(["1", "2", "ab", "abb", "1,2", "é", "ж", ""])
query_names = st.sampled_from(["q", "Q", "r", "é", "a b"])
query_values = st.sampled_from(["1", "a b", "a+b", "é", "\ufffd", "", "ж"])
methods = st.sampled_from(["GET", "POST", "PUT"])


@st.composite
def matches(draw):
    kind = draw(st.sampled_from(["PathPrefix", "PathPrefix", "Exact", "RegularExpression"]))
    value = draw(config_paths)
    if kind == "RegularExpression":
        value = value.replace("ab", "ab+") + draw(st.sampled_from(["", ".*", "/?", "[é]?"]))
    extra = {}
    if draw(st.booleans()):
        extra["method"] = draw(methods)
    headers = draw(st.lists(st.tuples(header_names, header_values, st.booleans()), max_size=2))
    if headers:
        extra["headers"] = [{"name": n, "value": f"({re.escape(v)})+" if regex else v,
                             "type": "RegularExpression" if regex else "Exact"} for n, v, regex in headers]
    queries = draw(st.lists(st.tuples(query_names, query_values, st.booleans()), max_size=2))
    if queries:
        extra["queryParams"] = [{"name": n, "value": (v + ".*") if regex else v,
                                 "type": "RegularExpression" if regex else "Exact"} for n, v, regex in queries]
    return path_match(value, kind, **extra)


@st.composite
def routes(draw):
    out = []
    for index in range(draw(st.integers(1, 6))):
        rules = [rule([backend(draw(st.sampled_from(["v1", "v2", "v3"])))],
                      draw(st.lists(matches(), min_size=1, max_size=3)))
                 for _ in range(draw(st.integers(1, 3)))]
        hostnames = draw(st.lists(st.sampled_from(["a.example.com", "*.example.com", "*.a.example.com", "other.org",
                                                   "éx.example.com", "жx.example.com"]), max_size=2))
        created = draw(st.sampled_from(["2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"]))
        out.append(route(f"r{index}", rules, namespace=draw(st.sampled_from(["default", "apps"])),
                         hostnames=hostnames or None, created=created))
    return out


@st.composite
def listeners(draw):
    chosen = draw(st.lists(st.sampled_from([None, "*.example.com", "a.example.com", "other.org"]), min_size=1,
                           max_size=3, unique=True))
    return [{"name": f"l{index}", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}},
             **({"hostname": hostname} if hostname else {})} for index, hostname in enumerate(chosen)]


@st.composite
def requests(draw):
    host = draw(st.sampled_from(["example.com", "a.example.com", "b.a.example.com", "A.EXAMPLE.com:80",
                                 "a.example.com.", "other.org", "[::1]:80", "[::1", "", "x.Other.ORG:8080",
                                 "ÉX.example.com", "éx.example.com"]))
    raw = [(name, value) for name, value in draw(st.lists(st.tuples(header_names, header_values), max_size=4))
           if value != "ж"]
    parts = draw(st.lists(st.one_of(
        st.tuples(query_names, query_values).map(lambda pair: f"{pair[0]}={pair[1]}"),
        st.sampled_from(["q", "", "q=%C3%A9", "q=%E9", "%71=1", "q=a%20b", "q=%ZZ", "r=%E1%80", "a+b=1"])),
        max_size=4))
    return host, draw(methods), draw(request_paths), _percent_encoded("&".join(parts)), raw


def _percent_encoded(text):
    """A query as a client sends it: characters beyond latin-1 percent-encoded as UTF-8."""
    return "".join(c if ord(c) < 256 else "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(routes(), listeners(), st.lists(requests(), min_size=1, max_size=10))
def test_random_tables_pick_the_reference_match(table, route_list, listener_list, request_list):
    gateways = [gateway(listeners=listener_list)]
    for base in (_hotpath_py, harness.base_build("compiled")):
        compiled = world(base, route_list, gateways=gateways)
        c_table = table.RouteTable(compiled.table, compiled.tls_table)
        for host, method, path, query, raw in request_list:
            wire = [(b"Host", host.encode("latin-1"))] + [(n.encode("latin-1"), v.encode("latin-1")) for n, v in raw]
            expected = base.route(compiled.table, base.normalize_host(host), method, path, query,
                                  base.index_headers(wire))
            found = c_table.match(method, path, query, host, wire)
            assert (None if found is None else c_table.matches[found]) is expected, (host, method, path, query, raw)
