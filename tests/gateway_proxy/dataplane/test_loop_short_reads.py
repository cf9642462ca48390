"""The C loop takes a read shorter than it asked for as "the socket is empty" (epoll(7), the read
nginx saves too): what a client sees must not change.

The case that could change is the end of stream arriving together with a request. Then no new
epoll edge follows the short read, and only the hang-up epoll reported makes the loop read on and
find the client's half-close: it answers the request and closes, as the asyncio path does, instead
of holding the connection open until the head timeout. Pipelined requests, requests in pieces and
half-closes elsewhere are in test_loop_parity.py and test_loop_error_paths.py.
"""

from __future__ import annotations

import socket

import pytest

from gw_harness import backend, deploy, route, rule
from test_loop_parity import RawBackend, start_proxy

_GET = b"GET /ok HTTP/1.1\r\nHost: example.com\r\n\r\n"


@pytest.fixture
def c_proxy(monkeypatch, tmp_path):
    servers = {"a": RawBackend("a")}
    # The head timeout is far longer than a client below waits: a connection the loop forgot to
    # close shows as a timeout, not as a close the timer made.
    running = start_proxy(monkeypatch, tmp_path, "c", "c-proxy", header_timeout=30.0)
    deploy(running, servers, [route("r", [rule([backend("a")])])])
    yield running
    running.stop()
    servers["a"].stop()


def _answer_then_close(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(_GET)
        sock.shutdown(socket.SHUT_WR)  # most often in the same epoll event as the request
        reply = b""
        while chunk := sock.recv(65536):  # a socket.timeout here: the loop never saw the end
            reply += chunk
    return reply


def test_a_request_and_the_half_close_right_behind_it_are_answered_and_closed(c_proxy):
    for _ in range(25):  # the end of stream lands with the request or just after it
        reply = _answer_then_close(c_proxy.port)
        assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and reply.endswith(b"a saw GET /ok"), reply[:200]
