"""RequestMirror served by the C event loop: the copies a canary's mirroring stage relies on.

A table with a RequestMirror filter stays on the C loop (it no longer falls back to the asyncio
path). The mirror backend receives what the asyncio path sends it, head and body, while the
client gets the primary's answer byte for byte as from the asyncio path; a share copies about
that share; a mirror backend that refuses, never answers or never reads changes nothing the
client sees; and each copy's outcome is counted for the mirror backend as the asyncio path
counts it.
"""

from __future__ import annotations

import http.client
import socket
import threading

import pytest

from gateway_proxy import mirroring
from gw_harness import backend, deploy, free_port, route, rule
from routeshift.testing.polling import until
from test_loop_metrics import series
from test_loop_parity import RawBackend, exchange, start_proxy

_GET = b"GET /ok HTTP/1.1\r\nHost: example.com\r\n\r\n"


class Unanswering:
    """A mirror backend that accepts and never answers: ``reads`` everything it is sent (and
    counts it), or reads nothing at all until :meth:`read_to_end`."""

    def __init__(self, reads: bool):
        self.reads = reads
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # inherited by accepted sockets
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.seen: list = []  # what RawBackend records; nothing is ever complete here
        self.connections: list[socket.socket] = []
        self.received = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)
            if self.reads:
                threading.Thread(target=self.read_to_end, args=(conn,), daemon=True).start()

    def read_to_end(self, conn: socket.socket, timeout: float = 10.0) -> bool:
        """Read ``conn`` until the proxy closes it (True) or ``timeout`` passes (False)."""
        conn.settimeout(timeout)
        try:
            while chunk := conn.recv(262144):
                self.received += len(chunk)
            return True
        except OSError:
            return False

    def stop(self):
        self.sock.close()
        for conn in self.connections:
            conn.close()


def _mirror(name, **share):
    return {"type": "RequestMirror", "requestMirror": {"backendRef": backend(name), **share}}


def _labels(name: str, code: int) -> tuple[str, str]:
    return ("routeshift_gateway_requests_total",
            f'backend="{name}",backend_namespace="default",code="{code}",namespace="default",route="r"')


def _counted(proxy, name: str, code: int) -> int:
    """How many of the mirror ``name``'s copies were counted with ``code`` so far: the C loop's own
    counters (folding them into Prometheus is the scrape's job, and two folds at once could race),
    the Prometheus series on the asyncio path."""
    plane = proxy.runtime.plane
    if plane is None:
        return int(series(proxy).get(_labels(name, code), 0))
    codes = dict(plane.counters.read(plane.blocks[("default", "r", "default", name)])[0])
    return codes.get(code, 0)


@pytest.fixture
def servers():
    running = {"a": RawBackend("a"), "m": RawBackend("m")}
    yield running
    for server in running.values():
        server.stop()


def _copied(proxy, servers, data: bytes):
    """(client bytes, what the primary saw, what the mirror saw) for one request."""
    for name in ("a", "m"):
        servers[name].seen.clear()
    reply = exchange(proxy.port, data)
    until(lambda: servers["m"].seen, 5, description="the mirror received its copy")
    return reply, list(servers["a"].seen), list(servers["m"].seen)


