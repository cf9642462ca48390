"""The C event loop answers byte for byte as the asyncio path does, and sends backends the same bytes.

Two proxies serve the same config side by side, the asyncio path and the C loop (both with the
compiled hot path); each request of the table is sent to both as raw bytes, followed by a
half-close so that the answer ends where the proxy closes. What the client reads and what the
backend received (request heads as bytes, bodies decoded) must be equal. The backend here is a
raw socket server with scripted answers, so that nothing in a response varies between runs.

This module also holds what the other test_loop_* modules share: :class:`RawBackend` and the
``pair`` fixture.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time

import pytest

import dataplane_support
from gw_harness import Proxy, backend, deploy, path_match, route, rule
from gw_harness import exchange_until_close as exchange
from gateway_proxy import hotpath

_SCRIPTS = {
    b"/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Kind: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    b"/eof": b"HTTP/1.1 200 OK\r\nX-Kind: eof\r\n\r\nuntil the backend closes",
    b"/204": b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nX-Kind: none\r\n\r\n",
    b"/304": b"HTTP/1.1 304 Not Modified\r\nContent-Length: 12\r\nETag: \"x\"\r\n\r\n",
    b"/acao": (b"HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nX-Multi: 1\r\naccess-control-expose-headers: x\r\n"
               b"x-multi: 2\r\nX-Multi: 3\r\nContent-Length: 2\r\n\r\nok"),
    b"/close": b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye",
    b"/continue": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
    b"/cut": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
    b"/cut-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n01234",
    b"/cut-head": b"HTTP/1.1 200 OK\r\nContent-Le",
    b"/garbage": b"NOT HTTP AT ALL\r\n\r\n",
    b"/http10": b"HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nold!",
    b"/status-only": b"HTTP/1.1 418 \r\nContent-Length: 0\r\n\r\n",
    b"/switch": (b"HTTP/1.1 101 \r\nConnection: Upgrade, X-Hop\r\nUpgrade: raw\r\nX-Hop: gone\r\nX-Switch: yes\r\n\r\n"
                 b"[raw bytes]"),
}


def _read_request(conn: socket.socket, buffered: bytes):
    """(head, body, rest) of one request, the body decoded; None when the peer closed first or
    sent something this backend cannot frame."""
    data = buffered

    def more() -> bool:
        nonlocal data
        chunk = conn.recv(65536)
        data += chunk
        return bool(chunk)

    while b"\r\n\r\n" not in data:
        if not more():
            return None
    end = data.index(b"\r\n\r\n") + 4
    head, data = data[:end], data[end:]
    lines = [line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line]
    fields = {name.strip().lower(): value.strip() for name, value in lines}
    if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = b""
        while True:
            while b"\r\n" not in data:
                if not more():
                    return None
            line, data = data.split(b"\r\n", 1)
            try:
                size = int(line.split(b";")[0], 16)
            except ValueError:
                return None
            while len(data) < size + 2:
                if not more():
                    return None
            body, data = body + data[:size], data[size + 2:]
            if size == 0:
                return head, body, data
    length = int(fields.get(b"content-length", b"0"))
    while len(data) < length:
        if not more():
            return None
    return head, data[:length], data[length:]


class RawBackend:
    """A backend that records raw request heads and answers from ``_SCRIPTS`` by path, else with a
    fixed keep-alive response naming itself; ``?delay=S`` waits first, ``?big=N`` sends N bytes."""

    def __init__(self, name: str):
        self.name = name.encode()
        self.seen: list[tuple[bytes, bytes]] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _answer(self, target: bytes, method: bytes) -> tuple[bytes, bool]:
        path, _, query = target.partition(b"?")
        if path.endswith(b"/switch"):
            path = b"/switch"  # under any route's prefix
        params = dict(part.split(b"=", 1) for part in query.split(b"&") if b"=" in part)
        if b"delay" in params:
            time.sleep(float(params[b"delay"]))
        if path in _SCRIPTS:
            return _SCRIPTS[path], path not in (b"/eof", b"/close", b"/cut", b"/cut-chunked", b"/cut-head", b"/switch")
        body = b"%s saw %s %s" % (self.name, method, target)
        if b"big" in params:
            body = b"x" * int(params[b"big"])
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Backend: %s\r\nKeep-Alive: timeout=5\r\n"
                b"Connection: keep-alive, X-Hop\r\nX-Hop: gone\r\nX-Multi: 1\r\nX-Multi: 2\r\nContent-Length: %d\r\n\r\n"
                % (self.name, len(body)))
        return head + (b"" if method == b"HEAD" else body), True

    def _serve(self, conn: socket.socket):
        rest = b""
        try:
            conn.settimeout(30)
            while True:
                request = _read_request(conn, rest)
                if request is None:
                    return
                head, body, rest = request
                self.seen.append((head, body))
                method, target = head.split(b" ", 2)[:2]
                answer, keep = self._answer(target, method)
                conn.sendall(answer)
                if not keep:
                    return
        except OSError:
            return
        finally:
            conn.close()

    def stop(self):
        self.stopping = True
        self.sock.close()
        for conn in self.connections:
            try:
                conn.close()
            except OSError:
                pass


def compiled_build():
    dataplane_support.compiled("loop")
    build = hotpath.compiled()
    if build is None:
        if os.environ.get("ROUTESHIFT_NO_EXTENSIONS") == "1":
            pytest.skip("compiled hot path not built (ROUTESHIFT_NO_EXTENSIONS=1)")
        pytest.fail("the compiled hot path is not built")
    return build


def start_proxy(monkeypatch, tmp_path, plane: str, name: str, header_timeout: float = 10.0) -> Proxy:
    monkeypatch.setenv("ROUTESHIFT_DATA_PLANE", plane)
    directory = tmp_path / name
    directory.mkdir()
    running = Proxy(compiled_build(), str(directory), header_timeout=header_timeout).start()
    if plane == "c":
        assert running.runtime.plane is not None, "the C data plane did not start"
    return running


class Pair:
    """The asyncio path and the C loop serving one config, and the backends behind them."""

    def __init__(self, reference: Proxy, candidate: Proxy, backends: dict):
        self.reference = reference
        self.candidate = candidate
        self.backends = backends

    def deploy(self, routes, **kwargs):
        for proxy in (self.reference, self.candidate):
            deploy(proxy, self.backends, routes, **kwargs)

    def both(self, data: bytes, **kwargs):
        """(client bytes, backend records) from the reference, then from the candidate."""
        results = []
        for proxy in (self.reference, self.candidate):
            for server in self.backends.values():
                if server is not None:
                    server.seen.clear()
            reply = exchange(proxy.port, data, **kwargs)
            seen = {name: list(server.seen) for name, server in self.backends.items() if server is not None}
            results.append((reply, seen))
        return results


@contextlib.contextmanager
def serving_pair(tmp_path_factory, name: str, backends: dict, routes, **deploy_options):
    """Both data paths serving ``routes`` for a whole module (each case is one connection);
    the backends (those with a ``stop``) are stopped with them."""
    with pytest.MonkeyPatch.context() as patch:
        tmp_path = tmp_path_factory.mktemp(name)
        reference = start_proxy(patch, tmp_path, "asyncio", "reference")
        candidate = start_proxy(patch, tmp_path, "c", "candidate")
    try:
        running = Pair(reference, candidate, backends)
        running.deploy(routes, **deploy_options)
        yield running
    finally:
        reference.stop()
        candidate.stop()
        for server in backends.values():
            if hasattr(server, "stop"):
                server.stop()


@pytest.fixture
def pair(monkeypatch, tmp_path):
    backends = {"a": RawBackend("a"), "b": RawBackend("b"), "down": None}
    reference = start_proxy(monkeypatch, tmp_path, "asyncio", "reference")
    candidate = start_proxy(monkeypatch, tmp_path, "c", "candidate")
    try:
        yield Pair(reference, candidate, backends)
    finally:
        reference.stop()
        candidate.stop()
        for server in backends.values():
            if server is not None:
                server.stop()


_ROUTES = [
    route("plain", [rule([backend("a")], matches=[path_match("/")])]),
    route("filtered", [rule([backend("a")], matches=[path_match("/filtered")], filters=[
        {"type": "RequestHeaderModifier", "requestHeaderModifier": {
            "set": [{"name": "X-Set", "value": "set-value"}], "add": [{"name": "X-Add", "value": "added"}],
            "remove": ["X-Remove"]}},
        {"type": "ResponseHeaderModifier", "responseHeaderModifier": {
            "set": [{"name": "X-Backend", "value": "hidden"}], "add": [{"name": "X-Multi", "value": "3"}],
            "remove": ["Content-Type"]}}])], hostnames=["filters.example"]),
    route("rewritten", [rule([backend("b")], matches=[path_match("/old")], filters=[
        {"type": "URLRewrite", "urlRewrite": {"hostname": "new.example",
                                              "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}}}]),
        rule([backend("b")], matches=[path_match("/full")], filters=[
            {"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplaceFullPath", "replaceFullPath": "/whole"}}}])],
        hostnames=["rewrite.example"]),
    route("moved", [rule(matches=[path_match("/")], filters=[
        {"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}])],
        hostnames=["redirect.example"]),
    route("unready", [rule([backend("down")])], hostnames=["unready.example"]),
    route("invalid", [rule([backend("missing-service")])], hostnames=["invalid.example"]),
]

_H = b"Host: example.com\r\n"
_C = b"Connection: close\r\n"
_HC = _H + _C
# Every case ends with the proxy closing the connection: a request saying Connection: close, an
# error, or (the two cut-short cases) a half-close. A half-close after a complete request would
# race with the answer on both paths (eof_received changes keep-alive mid-exchange).
# An upgrade offer is half-closed by the client like the rest; the backend that switches sends bytes
# in the new protocol and closes, so the tunnel ends on its own (tests/gateway_proxy/websocket/ holds
# the tunnels that last).
_UPGRADE = b"Connection: Upgrade\r\nUpgrade: raw\r\n"
_CASES = [
    ("get", b"GET /hello?x=1&y=2 HTTP/1.1\r\n" + _HC + b"\r\n"),
    ("head", b"HEAD /hello HTTP/1.1\r\n" + _HC + b"\r\n"),
    ("hop-by-hop-and-forwarded", b"GET /h HTTP/1.1\r\nHost: Example.COM:8080\r\nConnection: close, X-Private\r\n"
     b"X-Private: secret\r\nKeep-Alive: 5\r\nTE: trailers\r\nProxy-Authorization: x\r\nX-Forwarded-For: 10.0.0.1\r\n"
     b"X-Forwarded-For: 10.0.0.2\r\nX-Forwarded-Proto: gopher\r\nX-Repeat: 1\r\nx-repeat: 2\r\nAccept:  */* \r\n\r\n"),
    ("post-content-length", b"POST /upload HTTP/1.1\r\n" + _HC + b"Content-Length: 11\r\n\r\nhello world"),
    ("chunked-upload", b"POST /upload HTTP/1.1\r\n" + _HC + b"Transfer-Encoding: chunked\r\n\r\n"
     b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"),
    ("expect-continue", b"PUT /put HTTP/1.1\r\n" + _HC + b"Expect: 100-continue\r\nContent-Length: 4\r\n\r\nbody"),
    ("pipelined", b"GET /one HTTP/1.1\r\n" + _H + b"\r\nGET /two HTTP/1.1\r\n" + _H + b"\r\n"
     b"POST /three HTTP/1.1\r\n" + _HC + b"Content-Length: 3\r\n\r\nabc"),
    ("http10", b"GET /ten HTTP/1.0\r\n\r\n"),
    ("http10-keep-alive", b"GET /ten HTTP/1.0\r\nConnection: keep-alive\r\n" + _H + b"\r\nGET /ten2 HTTP/1.0\r\n\r\n"),
    ("absolute-form", b"GET http://Other.example:080/abs?q=1 HTTP/1.1\r\nHost: ignored.example\r\n" + _C + b"\r\n"),
    ("connection-close", b"GET /bye HTTP/1.1\r\n" + _HC + b"\r\nGET /never HTTP/1.1\r\n" + _H + b"\r\n"),
    ("response-chunked", b"GET /chunked HTTP/1.1\r\n" + _HC + b"\r\n"),
    ("response-chunked-to-http10", b"GET /chunked HTTP/1.0\r\n\r\n"),
    ("response-until-close", b"GET /eof HTTP/1.1\r\n" + _HC + b"\r\n"),
    ("response-204", b"GET /204 HTTP/1.1\r\n" + _HC + b"\r\n"),
    ("response-304", b"GET /304 HTTP/1.1\r\n" + _HC + b"\r\n"),
    ("response-connection-close", b"GET /close HTTP/1.1\r\n" + _H + b"\r\nGET /after HTTP/1.1\r\n" + _HC + b"\r\n"),
    ("response-interim-100", b"GET /continue HTTP/1.1\r\n" + _HC + b"\r\n"),
    ("response-http10", b"GET /http10 HTTP/1.1\r\n" + _HC + b"\r\n"),
    ("response-empty-reason", b"GET /status-only HTTP/1.1\r\n" + _HC + b"\r\n"),
    ("response-large", b"GET /large?big=3000000 HTTP/1.1\r\n" + _HC + b"\r\n"),
    ("header-filters", b"GET /filtered/x HTTP/1.1\r\nHost: filters.example\r\nX-Remove: r\r\nX-Set: old\r\n"
     b"X-Add: first\r\n" + _C + b"\r\n"),
    ("rewrite-prefix-and-host", b"GET /old/page?z=9 HTTP/1.1\r\nHost: rewrite.example\r\n" + _C + b"\r\n"),
    ("rewrite-full-path", b"GET /full/any HTTP/1.1\r\nHost: rewrite.example\r\n" + _C + b"\r\n"),
    ("redirect", b"GET /somewhere?a=b HTTP/1.1\r\nHost: redirect.example:8080\r\n" + _C + b"\r\n"),
    ("no-route-404", b"GET / HTTP/1.1\r\nHost: filters.example\r\n" + _C + b"\r\n"),
    ("no-endpoints-503", b"GET / HTTP/1.1\r\nHost: unready.example\r\n" + _C + b"\r\n"),
    ("invalid-backend-500", b"GET / HTTP/1.1\r\nHost: invalid.example\r\n" + _C + b"\r\n"),
    ("backend-cut-mid-response", b"GET /cut HTTP/1.1\r\n" + _H + b"\r\n"),
    ("backend-cut-mid-chunk", b"GET /cut-chunked HTTP/1.1\r\n" + _H + b"\r\n"),
    ("backend-cut-in-head-502", b"GET /cut-head HTTP/1.1\r\n" + _HC + b"\r\n"),
    ("backend-garbage-502", b"GET /garbage HTTP/1.1\r\n" + _HC + b"\r\n"),
    ("malformed-400", b"GET / HTTP/1.1\r\nHost a\r\n\r\n"),
    ("oversized-headers-431", b"GET / HTTP/1.1\r\n" + _H + b"X-Big: " + b"a" * 40_000 + b"\r\n\r\n"),
    ("too-many-headers-431", b"GET / HTTP/1.1\r\n" + _H + b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n"),
    ("uri-too-long-414", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + _H + b"\r\n"),
    ("missing-host-400", b"GET / HTTP/1.1\r\n\r\n"),
    ("content-length-and-chunked-400", b"POST / HTTP/1.1\r\n" + _H + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("connect-405", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
]
_HALF_CLOSED_UPGRADES = [
    ("upgrade-switched", b"GET /switch HTTP/1.1\r\n" + _H + _UPGRADE + b"\r\n"),
    ("upgrade-switched-header-filters", b"GET /filtered/switch HTTP/1.1\r\nHost: filters.example\r\nX-Remove: r\r\n"
     + _UPGRADE + b"\r\n"),
    ("upgrade-declined", b"GET /status-only HTTP/1.1\r\n" + _H + _UPGRADE + b"\r\n"),
    ("upgrade-no-route-404", b"GET / HTTP/1.1\r\nHost: filters.example\r\n" + _UPGRADE + b"\r\n"),
]
_HALF_CLOSED = [
    ("head-cut-short-400", b"GET / HTTP/1.1\r\nHost: a\r\n"),
    ("body-cut-short-400", b"POST /upload HTTP/1.1\r\n" + _H + b"Content-Length: 100\r\n\r\nonly this"),
]


@pytest.mark.parametrize("data, half_close", [pytest.param(data, False, id=name) for name, data in _CASES]
                         + [pytest.param(data, True, id=name) for name, data in _HALF_CLOSED + _HALF_CLOSED_UPGRADES])
def test_client_and_backend_see_the_same_bytes(pair, data, half_close):
    pair.deploy(_ROUTES)
    (reference, reference_seen), (candidate, candidate_seen) = pair.both(data, half_close=half_close)
    assert candidate == reference
    assert candidate_seen == reference_seen


def test_an_upgrade_is_switched_and_its_101_relayed_alike(pair):
    pair.deploy(_ROUTES)
    (reference, reference_seen), (candidate, _) = pair.both(
        b"GET /filtered/switch HTTP/1.1\r\nHost: filters.example\r\n" + _UPGRADE + b"\r\n", half_close=True)
    assert candidate == reference
    # The switch's own fields and the route's response filter; the hop named in Connection is gone.
    assert candidate.lower() == (b"http/1.1 101 switching protocols\r\nx-switch: yes\r\nx-backend: hidden\r\n"
                                 b"x-multi: 3\r\nconnection: upgrade\r\nupgrade: raw\r\n\r\n[raw bytes]")
    forwarded = reference_seen["a"][0][0].lower()
    assert b"connection: upgrade\r\nupgrade: raw\r\n" in forwarded and b"x-set: set-value" in forwarded


def test_a_request_arriving_in_pieces_is_answered_alike(pair):
    pair.deploy(_ROUTES)
    pieces = [b"POST /up", b"load HTTP/1.1\r\nHo", b"st: example.com\r\nTransfer-Encoding: chunked\r\nConnection: cl",
              b"ose\r\n\r\n3\r\nabc\r", b"\n0\r\n", b"\r\n"]
    replies = []
    for proxy in (pair.reference, pair.candidate):
        pair.backends["a"].seen.clear()
        replies.append((exchange(proxy.port, b"", pieces=pieces, half_close=False), list(pair.backends["a"].seen)))
    assert replies[1] == replies[0]
    assert replies[1][1][0][1] == b"abc"


def test_keep_alive_connection_reused_for_sequential_requests(pair):
    pair.deploy(_ROUTES)
    replies = []
    for proxy in (pair.reference, pair.candidate):
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
            answers = []
            for number in range(3):
                sock.sendall(b"GET /seq/%d HTTP/1.1\r\nHost: example.com\r\n\r\n" % number)
                data = b""
                while not data.endswith(b"GET /seq/%d" % number):
                    chunk = sock.recv(65536)
                    assert chunk, "the proxy closed a keep-alive connection"
                    data += chunk
                answers.append(data)
        replies.append(answers)
    assert replies[1] == replies[0]


def test_expect_continue_is_answered_before_the_body_is_sent(pair):
    pair.deploy(_ROUTES)
    replies = []
    for proxy in (pair.reference, pair.candidate):
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
            sock.sendall(b"POST /wait HTTP/1.1\r\n" + _HC + b"Expect: 100-continue\r\nContent-Length: 4\r\n\r\n")
            interim = sock.recv(65536)  # a client that waits for the 100 before its body
            sock.sendall(b"body")
            rest = b""
            while chunk := sock.recv(65536):
                rest += chunk
        replies.append((interim, rest))
    assert replies[0][0] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert replies[1] == replies[0]
