"""Fuzzing the request parser over a real socket: every input is answered with a 4xx, nothing hangs.

The proxy serves an empty routing table here, so a well-formed request is answered 404 and a
malformed one 400/405/414/431: whatever hypothesis sends, the only acceptable answers are 4xx,
and the proxy must still serve the next connection. Every input goes to both builds of the
client side (pure and compiled), whose answers must be the same bytes.
"""

from __future__ import annotations


import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from gw_harness import exchange_until_close, gateway_proxies_of_each_build

METHODS = [b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"CONNECT", b"G\xffT", b""]
TARGETS = [b"/", b"/a?b=c", b"*", b"http://example.com/x", b"//", b"/%zz", b"/\x00", b"/" + b"a" * 9000, b""]
VERSIONS = [b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1 ", b"HTP/1.1", b""]
HEADER_LINES = [b"Host: example.com", b"Host: a", b"Host:", b"Content-Length: 3", b"Content-Length: -1",
                b"Content-Length: 99999999999999999999", b"Transfer-Encoding: chunked", b"Transfer-Encoding: gzip",
                b"Connection: close", b"Expect: 100-continue", b"X: \x01", b" folded", b"NoColon",
                b"X-Big: " + b"b" * 40_000, b"Upgrade: websocket", b"Connection: upgrade"]
BODIES = [b"", b"abc", b"0\r\n\r\n", b"3\r\nabc\r\n0\r\n\r\n", b"zz\r\n", b"5\r\nab", b"\r\n\r\n"]


@st.composite
def structured(draw):
    line = draw(st.sampled_from(METHODS)) + b" " + draw(st.sampled_from(TARGETS)) + b" " + draw(st.sampled_from(VERSIONS))
    headers = draw(st.lists(st.sampled_from(HEADER_LINES), max_size=6))
    separator = draw(st.sampled_from([b"\r\n", b"\n", b"\r"]))
    return line + separator + b"".join(h + separator for h in headers) + separator + draw(st.sampled_from(BODIES))


inputs = st.one_of(structured(), st.binary(min_size=1, max_size=300),
                   structured().flatmap(lambda base: st.tuples(st.just(base), st.integers(0, max(len(base) - 1, 0)),
                                                               st.binary(min_size=1, max_size=4)))
                   .map(lambda t: t[0][:t[1]] + t[2] + t[0][t[1] + 1:]))


@pytest.fixture(scope="module")
def fuzz_proxies(tmp_path_factory):
    yield from gateway_proxies_of_each_build(tmp_path_factory, "fuzz", header_timeout=2.0)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(inputs)
def test_every_input_gets_a_4xx_and_the_proxy_survives(fuzz_proxies, data):
    replies = [exchange_until_close(proxy.port, data, early_close_ok=True) for proxy in fuzz_proxies]
    reply = replies[0]
    statuses = [int(part[:3]) for part in reply.split(b"HTTP/1.1 ")[1:] if part[:3].isdigit()]
    statuses = [status for status in statuses if status >= 200]  # 100 Continue is interim, not an answer
    if data.strip(b"\r\n"):
        assert statuses, f"no answer to {data[:120]!r}"
    assert all(400 <= status < 500 for status in statuses), (statuses, data[:120])
    assert all(other == reply for other in replies[1:]), (replies, data[:120])
    for proxy in fuzz_proxies:
        assert b"HTTP/1.1 404" in exchange_until_close(proxy.port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