@pytest.mark.parametrize("data", [
    pytest.param(b"GET /plain?q=1 HTTP/1.1\r\nHost: example.com\r\nX-Hop: x\r\nConnection: X-Hop\r\n\r\n", id="get"),
    pytest.param(b"HEAD /head HTTP/1.1\r\nHost: example.com\r\n\r\n", id="head"),
    pytest.param(b"POST /length HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\n\r\nhello world", id="length"),
    pytest.param(b"POST /chunked HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n", id="chunked"),
])
def test_mirror_gets_what_the_asyncio_path_sends_and_the_client_the_same_answer(monkeypatch, tmp_path, servers,
                                                                                 data):
    reference = start_proxy(monkeypatch, tmp_path, "asyncio", "reference")
    candidate = start_proxy(monkeypatch, tmp_path, "c", "candidate")
    try:
        routes = [route("r", [rule([backend("a")], filters=[
            {"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "X-Rule", "value": "r"}]}},
            _mirror("m")])])]
        for proxy in (reference, candidate):
            deploy(proxy, servers, routes)
        plane = candidate.runtime.plane
        assert plane.serving_c is True  # a mirror filter no longer sends the table to asyncio
        served_by_c = plane.loop.stats[1]
        expected = _copied(reference, servers, data)
        reply, primary, copy = _copied(candidate, servers, data)
        assert plane.loop.stats[1] == served_by_c + 1
        assert reply == expected[0] and reply.startswith(b"HTTP/1.1 200 OK\r\n")
        assert primary == expected[1]
        # The same head (filters applied, hop-by-hop fields gone, same framing) and the same body.
        assert copy == expected[2] == primary
        assert b"X-Rule: r\r\n" in copy[0][0] and b"x-hop" not in copy[0][0].lower()
    finally:
        reference.stop()
        candidate.stop()


def test_a_share_copies_about_that_share_of_requests(monkeypatch, tmp_path, servers):
    servers["every"] = RawBackend("every")
    proxy = start_proxy(monkeypatch, tmp_path, "c", "c")
    try:
        deploy(proxy, servers, [route("r", [rule([backend("a")], filters=[
            _mirror("m", percent=50), _mirror("every")])])])
        assert proxy.runtime.plane.serving_c is True
        sent = 200
        connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        try:
            for index in range(sent):
                connection.request("GET", f"/?i={index}", headers={"Host": "example.com"})
                response = connection.getresponse()
                assert (response.status, response.read()) == (200, b"a saw GET /?i=%d" % index)
        finally:
            connection.close()
        until(lambda: len(servers["every"].seen) == sent, 10, description="the unsampled mirror got every request")
        # Copies start together when a request begins: once "every" has each of its copies, a copy
        # for "m" would have been on its way too. Binomial(200, 1/2): mean 100, deviation 7.1, so
        # 60..140 is over five deviations wide.
        until(lambda: len(servers["m"].seen) >= 60, 5, description="the half mirror got its share")
        paths = [head.split(b" ")[1] for head, _ in servers["m"].seen]
        assert len(paths) <= 140
        assert len(set(paths)) == len(paths), "each request is sampled once"
    finally:
        proxy.stop()
        servers["every"].stop()


def test_mirror_outcomes_are_counted_for_the_mirror_backend_as_on_the_asyncio_path(monkeypatch, tmp_path, servers):
    monkeypatch.setattr(mirroring, "MIRROR_DEADLINE", 0.5)  # read when each proxy starts
    silent = Unanswering(reads=True)
    everyone = dict(servers, silent=silent, refused=type("Closed", (), {"port": free_port(), "seen": []})())
    reference = start_proxy(monkeypatch, tmp_path, "asyncio", "reference")
    candidate = start_proxy(monkeypatch, tmp_path, "c", "candidate")
    try:
        routes = [route("r", [rule([backend("a")], filters=[_mirror("m"), _mirror("refused"), _mirror("silent")])])]
        outcomes = [("m", 200), ("refused", 502), ("silent", 504)]
        replies = []
        for proxy in (reference, candidate):
            deploy(proxy, everyone, routes)
            replies.append(exchange(proxy.port, _GET))
            until(lambda: all(_counted(proxy, name, code) == 1 for name, code in outcomes), 10,
                  description="each mirror's outcome counted")
        assert candidate.runtime.plane.serving_c is True
        assert replies[1] == replies[0] and replies[1].endswith(b"a saw GET /ok")
        mirrors = {key: value for key, value in series(reference).items() if 'route="r"' in key[1]}
        assert {key: value for key, value in series(candidate).items() if key in mirrors} == mirrors
        # The loop keeps serving, and a copy that expired left nothing behind.
        assert exchange(candidate.port, _GET).endswith(b"a saw GET /ok")
    finally:
        reference.stop()
        candidate.stop()
        silent.stop()


def test_a_mirror_that_never_reads_a_large_body_is_dropped_and_the_client_served(monkeypatch, tmp_path, servers):
    deaf = Unanswering(reads=False)
    refused = type("Closed", (), {"port": free_port(), "seen": []})()
    proxy = start_proxy(monkeypatch, tmp_path, "c", "c")
    try:
        deploy(proxy, dict(servers, deaf=deaf, refused=refused), [route("r", [rule([backend("a")], filters=[
            _mirror("deaf"), _mirror("refused")])])])
        plane = proxy.runtime.plane
        assert plane.serving_c is True
        size = 8 * 1024 * 1024  # past the mirror's buffer and what the kernel holds for a reader that waits
        body = bytes(range(256)) * (size // 256)
        reply = exchange(proxy.port, b"POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: %d\r\n\r\n%s"
                         % (size, body), timeout=20)
        assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and reply.endswith(b"a saw POST /upload")
        assert servers["a"].seen[-1][1] == body
        # The proxy gave up on the copy: the mirror backend finds its connection closed, short.
        until(lambda: deaf.connections, 5, description="the deaf mirror was connected")
        assert deaf.read_to_end(deaf.connections[0])
        assert deaf.received < size
        assert exchange(proxy.port, _GET).endswith(b"a saw GET /ok")
        assert plane.serving_c is True
    finally:
        proxy.stop()
        deaf.stop()
