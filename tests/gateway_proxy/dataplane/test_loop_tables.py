"""Route tables reaching the C event loop: weighted splits, reloads, and the fallback to asyncio.

A reload hands the loop a new table and waits until the loop took it, so the next request sees
it. A table the loop cannot serve (a retry whose backendRef has its own filter) is served by the
asyncio path on the same socket, with one log line saying why, and the loop takes over again when
the table allows.
"""

from __future__ import annotations

import logging
import socket

import pytest

from gw_harness import backend, deploy, route, rule
from test_loop_parity import RawBackend, exchange, start_proxy


@pytest.fixture
def servers():
    running = {"a": RawBackend("a"), "b": RawBackend("b")}
    yield running
    for server in running.values():
        server.stop()


@pytest.fixture
def c_proxy(monkeypatch, tmp_path):
    running = start_proxy(monkeypatch, tmp_path, "c", "c-proxy")
    yield running
    running.stop()


def answered_by(proxy, host=b"example.com", path=b"/") -> bytes:
    reply = exchange(proxy.port, b"GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host))
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n"), reply[:120]
    return reply.rsplit(b"\r\n\r\n", 1)[1].split(b" ")[0]


def test_weighted_split_within_tolerance(c_proxy, servers):
    deploy(c_proxy, servers, [route("r", [rule([backend("a", weight=3), backend("b", weight=1)])])])
    counts = {b"a": 0, b"b": 0}
    with socket.create_connection(("127.0.0.1", c_proxy.port), timeout=10) as sock:
        for number in range(400):
            sock.sendall(b"GET /n/%d HTTP/1.1\r\nHost: example.com\r\n\r\n" % number)
            reply = b""
            while not reply.endswith(b" /n/%d" % number):
                chunk = sock.recv(65536)
                assert chunk, "the proxy closed a keep-alive connection"
                reply += chunk
            counts[reply.rsplit(b"\r\n\r\n", 1)[1][:1]] += 1
    # 3:1 over 400 draws: 300 expected for a, sigma ~8.7; 5 sigma either way.
    assert 256 < counts[b"a"] < 344, counts


def test_reload_is_seen_by_the_next_request_and_old_tables_are_dropped(c_proxy, servers):
    for number in range(6):
        target = "a" if number % 2 == 0 else "b"
        deploy(c_proxy, servers, [route("r", [rule([backend(target)])])])
        assert answered_by(c_proxy) == target.encode()
    assert len(c_proxy.runtime.plane.plans) <= 2  # retired tables were let go


def test_table_the_loop_cannot_serve_falls_back_to_asyncio_and_back(c_proxy, servers, caplog):
    plane = c_proxy.runtime.plane
    deploy(c_proxy, servers, [route("r", [rule([backend("a")])])])
    assert plane.serving_c is True
    served_by_c = plane.loop.stats[1]
    assert answered_by(c_proxy) == b"a"
    assert plane.loop.stats[1] == served_by_c + 1
    with caplog.at_level(logging.WARNING, logger="gateway_proxy"):
        retried = rule([dict(backend("a"), filters=[{"type": "RequestHeaderModifier",
                                                     "requestHeaderModifier": {"set": [{"name": "X-To", "value": "a"}]}}])])
        retried["retry"] = {"codes": [503], "attempts": 1}
        deploy(c_proxy, servers, [route("r", [retried])])
    assert plane.serving_c is False
    assert any("retry with a backendRef RequestHeaderModifier in default/r" in record.getMessage()
               and "asyncio path serves" in record.getMessage() for record in caplog.records)
    before = plane.loop.stats[1]
    assert answered_by(c_proxy) == b"a"  # served, with its retry policy, by the asyncio path
    assert plane.loop.stats[1] == before
    deploy(c_proxy, servers, [route("r", [rule([backend("b")])])])
    assert plane.serving_c is True
    assert answered_by(c_proxy) == b"b"
    assert plane.loop.stats[1] == before + 1
