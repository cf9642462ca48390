"""Malformed and oversized requests get a clear 4xx and a closed connection; nothing reaches a backend."""

from __future__ import annotations

import socket
import time

import pytest

from gw_harness import Proxy, backend, deploy, raw_exchange, route, rule


@pytest.fixture
def v1(proxy, echo_factory):
    echoes = {"v1": echo_factory("v1")}
    deploy(proxy, echoes, [route("r", [rule([backend("v1")])])])
    return echoes["v1"]


def status_of(reply: bytes) -> int:
    assert reply.startswith(b"HTTP/1.1 "), reply[:80]
    return int(reply[9:12])


@pytest.mark.parametrize("data, expected", [
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n", 431, id="header-too-large"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n", 431,
                 id="too-many-headers"),
    pytest.param(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414, id="uri-too-long"),
    pytest.param(b"GET / HTTP/1.1\r\nHost a\r\n\r\n", 400, id="header-without-colon"),
    pytest.param(b"GET / HTTP/9.9\r\nHost: a\r\n\r\n", 400, id="bad-version"),
    pytest.param(b"G\x00T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, id="bad-method"),
    pytest.param(b"GET / HTTP/1.1\r\n\r\n", 400, id="http11-without-host"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, id="two-hosts"),
    pytest.param(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
                 id="content-length-with-transfer-encoding"),
    pytest.param(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400,
                 id="transfer-encoding-with-content-length"),
    pytest.param(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400,
                 id="duplicate-content-length"),
    pytest.param(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400,
                 id="chunked-not-last"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400, id="obsolete-line-folding"),
    pytest.param(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405, id="connect"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\n", 400, id="head-cut-short"),
])
def test_rejected_with_status_and_closed(proxy, v1, data, expected):
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break  # the proxy closed the connection
            reply += chunk
    assert status_of(reply) == expected
    assert v1.seen == []


def test_request_smuggling_attempt_never_reaches_backend_as_two_requests(proxy, v1):
    smuggled = (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n")
    reply = raw_exchange(proxy.port, smuggled)
    assert status_of(reply) == 400
    assert reply.count(b"HTTP/1.1") == 1
    assert v1.seen == []


def test_slow_header_read_times_out_with_408(impl, tmp_path):
    proxy = Proxy(impl, str(tmp_path), header_timeout=0.5).start()
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
            started = time.monotonic()
            sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")  # and never the end of the head
            reply = sock.recv(65536)
            assert sock.recv(65536) == b""  # then closed
            elapsed = time.monotonic() - started
        assert status_of(reply) == 408
        assert 0.4 < elapsed < 3
    finally:
        proxy.stop()


def test_idle_keep_alive_connection_is_closed_after_the_timeout(impl, tmp_path):
    proxy = Proxy(impl, str(tmp_path), header_timeout=0.5).start()
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            first = sock.recv(65536)
            assert status_of(first) == 503  # nothing loaded yet: the proxy is not ready
            assert sock.recv(65536) == b""  # idle past the header timeout: closed without a response
    finally:
        proxy.stop()


@pytest.mark.parametrize("host, expected", [
    pytest.param("example.com", 400, id="forwarded-to-a-backend"),
    pytest.param("unrouted.org", 404, id="answered-before-the-body"),
])
def test_body_cut_short_by_half_close_is_answered_and_closed(proxy, echo_factory, host, expected):
    deploy(proxy, {"v1": echo_factory("v1")}, [route("r", [rule([backend("v1")])], hostnames=["example.com"])])
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: " + host.encode() + b"\r\nContent-Length: 10\r\n\r\nabc")
        sock.shutdown(socket.SHUT_WR)  # the other 7 bytes never come
        reply = b""
        while True:
            chunk = sock.recv(65536)  # raises a timeout if the proxy keeps the connection open
            if not chunk:
                break
            reply += chunk
    assert status_of(reply) == expected


class _BrokenTable:
    """A routing table that fails when read: stands in for a bug inside the exchange."""

    @property
    def table(self):
        raise RuntimeError("boom")

    tls_table = table


def test_an_internal_error_answers_500_and_closes_instead_of_hanging(proxy, v1, caplog):
    proxy.runtime.compiled = _BrokenTable()
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        # A keep-alive request, no half-close: only the proxy closing ends the read.
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert status_of(reply) == 500
    assert b"connection: close" in reply.lower()
    assert any("internal error serving GET /x" in r.getMessage() and r.exc_info for r in caplog.records)
    assert v1.seen == []
