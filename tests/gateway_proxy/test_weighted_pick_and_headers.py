"""The weighted pick and header rewriting of the hot path, in both builds."""

from __future__ import annotations

import pytest

from gateway_proxy import filters, resources


def make_rule(impl, weights, statuses=None):
    statuses = statuses or [0] * len(weights)
    backends = [impl.Backend("ns", f"b{i}", status, [("127.0.0.1", 1000 + i)], weight)
                for i, (weight, status) in enumerate(zip(weights, statuses))]
    return impl.Rule("ns", "r", 0, backends, 80, "http")


def shares(impl, rule, steps=1000):
    counts = {}
    for step in range(steps):
        picked = impl.pick_backend(rule, step / steps)
        name = picked.name if picked is not None else None
        counts[name] = counts.get(name, 0) + 1
    return counts


@pytest.mark.parametrize("weights, expected", [
    pytest.param([1, 1], {"b0": 500, "b1": 500}, id="default-equal"),
    pytest.param([3, 1], {"b0": 750, "b1": 250}, id="three-to-one"),
    pytest.param([0, 5, 0], {"b1": 1000}, id="zero-never-picked"),
    pytest.param([0, 0], {None: 1000}, id="all-zero-picks-nothing"),
    pytest.param([], {None: 1000}, id="no-backends"),
    pytest.param([90, 10], {"b0": 900, "b1": 100}, id="canary-split"),
])
def test_pick_is_proportional_to_weight(impl, weights, expected):
    assert shares(impl, make_rule(impl, weights)) == expected


def test_pick_edges(impl):
    rule = make_rule(impl, [1, 0, 1])
    assert impl.pick_backend(rule, 0.0).name == "b0"
    assert impl.pick_backend(rule, 0.9999999).name == "b2"
    assert impl.pick_backend(rule, 1.0).name == "b2"  # clamped, never out of range


def test_endpoints_rotate(impl):
    backend = impl.Backend("ns", "b", 0, [("a", 1), ("b", 2), ("c", 3)], 1)
    assert [backend.next_endpoint() for _ in range(4)] == [("a", 1), ("b", 2), ("c", 3), ("a", 1)]
    assert impl.Backend("ns", "none", 503, [], 1).next_endpoint() is None


RAW = [(b"Host", b"example.com"), (b"Connection", b"keep-alive, X-Hop"), (b"X-Hop", b"1"), (b"Keep-Alive", b"5"),
       (b"Transfer-Encoding", b"chunked"), (b"Content-Length", b"3"), (b"X-A", b"a"), (b"X-Set", b"old"),
       (b"X-Remove", b"r"), (b"X-Forwarded-For", b"10.0.0.1"), (b"Upgrade", b"h2c")]


def test_request_head_drops_hop_by_hop_and_applies_modifier(impl):
    headers = impl.index_headers(RAW)
    ops = impl.HeaderOps((("X-Set", "new"),), (("X-A", "b"), ("X-New", "n")), ("x-remove",))
    head = impl.request_head("POST", "/p?q", RAW, headers, "example.com", ops, "127.0.0.1", "http",
                             b"content-length: 3\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /p?q HTTP/1.1"
    assert head.endswith(b"\r\n\r\n")
    lower = head.lower()
    for gone in (b"x-hop", b"keep-alive", b"transfer-encoding", b"upgrade", b"x-remove", b"connection:"):
        assert gone not in lower
    assert b"X-Set: new\r\n" in head and b"old" not in head
    assert b"X-A: a,b\r\n" in head and b"X-New: n\r\n" in head
    assert b"x-forwarded-for: 10.0.0.1, 127.0.0.1\r\n" in head
    assert b"x-forwarded-proto: http\r\n" in head and b"x-forwarded-host: example.com\r\n" in head
    assert lower.count(b"content-length") == 1 and lower.count(b"host: ") == 2  # host and x-forwarded-host


def test_response_head(impl):
    raw = [(b"Content-Type", b"text/plain"), (b"Connection", b"close"), (b"Server", b"x"), (b"Content-Length", b"9")]
    ops = impl.HeaderOps((), (("X-Added", "1"),), ("server",))
    head = impl.response_head(200, b"OK", raw, impl.index_headers(raw), ops, b"content-length: 9\r\n", False)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Server" not in head and b"X-Added: 1\r\n" in head
    assert head.lower().count(b"content-length") == 1
    assert head.endswith(b"connection: close\r\n\r\n")


@pytest.mark.parametrize("path, prefix, replacement, expected", [
    # the spec's ReplacePrefixMatch table
    ("/foo/bar", "/foo", "/xyz", "/xyz/bar"),
    ("/foo/bar", "/foo", "/xyz/", "/xyz/bar"),
    ("/foo/bar", "/foo/", "/xyz", "/xyz/bar"),
    ("/foo/bar", "/foo/", "/xyz/", "/xyz/bar"),
    ("/foo", "/foo", "/xyz", "/xyz"),
    ("/foo/", "/foo", "/xyz", "/xyz/"),
    ("/foo/bar", "/foo", "", "/bar"),
    ("/foo/", "/foo", "", "/"),
    ("/foo", "/foo", "", "/"),
    ("/foo/", "/foo", "/", "/"),
    ("/foo", "/foo", "/", "/"),
    ("/anything", "/", "/new", "/new/anything"),
])
def test_replace_prefix_match(impl, path, prefix, replacement, expected):
    assert impl.replace_prefix(path, prefix, replacement) == expected


@pytest.mark.parametrize("redirect, expected", [
    pytest.param(resources.Redirect(None, None, None, None, 302), "http://h.com:8080/p?q=1", id="listener-port"),
    pytest.param(resources.Redirect("https", None, None, None, 302), "https://h.com/p?q=1", id="scheme-https-443"),
    pytest.param(resources.Redirect("http", None, None, None, 302), "http://h.com/p?q=1", id="scheme-http-80"),
    pytest.param(resources.Redirect(None, "o.org", 80, None, 301), "http://o.org/p?q=1", id="explicit-80"),
    pytest.param(resources.Redirect(None, None, 9000, resources.PathModifier("ReplaceFullPath", "/f"), 302),
                 "http://h.com:9000/f?q=1", id="full-path"),
])
def test_redirect_location(impl, redirect, expected):
    assert filters.location(redirect, "http", 8080, "h.com", "/p", "q=1", "/p", impl.replace_prefix) == expected


@pytest.mark.parametrize("text, expected", [
    ("a=1&b=2&a=3", {"a": "1", "b": "2"}),
    ("x=a%20b+c&flag", {"x": "a b c", "flag": ""}),
    ("%zz=1&=2", {"%zz": "1", "": "2"}),
    ("", {}),
])
def test_parse_query(impl, text, expected):
    assert impl.parse_query(text) == expected
