"""RequestRedirect answered by the C event loop without the GIL, byte for byte as the asyncio path.

The loop builds the Location from the parts the rule alone decides (scheme, configured hostname,
port, path modifier: laid out with the table) and the request's Host, path and query, in C. The
cases lean on what a hand-written filters.location could get wrong: the Host's case, port,
final dot and brackets, no Host at all, an absolute-form target, each path modifier's slash
rules, an empty query, keep-alive, and a configured hostname no Location can carry (the
reference fails that request: 500). Hosts the parser refuses (a byte outside ASCII, a bracket
never closed) are test_strict_request_heads_over_sockets.py's. And since no Python runs, a
redirect is answered while another thread holds the GIL, which a reload or a metrics fold in the
worker's Python thread does for milliseconds at a time.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

from gw_harness import gateway, listener, path_match, route, rule
from test_loop_parity import RawBackend, serving_pair


def _redirect(status, **fields):
    return {"type": "RequestRedirect", "requestRedirect": {"statusCode": status, **fields}}


def _full(value):
    return {"type": "ReplaceFullPath", "replaceFullPath": value}


def _prefix(value):
    return {"type": "ReplacePrefixMatch", "replacePrefixMatch": value}


_ROUTES = [
    route("moved", [rule(matches=[path_match("/")], filters=[_redirect(301, scheme="https")])],
          hostnames=["redirect.example"]),
    route("same-scheme", [rule(matches=[path_match("/")], filters=[_redirect(302)])], hostnames=["same.example"]),
    route("fixed", [rule(matches=[path_match("/")], filters=[_redirect(307, hostname="Elsewhere.Example", port=8443)])],
          hostnames=["fixed.example"]),
    route("well-known", [rule(matches=[path_match("/")], filters=[_redirect(308, scheme="http", port=80)])],
          hostnames=["well-known.example"]),
    route("paths", [
        rule(matches=[path_match("/full")], filters=[_redirect(302, path=_full("/whole"))]),
        rule(matches=[path_match("/old")], filters=[_redirect(302, path=_prefix("/new"))]),
        rule(matches=[path_match("/strip/")], filters=[_redirect(302, path=_prefix("/"))]),
        rule(matches=[path_match("/exact", kind="Exact")], filters=[_redirect(303)]),
    ], hostnames=["paths.example"]),
    route("any-host", [rule(matches=[path_match("/any")], filters=[_redirect(302)])]),
    route("unwritable", [rule(matches=[path_match("/")], filters=[_redirect(302, hostname="пример.example")])],
          hostnames=["unwritable.example"]),
]

_C = b"Connection: close\r\n"


def _get(target, host, version=b"1.1", more=b""):
    host_line = b"Host: " + host + b"\r\n" if host is not None else b""
    return b"GET " + target + b" HTTP/" + version + b"\r\n" + host_line + more + _C + b"\r\n"


_CASES = [
    ("scheme-set-host-case-port-and-dot", _get(b"/somewhere?a=b", b"Redirect.EXAMPLE.:8080")),
    ("listener-scheme-and-port", _get(b"/x", b"same.example")),
    ("empty-query", _get(b"/x?", b"same.example")),
    ("percent-encoded-kept", _get(b"/a%20b/%2F?q=%41&r", b"same.example")),
    ("hostname-and-port-set", _get(b"/y?z=1", b"fixed.example")),
    ("well-known-port-left-out", _get(b"/w", b"well-known.example:9")),
    ("replace-full-path", _get(b"/full/any?q=1", b"paths.example")),
    ("replace-prefix", _get(b"/old/page?z=9", b"paths.example")),
    ("replace-prefix-whole-path", _get(b"/old", b"paths.example")),
    ("replace-prefix-trailing-slash", _get(b"/old/", b"paths.example")),
    ("replace-prefix-with-slash", _get(b"/strip/a/b", b"paths.example")),
    ("replace-prefix-with-slash-whole-path", _get(b"/strip", b"paths.example")),
    ("exact-match", _get(b"/exact?x", b"paths.example")),
    ("any-host-lowered", _get(b"/any/x", b"WWW.Any-Host.EXAMPLE.:81")),
    ("bracketed-host", _get(b"/any", b"[FE80::1]:8080")),
    ("bracketed-host-without-port", _get(b"/any", b"[FE80::A]")),
    ("http10-without-host", _get(b"/any/ten", None, b"1.0")),
    ("absolute-form", _get(b"http://Redirect.example:9/abs?q", b"ignored.example")),
    ("head", b"HEAD /h HTTP/1.1\r\nHost: redirect.example\r\n" + _C + b"\r\n"),
    ("keep-alive-then-close", b"GET /one HTTP/1.1\r\nHost: same.example\r\n\r\n" + _get(b"/two?x", b"same.example")),
    ("not-latin1-hostname-500", _get(b"/u", b"unwritable.example")),
]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Both data paths serving _ROUTES on a listener of port 8080, once for every case."""
    with serving_pair(tmp_path_factory, "redirects", {"a": RawBackend("a")}, _ROUTES,
                      gateways=[gateway(listeners=[listener("http", 8080)])]) as running:
        yield running


@pytest.mark.parametrize("data", [pytest.param(data, id=name) for name, data in _CASES])
def test_redirects_are_the_asyncio_paths_bytes(pair, data):
    plane = pair.candidate.runtime.plane
    assert plane.serving_c is True, plane.reason
    served_by_c = plane.loop.stats[1]
    (reference, reference_seen), (candidate, candidate_seen) = pair.both(data, half_close=False)
    assert candidate == reference
    assert candidate_seen == reference_seen == {"a": []}
    assert plane.loop.stats[1] > served_by_c


# Sends argv[3] to port argv[1], reads the answer until the proxy closes, writes it to the
# descriptor argv[2] and exits (which also ends the pipe): bounded by its socket timeout.
_CLIENT = """
import os, socket, sys
reply = b""
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20) as sock:
        sock.sendall(sys.argv[3].encode("latin-1"))
        while chunk := sock.recv(65536):
            reply += chunk
except OSError as error:
    reply += b"client: " + repr(error).encode()
os.write(int(sys.argv[2]), reply or b"client: no answer")
"""


def test_a_redirect_is_answered_while_python_holds_the_gil(pair):
    data = _get(b"/somewhere?a=b", b"Redirect.EXAMPLE.:8080")
    (expected, _), _ = pair.both(data, half_close=False)
    assert b"\r\nlocation: https://redirect.example/somewhere?a=b\r\n" in expected
    # read(2) called through PyDLL keeps the GIL while it blocks: until the client, another
    # process, has the C loop's answer, no Python thread of this process runs.
    read_holding_the_gil = ctypes.PyDLL(None).read
    read_holding_the_gil.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t)
    read_holding_the_gil.restype = ctypes.c_ssize_t
    buffer = ctypes.create_string_buffer(65536)
    read_end, write_end = os.pipe()
    try:
        client = subprocess.Popen([sys.executable, "-c", _CLIENT, str(pair.candidate.port), str(write_end),
                                   data.decode("latin-1")], pass_fds=(write_end,))
        os.close(write_end)
        got = read_holding_the_gil(read_end, buffer, len(buffer))
        client.wait(30)
    finally:
        os.close(read_end)
    assert buffer.raw[:max(got, 0)] == expected
