"""A weight change reaches the C event loop in place: the table it serves keeps its rules and ids.

What a user sees: after the reload the split follows the new weights, a backend set to 0 gets no
more requests, per-backend counters keep counting under the right names, and requests in flight
during the change are answered as usual. A reload that changes more than weights still builds a
new table.
"""

from __future__ import annotations

import re
import socket
import threading
from collections import Counter

import pytest
from prometheus_client import generate_latest

from gateway_proxy.dataplane import loop_plans
from gw_harness import backend, deploy, path_match, route, rule
from routeshift.testing.polling import until
from test_loop_parity import RawBackend, start_proxy


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


def split(proxy, weights: dict[str, int], servers, extra_rules=()):
    deploy(proxy, servers, [route("r", [rule([backend(name, weight=w) for name, w in weights.items()])]
                                  + list(extra_rules))])


def answers(port: int, count: int, path: bytes = b"/n") -> list[tuple[bytes, bytes]]:
    """(status line, backend name) of ``count`` requests on one keep-alive connection."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for number in range(count):
            sock.sendall(b"GET %s/%d HTTP/1.1\r\nHost: example.com\r\n\r\n" % (path, number))
            reply = b""
            while not reply.endswith(b" %s/%d" % (path, number)):
                chunk = sock.recv(65536)
                assert chunk, "the proxy closed a keep-alive connection"
                reply += chunk
            out.append((reply.split(b"\r\n", 1)[0], reply.rsplit(b"\r\n\r\n", 1)[1][:1]))
    return out


def requests_total(proxy) -> dict[str, float]:
    """routeshift_gateway_requests_total by backend, code 200, as /metrics shows it."""
    text = generate_latest(proxy.runtime.metrics.registry).decode()
    found = re.findall(r'routeshift_gateway_requests_total\{backend="(\w+)",.*code="200".*\} (\S+)', text)
    return {name: float(value) for name, value in found}


def test_in_place_weight_change_moves_the_split(c_proxy, servers):
    plane = c_proxy.runtime.plane
    split(c_proxy, {"a": 3, "b": 1}, servers)
    table, reweighs = plane.plans[-1], plane.reweighs
    split(c_proxy, {"a": 1, "b": 3}, servers)
    assert plane.reweighs == reweighs + 1 and plane.plans[-1] is table  # updated, not rebuilt
    counts = Counter(name for _, name in answers(c_proxy.port, 400))
    # 1:3 over 400 draws: 100 expected for a, sigma ~8.7; 5 sigma either way.
    assert 56 < counts[b"a"] < 144, counts


def test_weight_zero_stops_traffic_at_once_and_counters_stay_with_their_backend(c_proxy, servers):
    plane = c_proxy.runtime.plane
    split(c_proxy, {"a": 1, "b": 0}, servers)
    assert {name for _, name in answers(c_proxy.port, 30)} == {b"a"}
    table = plane.plans[-1]
    split(c_proxy, {"a": 0, "b": 1}, servers)
    assert plane.plans[-1] is table
    assert {name for _, name in answers(c_proxy.port, 50)} == {b"b"}  # the first request after the reload
    # The loop counts an answer just after writing it: the last one may trail the client by a hair.
    until(lambda: requests_total(c_proxy)["b"] == 50, 10, description="the 50th answer counted")
    assert requests_total(c_proxy) == {"a": 30, "b": 50}


def test_a_change_beyond_weights_still_rebuilds(c_proxy, servers):
    plane = c_proxy.runtime.plane
    split(c_proxy, {"a": 1, "b": 1}, servers)
    table, reweighs = plane.plans[-1], plane.reweighs
    split(c_proxy, {"a": 1, "b": 1}, servers, extra_rules=[rule([backend("b")], matches=[path_match("/only-b")])])
    assert plane.plans[-1] is not table and plane.reweighs == reweighs
    assert {name for _, name in answers(c_proxy.port, 20, path=b"/only-b")} == {b"b"}


def test_weights_computed_for_a_table_the_loop_replaced_are_refused(c_proxy, servers):
    # A reload racing another: the loop applies weights only to the table they were computed for.
    plane = c_proxy.runtime.plane
    split(c_proxy, {"a": 1, "b": 0}, servers)
    replaced = plane.plans[-1]
    split(c_proxy, {"a": 1, "b": 0}, servers, extra_rules=[rule([backend("b")], matches=[path_match("/only-b")])])
    assert plane.plans[-1] is not replaced
    rule_id = replaced.table.rules.index(next(r for r in replaced.table.rules if r.route == "r"))
    update = loop_plans.Reweighing(replaced, [(rule_id, 1, ((0, 0), (1, 1)))])
    assert plane.loop.reweigh(update, 5) is False and update.outcome == loop_plans.REFUSED
    assert {name for _, name in answers(c_proxy.port, 20)} == {b"a"}


def test_weight_changes_under_load_answer_only_2xx(c_proxy, servers):
    plane = c_proxy.runtime.plane
    split(c_proxy, {"a": 1, "b": 1}, servers)
    reweighs = plane.reweighs
    stop = threading.Event()
    seen: list[list] = [[], []]

    def load(into: list) -> None:
        with socket.create_connection(("127.0.0.1", c_proxy.port), timeout=10) as sock:
            number = 0
            while not stop.is_set():
                sock.sendall(b"GET /load/%d HTTP/1.1\r\nHost: example.com\r\n\r\n" % number)
                reply = b""
                while not reply.endswith(b" /load/%d" % number):
                    chunk = sock.recv(65536)
                    if not chunk:
                        into.append((b"closed", b""))
                        return
                    reply += chunk
                into.append((reply.split(b"\r\n", 1)[0], reply.rsplit(b"\r\n\r\n", 1)[1][:1]))
                number += 1

    clients = [threading.Thread(target=load, args=(into,)) for into in seen]
    for client in clients:
        client.start()
    try:
        for step in range(10):
            split(c_proxy, {"a": 10 - step, "b": step}, servers)
    finally:
        stop.set()
        for client in clients:
            client.join(10)
    answered = seen[0] + seen[1]
    assert plane.reweighs == reweighs + 10
    assert answered and {status for status, _ in answered} == {b"HTTP/1.1 200 OK"}, Counter(answered)
