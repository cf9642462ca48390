"""Both hot-path builds give identical answers to the same random routes and requests.

Drift between two parsers of one protocol is a known source of bugs (aiohttp #4436, #7165);
here hypothesis generates route tables and requests and every decision is compared.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from gateway_proxy import _hotpath_py, hotpath

from gw_harness import backend, path_match, route, rule
from hotpath_worlds import world

compiled_build = hotpath.compiled()
pytestmark = pytest.mark.skipif(compiled_build is None, reason="compiled hot path not built")

SEGMENTS = ["a", "b", "ab", "v2", "x-y", ""]
paths = st.lists(st.sampled_from(SEGMENTS), min_size=0, max_size=4).map(lambda parts: "/" + "/".join(parts))
hosts = st.sampled_from(["example.com", "a.example.com", "b.a.example.com", "other.org", "A.EXAMPLE.com:80", ""])
names = st.sampled_from(["x-a", "X-B", "x-c"])
values = st.sampled_from(["1", "2", "ab", "abb"])
methods = st.sampled_from(["GET", "POST", "PUT"])


@st.composite
def matches(draw):
    kind = draw(st.sampled_from(["PathPrefix", "PathPrefix", "Exact", "RegularExpression"]))
    value = draw(paths)
    if kind == "RegularExpression":
        value = value.replace("ab", "ab+") + draw(st.sampled_from(["", ".*", "/?"]))
    extra = {}
    if draw(st.booleans()):
        extra["method"] = draw(methods)
    headers = draw(st.lists(st.tuples(names, values, st.booleans()), max_size=2))
    if headers:
        extra["headers"] = [{"name": n, "value": v, "type": "RegularExpression" if regex else "Exact"}
                            for n, v, regex in headers]
    queries = draw(st.lists(st.tuples(st.sampled_from(["q", "Q", "r"]), values), max_size=2))
    if queries:
        extra["queryParams"] = [{"name": n, "value": v} for n, v in queries]
    return path_match(value, kind, **extra)


@st.composite
def routes(draw):
    out = []
    for index in range(draw(st.integers(1, 6))):
        rules = [rule([backend(draw(st.sampled_from(["v1", "v2", "v3"])), draw(st.integers(0, 3)))],
                      draw(st.lists(matches(), min_size=1, max_size=3)))
                 for _ in range(draw(st.integers(1, 3)))]
        hostnames = draw(st.lists(st.sampled_from(["a.example.com", "*.example.com", "*.a.example.com", "other.org"]),
                                  max_size=2))
        created = draw(st.sampled_from(["2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"]))
        out.append(route(f"r{index}", rules, namespace=draw(st.sampled_from(["default", "apps"])),
                         hostnames=hostnames or None, created=created))
    return out


@st.composite
def requests(draw):
    headers = {n.lower(): v for n, v in draw(st.lists(st.tuples(names, values), max_size=3))}
    query = "&".join(f"{n}={v}" for n, v in draw(st.lists(st.tuples(st.sampled_from(["q", "Q", "r"]), values),
                                                          max_size=3)))
    return draw(hosts), draw(methods), draw(paths), query, headers


def decide(impl, compiled, request, fraction):
    host, method, path, query, headers = request
    match = impl.route(compiled.table, impl.normalize_host(host), method, path, query, headers)
    if match is None:
        return None
    rule_ = match.rule
    picked = impl.pick_backend(rule_, fraction)
    return (rule_.namespace, rule_.route, rule_.index, match.key, picked.name if picked is not None else None)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(routes(), st.lists(requests(), min_size=1, max_size=8), st.floats(0, 1, exclude_max=True))
def test_routing_decisions_are_identical(route_list, request_list, fraction):
    documents_gateway = [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                          "metadata": {"name": "gw", "namespace": "default"},
                          "spec": {"listeners": [{"name": "http", "port": 80, "protocol": "HTTP",
                                                  "allowedRoutes": {"namespaces": {"from": "All"}}}]}}]
    pure = world(_hotpath_py, route_list, gateways=documents_gateway)
    fast = world(compiled_build, route_list, gateways=documents_gateway)
    for request in request_list:
        assert decide(_hotpath_py, pure, request, fraction) == decide(compiled_build, fast, request, fraction)


header_bytes = st.binary(min_size=1, max_size=12).filter(lambda b: b"\r" not in b and b"\n" not in b and b":" not in b)
raw_headers = st.lists(st.tuples(st.one_of(header_bytes, st.sampled_from(
    [b"Connection", b"Host", b"X-Forwarded-For", b"Keep-Alive", b"Content-Length", b"TE"])), header_bytes), max_size=8)
texts = st.text(alphabet=st.characters(max_codepoint=255, blacklist_characters="\r\n"), max_size=12)


@settings(max_examples=200, deadline=None)
@given(raw_headers, st.lists(st.tuples(texts, texts), max_size=2), st.lists(st.tuples(texts, texts), max_size=2),
       st.lists(texts, max_size=2), st.booleans())
def test_header_handling_is_identical(raw, set_items, add_items, remove, with_ops):
    results = []
    for impl in (_hotpath_py, compiled_build):
        ops = impl.HeaderOps(tuple(set_items), tuple(add_items), tuple(remove)) if with_ops else None
        headers = impl.index_headers(raw)
        results.append((
            headers,
            impl.request_head("GET", "/x", raw, headers, "h", ops, "127.0.0.1", "http", b""),
            impl.response_head(200, b"OK", raw, headers, ops, b"", True),
        ))
    assert results[0] == results[1]


@settings(max_examples=300, deadline=None)
@given(texts, texts, texts, texts)
def test_string_helpers_are_identical(path, prefix, replacement, query):
    for name, args in (("replace_prefix", (path, prefix, replacement)), ("parse_query", (query,)),
                       ("normalize_host", (path,))):
        assert getattr(_hotpath_py, name)(*args) == getattr(compiled_build, name)(*args)
