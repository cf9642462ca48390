"""HTTPRoute ``rules[].retry`` served by the C event loop, byte for byte as the asyncio path serves it.

A table with a retry stanza stays on the C loop. For each raw request below, the backend answers
from the same script on both data paths (fail N times, then answer; close without an answer;
stall past ``timeouts.backendRequest``), and the client reads the same bytes from both while the
backend sees the same attempts: the same heads, the same bodies resent. The cases are the ones
retries.py decides: a listed status retried until the attempts run out, a status not listed
passed through, a refused connection retried, a connection lost after sending not retried, a
backendRequest timeout retried, bodies kept up to REPLAY_LIMIT and resent (either framing), a
longer one not resent. (tests/gateway_proxy/http_features/test_retries_over_sockets.py runs the
behaviour tests, metrics included, on the C loop too.)
"""

from __future__ import annotations

import random
import time

import pytest

import dataplane_support
from gw_harness import backend, free_port, gateway, path_match, route, rule, service
from test_loop_parity import RawBackend, compiled_build, serving_pair
from gateway_proxy import attachment, compiling, resources, retries


class ScriptedBackend(RawBackend):
    """RawBackend answering each target by its attempt number (how often this backend saw that
    request line since ``seen`` was last cleared): ``fail=N`` answers the first N with a 503 naming
    the attempt, ``cut=N`` closes them unanswered, ``stall=N`` waits a second before answering."""

    def _answer(self, target: bytes, method: bytes) -> tuple[bytes, bool]:
        line = method + b" " + target + b" "
        attempt = sum(1 for head, _ in self.seen if head.startswith(line)) - 1
        query = target.partition(b"?")[2]
        params = dict(part.split(b"=", 1) for part in query.split(b"&") if b"=" in part)
        if attempt < int(params.get(b"cut", b"0")):
            return b"", False
        if attempt < int(params.get(b"stall", b"0")):
            time.sleep(1.0)  # well past backendRequest: the proxy has moved on to the next attempt
        if attempt < int(params.get(b"fail", b"0")):
            body = b"attempt %d failed" % (attempt + 1)
            return b"HTTP/1.1 503 Service Unavailable\r\nX-Attempt: %d\r\nContent-Length: %d\r\n\r\n%s" % (
                attempt + 1, len(body), b"" if method == b"HEAD" else body), True
        return super()._answer(target, method)


class Refusing:
    """A port nothing listens on."""

    def __init__(self):
        self.port = free_port()
        self.seen: list = []


def _retry_rule(backends, prefix, timeouts=None, **retry):
    item = rule(backends, [path_match(prefix)], timeouts=timeouts)
    item["retry"] = {"codes": [500, 502, 503], "backoff": "1ms", **retry}
    return item


def _half_refused(port: int) -> list:
    """A Service whose slice lists 127.0.0.2, where ``port`` refuses, then 127.0.0.1."""
    return [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "half", "namespace": "default"},
             "spec": {"ports": [{"name": "http", "port": 80}]}},
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": {"name": "half-abc", "namespace": "default",
                          "labels": {"kubernetes.io/service-name": "half"}},
             "addressType": "IPv4", "ports": [{"name": "http", "port": port}],
             "endpoints": [{"addresses": ["127.0.0.2"]}, {"addresses": ["127.0.0.1"]}]}]


_ROUTES = [route("retrying", [
    _retry_rule([backend("a")], "/r", attempts=2),
    _retry_rule([backend("a")], "/listed-500-only", attempts=2, codes=[500]),
    _retry_rule([backend("a")], "/slow", attempts=1, codes=[], timeouts={"backendRequest": "100ms"}),
    _retry_rule([backend("half")], "/half", attempts=1, codes=[]),
    _retry_rule([backend("gone")], "/gone", attempts=2),
])]

_C = b"Host: example.com\r\nConnection: close\r\n"
_BIG = retries.REPLAY_LIMIT + 1000


def _post(path: bytes, body: bytes) -> bytes:
    return b"POST " + path + b" HTTP/1.1\r\n" + _C + b"Content-Length: %d\r\n\r\n" % len(body) + body


