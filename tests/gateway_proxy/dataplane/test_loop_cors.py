"""The HTTPRoute CORS filter served by the C event loop, byte for byte as the asyncio path serves it.

A table with a CORS filter stays on the C loop. Preflights are answered by the proxy (200 with
the fields, or 403), and the fields of an actual request's response are added, with the
backend's own Access-Control-* fields the filter owns dropped: for each raw request below, the
client reads the same bytes from both data paths and the backend sees the same requests. The
cases lean on what a hand-written matcher could get wrong: case and spaces around an origin,
repeated fields, ports, wildcard hosts, echoed wildcards, credentialed ``exposeHeaders: *``.
(tests/gateway_proxy/http_features/test_cors_over_sockets.py runs the behaviour tests on the C
loop too.)
"""

from __future__ import annotations

import pytest

from gw_harness import backend, path_match, route, rule
from test_loop_parity import RawBackend, serving_pair

_STRICT = {"allowOrigins": ["https://www.foo.com", "https://*.bar.com", "http://local.test:8080"],
           "allowMethods": ["GET", "OPTIONS"], "allowHeaders": ["x-header-1", "x-header-2"],
           "exposeHeaders": ["x-header-3"], "allowCredentials": True, "maxAge": 3600}
_ANY = {"allowOrigins": ["*"], "allowMethods": ["*"], "allowHeaders": ["*"], "exposeHeaders": ["*"]}
_CREDENTIALED = dict(_ANY, allowCredentials=True)


def _cors_route(name, cors, host, extra=()):
    return route(name, [rule([backend("a")], [path_match("/")], filters=[{"type": "CORS", "cors": cors}, *extra])],
                 hostnames=[host])


_ROUTES = [
    _cors_route("strict", _STRICT, "strict.example", [{"type": "ResponseHeaderModifier", "responseHeaderModifier": {
        "set": [{"name": "X-Set", "value": "v"}], "add": [{"name": "Vary", "value": "Accept"}]}}]),
    _cors_route("any", _ANY, "any.example"),
    _cors_route("credentialed", _CREDENTIALED, "creds.example"),
]


def _preflight(host, origin=b"https://www.foo.com", method=b"GET", more=b"", close=True):
    return (b"OPTIONS /p HTTP/1.1\r\nHost: " + host + b"\r\nOrigin: " + origin + b"\r\nAccess-Control-Request-Method: "
            + method + b"\r\n" + more + (b"Connection: close\r\n" if close else b"") + b"\r\n")


def _actual(host, path=b"/a", origin=b"https://www.foo.com", method=b"GET", version=b"1.1"):
    origin_line = b"Origin: " + origin + b"\r\n" if origin is not None else b""
    return method + b" " + path + b" HTTP/" + version + b"\r\nHost: " + host + b"\r\n" + origin_line + \
        b"Connection: close\r\n\r\n"


_S, _A, _C = b"strict.example", b"any.example", b"creds.example"
_CASES = [
    ("preflight-exact", _preflight(_S, more=b"Access-Control-Request-Headers: x-header-1\r\n")),
    ("preflight-wildcard-spans-labels", _preflight(_S, b"https://a.b.bar.com")),
    ("preflight-wildcard-needs-a-label", _preflight(_S, b"https://bar.com")),
    ("preflight-other-port", _preflight(_S, b"https://www.foo.com:8443")),
    ("preflight-default-port-spelled", _preflight(_S, b"https://www.foo.com:0443")),
    ("preflight-explicit-port", _preflight(_S, b"http://local.test:8080")),
    ("preflight-port-out-of-range", _preflight(_S, b"https://www.foo.com:99999")),
    ("preflight-origin-case-and-spaces", _preflight(_S, b"https://WWW.Foo.COM  ")),
    ("preflight-scheme-case", _preflight(_S, b"HTTPS://www.foo.com")),
    ("preflight-wildcard-in-request", _preflight(_S, b"https://*.bar.com")),
    ("preflight-not-an-origin", _preflight(_S, b"null")),
    ("preflight-repeated-origin", _preflight(_S, more=b"Origin: https://www.foo.com\r\n")),
    ("preflight-keep-alive", _preflight(_S, close=False) + _actual(_S)),
    ("preflight-denied-keep-alive", _preflight(_S, b"https://x.example", close=False) + _actual(_S)),
    ("preflight-any-echoes", _preflight(_A, b"null", b" PUT ", b"Access-Control-Request-Headers: X-A, x-b \r\n")),
    ("preflight-any-empty-request-method", _preflight(_A, b"https://x.example", b"")),
    ("preflight-credentialed", _preflight(_C, b"https://x.example", b"DELETE")),
    ("preflight-http10", _preflight(_S).replace(b"HTTP/1.1", b"HTTP/1.0")),
    ("options-without-request-method", b"OPTIONS /o HTTP/1.1\r\nHost: strict.example\r\nOrigin: https://www.foo.com\r\n"
     b"Connection: close\r\n\r\n"),
    ("actual-allowed", _actual(_S)),
    ("actual-allowed-backend-fields-dropped", _actual(_S, b"/acao")),
    ("actual-denied-backend-fields-dropped", _actual(_S, b"/acao", b"https://evil.example")),
    ("actual-without-origin-keeps-backend-fields", _actual(_S, b"/acao", None)),
    ("actual-any-expose-star", _actual(_A, b"/acao", b"https://x.example")),
    ("actual-credentialed-lists-the-response-names", _actual(_C, b"/acao", b"https://x.example")),
    ("actual-credentialed-default-response", _actual(_C, b"/h", b"https://x.example")),
    ("actual-head", _actual(_S, b"/h", method=b"HEAD")),
    ("actual-204", _actual(_S, b"/204")),
    ("actual-chunked-response-http10", _actual(_S, b"/chunked", version=b"1.0")),
    ("actual-post-body", b"POST /up HTTP/1.1\r\nHost: creds.example\r\nOrigin: https://x.example\r\n"
     b"Content-Length: 5\r\nConnection: close\r\n\r\nhello"),
]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Both data paths serving _ROUTES, once for every case (each case is one connection)."""
    with serving_pair(tmp_path_factory, "cors", {"a": RawBackend("a")}, _ROUTES) as running:
        yield running


@pytest.mark.parametrize("data", [pytest.param(data, id=name) for name, data in _CASES])
def test_cors_answers_are_the_asyncio_paths_bytes(pair, data):
    plane = pair.candidate.runtime.plane
    assert plane.serving_c is True, plane.reason  # a CORS filter no longer sends the table to asyncio
    served_by_c = plane.loop.stats[1]
    (reference, reference_seen), (candidate, candidate_seen) = pair.both(data, half_close=False)
    assert candidate == reference
    assert candidate_seen == reference_seen
    assert plane.loop.stats[1] > served_by_c
