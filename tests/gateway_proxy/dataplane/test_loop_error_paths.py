"""The C event loop's error paths over real sockets: what a client sees when a peer misbehaves.

Where the asyncio path answers, the C loop must answer with the same bytes (502 for a refused
backend, 504 for a slow one, 408 for a slow head); where a peer just disappears, the loop must
drop what it held and keep serving everyone else. Each test ends with a request that must still
be served, so that a wedged or crashed loop fails it.
"""

from __future__ import annotations

import hashlib
import socket
import time

import pytest

from gw_harness import backend, deploy, free_port, route, rule
from test_loop_parity import Pair, RawBackend, exchange, start_proxy

_GET = b"GET /ok HTTP/1.1\r\nHost: example.com\r\n\r\n"


@pytest.fixture
def backends():
    servers = {"a": RawBackend("a")}
    yield servers
    servers["a"].stop()


@pytest.fixture
def c_proxy(monkeypatch, tmp_path, backends):
    running = start_proxy(monkeypatch, tmp_path, "c", "c-proxy", header_timeout=0.5)
    deploy(running, backends, [route("r", [rule([backend("a")])])])
    yield running
    running.stop()


def still_serving(proxy) -> None:
    reply = exchange(proxy.port, _GET)
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and reply.endswith(b"a saw GET /ok"), reply[:200]


def test_client_closing_mid_head_or_mid_body_is_forgotten(c_proxy, backends):
    with socket.create_connection(("127.0.0.1", c_proxy.port), timeout=5) as sock:
        sock.sendall(b"GET /partial HTTP/1.1\r\nHost: exa")
    with socket.create_connection(("127.0.0.1", c_proxy.port), timeout=5) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 1000\r\n\r\nonly part")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # reset
    still_serving(c_proxy)
    assert all(head.split(b" ")[1] != b"/upload" for head, _ in backends["a"].seen)


def test_backend_closing_mid_response_closes_the_client_after_what_came(c_proxy):
    reply = exchange(c_proxy.port, b"GET /cut HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert reply == b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789"
    still_serving(c_proxy)


def test_backend_closing_mid_chunk_cuts_the_response_after_the_data_that_came(c_proxy):
    reply = exchange(c_proxy.port, b"GET /cut-chunked HTTP/1.1\r\nHost: example.com\r\n\r\n")
    # The five bytes of the ten-byte chunk that arrived are passed on, re-chunked; no last chunk.
    assert reply == b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\n01234\r\n"
    still_serving(c_proxy)


def test_malformed_request_chunk_is_a_400_and_a_close(c_proxy, backends):
    started = time.monotonic()
    reply = exchange(c_proxy.port, b"POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   b"zz\r\n", timeout=5)
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n") and reply.endswith(b"400 Bad Request\n")
    assert time.monotonic() - started < 3
    assert backends["a"].seen == []  # the body never completed
    still_serving(c_proxy)


def test_refused_backend_and_slow_backend_answer_like_the_asyncio_path(monkeypatch, tmp_path, backends):
    closed_port = free_port()  # nothing listens there
    reference = start_proxy(monkeypatch, tmp_path, "asyncio", "reference")
    candidate = start_proxy(monkeypatch, tmp_path, "c", "candidate")
    try:
        servers = dict(backends, refused=type("Closed", (), {"port": closed_port, "seen": []})())
        pair = Pair(reference, candidate, servers)
        pair.deploy([route("r", [rule([backend("a")], timeouts={"backendRequest": "200ms"})]),
                     route("gone", [rule([backend("refused")])], hostnames=["gone.example"])])
        (ref_refused, _), (c_refused, _) = pair.both(b"GET / HTTP/1.1\r\nHost: gone.example\r\nConnection: close\r\n\r\n",
                                                  half_close=False)
        assert ref_refused.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
        assert c_refused == ref_refused
        started = time.monotonic()
        (ref_slow, _), (c_slow, _) = pair.both(b"GET /slow?delay=1.5 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
                                            half_close=False)
        assert ref_slow.startswith(b"HTTP/1.1 504 Gateway Timeout\r\n")
        assert c_slow == ref_slow
        assert time.monotonic() - started < 2.5  # both answered at the timeout, not after the backend
        still_serving(candidate)
    finally:
        reference.stop()
        candidate.stop()


def test_slow_head_gets_408_like_the_asyncio_path(monkeypatch, tmp_path, backends):
    replies = []
    for plane in ("asyncio", "c"):
        proxy = start_proxy(monkeypatch, tmp_path, plane, plane, header_timeout=0.3)
        try:
            deploy(proxy, backends, [route("r", [rule([backend("a")])])])
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
                started = time.monotonic()
                sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")  # and never the end of the head
                reply = b""
                while chunk := sock.recv(65536):
                    reply += chunk
                elapsed = time.monotonic() - started
            replies.append(reply)
            assert 0.2 < elapsed < 3
        finally:
            proxy.stop()
    assert replies[0].startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert replies[1] == replies[0]


def test_idle_keep_alive_connection_closes_silently_after_the_head_timeout(c_proxy):
    with socket.create_connection(("127.0.0.1", c_proxy.port), timeout=5) as sock:
        sock.sendall(_GET)
        reply = b""
        while not reply.endswith(b"a saw GET /ok"):
            chunk = sock.recv(65536)
            assert chunk
            reply += chunk
        assert sock.recv(65536) == b""  # closed once idle for the head timeout, nothing written


def test_slow_client_gets_a_large_body_intact_while_others_are_served(c_proxy):
    size = 8 * 1024 * 1024
    with socket.create_connection(("127.0.0.1", c_proxy.port), timeout=10) as sock:
        sock.sendall(b"GET /big?big=%d HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n" % size)
        first = sock.recv(1024)
        assert first.startswith(b"HTTP/1.1 200 OK\r\n")
        # While this client is not reading, the proxy holds the rest: others must still be served.
        still_serving(c_proxy)
        data = first
        while chunk := sock.recv(1 << 20):
            data += chunk
    body = data[data.index(b"\r\n\r\n") + 4:]
    assert hashlib.sha256(body).digest() == hashlib.sha256(b"x" * size).digest()
    still_serving(c_proxy)