_CASES = [
    ("503-then-200", b"GET /r/a?fail=1 HTTP/1.1\r\n" + _C + b"\r\n"),
    ("attempts-exhausted-last-answer", b"GET /r/b?fail=9 HTTP/1.1\r\n" + _C + b"\r\n"),
    ("status-not-listed-passed-through", b"GET /listed-500-only/c?fail=1 HTTP/1.1\r\n" + _C + b"\r\n"),
    ("head-retried", b"HEAD /r/d?fail=1 HTTP/1.1\r\n" + _C + b"\r\n"),
    ("lost-after-sending-not-retried", b"GET /r/e?cut=1 HTTP/1.1\r\n" + _C + b"\r\n"),
    ("backend-request-timeout-retried", b"GET /slow/f?stall=1 HTTP/1.1\r\n" + _C + b"\r\n"),
    ("refused-retried", b"GET /half/g HTTP/1.1\r\n" + _C + b"\r\n"),
    ("refused-retried-again", b"GET /half/h HTTP/1.1\r\n" + _C + b"\r\n"),
    ("all-refused-502", b"GET /gone/i HTTP/1.1\r\n" + _C + b"\r\n"),
    ("body-resent", _post(b"/r/j?fail=1", b"order-42;" * 300)),
    ("chunked-body-resent", b"POST /r/k?fail=2 HTTP/1.1\r\n" + _C + b"Transfer-Encoding: chunked\r\n\r\n"
     b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
    ("expect-continue-body-resent", b"PUT /r/l?fail=1 HTTP/1.1\r\n" + _C + b"Expect: 100-continue\r\n"
     b"Content-Length: 4\r\n\r\nbody"),
    ("body-beyond-replay-limit-not-resent", _post(b"/r/m?fail=1", b"z" * _BIG)),
    # Round robin over "half": one of the two meets the refusing address first. The body, longer
    # than REPLAY_LIMIT, had not left: it is sent whole to the live one.
    ("body-beyond-replay-limit-resent-after-a-refused-connect",
     _post(b"/half/t", b"y" * _BIG).replace(b"Connection: close\r\n", b"") + _post(b"/half/u", b"x" * _BIG)),
    ("keep-alive-then-retried", b"GET /r/n?fail=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"
     b"GET /r/o?fail=1 HTTP/1.1\r\n" + _C + b"\r\n"),
]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Both data paths serving _ROUTES, once for every case (each case is one connection)."""
    scripted = ScriptedBackend("a")
    # "half" lives on the same server as "a".
    with serving_pair(tmp_path_factory, "retries", {"a": scripted, "gone": Refusing()}, _ROUTES,
                      extra=_half_refused(scripted.port)) as running:
        yield running


@pytest.mark.parametrize("half_close", [False, True], ids=["open", "half-closed"])
@pytest.mark.parametrize("data", [pytest.param(data, id=name) for name, data in _CASES])
def test_retried_answers_are_the_asyncio_paths_bytes(pair, data, half_close):
    """``half_close``: the client shuts its side once the request is sent, while the first
    attempt may still be connecting or a backoff running."""
    plane = pair.candidate.runtime.plane
    assert plane.serving_c is True, plane.reason  # a retry stanza no longer sends the table to asyncio
    served_by_c = plane.loop.stats[1]
    (reference, reference_seen), (candidate, candidate_seen) = pair.both(data, half_close=half_close)
    assert candidate == reference
    assert candidate_seen == reference_seen
    assert plane.loop.stats[1] > served_by_c


def test_the_cases_retry_what_retries_py_says(pair):
    """The parity above is not two paths agreeing never to retry: both answer after retries."""
    for reply, seen in pair.both(b"GET /r/p?fail=2 HTTP/1.1\r\n" + _C + b"\r\n", half_close=False):
        assert reply.startswith(b"HTTP/1.1 200 ")
        assert len(seen["a"]) == 3
    for reply, seen in pair.both(b"GET /half/q HTTP/1.1\r\n" + _C + b"\r\n", half_close=False):
        assert reply.startswith(b"HTTP/1.1 200 ")
    for reply, seen in pair.both(_post(b"/r/s?fail=1", b"z" * _BIG), half_close=False):
        assert reply.startswith(b"HTTP/1.1 503 ")
        assert len(seen["a"]) == 1


@pytest.mark.parametrize("retry", [
    pytest.param({"codes": [503]}, id="defaults"),
    pytest.param({"codes": [400, 500, 502, 503, 504, 599], "attempts": 7, "backoff": "3ms"}, id="listed"),
    pytest.param({"codes": [], "attempts": 40, "backoff": "1s"}, id="reaches-the-cap"),
    pytest.param({"codes": [429], "attempts": 2, "backoff": "30s"}, id="base-above-the-cap"),
    pytest.param({"codes": [503], "attempts": 0}, id="zero-disables"),
])
def test_the_loop_decides_what_retries_py_decides(retry):
    """The policy compiled into the C table gives retries.py's attempts, codes and backoff, to the
    last bit for the same draw (the loop's draw comes from its seeded generator)."""
    loop_exchange = dataplane_support.compiled("loop_exchange")
    table = dataplane_support.compiled("table")
    item = rule([backend("a")])
    item["retry"] = retry
    documents = [gateway(), *service("a", 9001), route("r", [item])]
    compiled = compiling.compile_config(attachment.Config.of(
        [resources.parse(document, f"test#{n}") for n, document in enumerate(documents)]), compiled_build())
    route_table = table.RouteTable(compiled.table, compiled.tls_table)
    (served,) = route_table.rules
    policy = served.retry
    draws = random.Random(7)
    for retry_number in range(1, 45):
        fraction = draws.random()
        attempts, delay, _ = loop_exchange.retry_decisions(route_table, 0, retry_number, fraction, 503)
        assert attempts == (0 if policy is None else policy.attempts)
        if policy is not None:
            assert delay == retries.backoff(policy, retry_number, fraction)
    for status in range(100, 700):
        expected = policy is not None and retries.retried_status(policy, status)
        assert loop_exchange.retry_decisions(route_table, 0, 1, 0.5, status)[2] is expected
