"""HTTPRoute ``rules[].retry`` over real sockets, in both builds and on the C data plane, case by
case as the spec words it.

The upstream conformance cases (a backend that recovers after N failures, attempts counted in
addition to the first request, codes not listed are passed through) plus what the spec asks
around them: connection failures retried, a connection lost after the request was sent not
retried, a ``backendRequest`` timeout starting the next attempt, the backoff respected, bodies
resent, and every attempt counted for the backend that answered. (tests/gateway_proxy/dataplane/
test_loop_retries.py compares the C loop's answers with the asyncio path's byte for byte.)
"""

from __future__ import annotations

import hashlib
import uuid

import pytest

from features_harness import Dead, deploy, requests_counted, served_by
from gw_harness import backend, route, rule
from routeshift.testing.polling import until


@pytest.fixture(params=["pure", "compiled", "c-loop"])
def gw(request, proxies, c_loop):
    """The conftest's proxy of each hot-path build, then the C data plane's."""
    return served_by(request.param, proxies, c_loop)


def retry_rule(backends, **retry):
    item = rule(backends)
    item["retry"] = retry
    return item


def fresh_id() -> str:
    return uuid.uuid4().hex


@pytest.mark.parametrize("attempts, fails, code, expected_status, expected_attempts", [
    pytest.param(3, 2, 500, 200, 3, id="recovers-after-two-retries"),
    pytest.param(3, 4, 500, 500, 4, id="attempts-exhausted-returns-the-error"),
    pytest.param(2, 1, 502, 200, 2, id="502-retried"),
    pytest.param(2, 1, 504, 200, 2, id="504-retried"),
    pytest.param(2, 3, 503, 503, 3, id="503-exhausted"),
    pytest.param(0, 1, 500, 500, 1, id="zero-attempts-disables"),
])
def test_listed_codes_are_retried_up_to_attempts(gw, flaky_factory, attempts, fails, code, expected_status,
                                                 expected_attempts):
    server = flaky_factory("flaky")
    deploy(gw, {"flaky": server}, [route("r", [retry_rule([backend("flaky")], codes=[500, 502, 503, 504],
                                                          attempts=attempts, backoff="1ms")])])
    key = fresh_id()
    status, _, _ = gw.request(path=f"/x?id={key}&fail={fails}&code={code}")
    assert status == expected_status
    assert server.attempts(key) == expected_attempts


def test_a_code_not_listed_is_passed_through(gw, flaky_factory):
    server = flaky_factory("flaky")
    deploy(gw, {"flaky": server}, [route("r", [retry_rule([backend("flaky")], codes=[500], attempts=3,
                                                          backoff="1ms")])])
    key = fresh_id()
    status, headers, body = gw.request(path=f"/x?id={key}&fail=2&code=503")
    assert (status, body) == (503, b"flaky failed attempt 1")
    assert server.attempts(key) == 1


def test_each_attempt_is_counted_for_its_backend(gw, flaky_factory):
    server = flaky_factory("flaky")
    deploy(gw, {"flaky": server}, [route("r", [retry_rule([backend("flaky")], codes=[503], attempts=3,
                                                          backoff="1ms")])])
    before = {code: requests_counted(gw, "flaky", code) for code in (200, 503)}
    status, _, _ = gw.request(path=f"/x?id={fresh_id()}&fail=2")
    assert status == 200
    # The C loop counts an answer just after sending it: the counters may trail the client a little.
    until(lambda: requests_counted(gw, "flaky", 200) - before[200] == 1, 10, description="the 200 was counted")
    assert requests_counted(gw, "flaky", 503) - before[503] == 2
    assert requests_counted(gw, "flaky", 200) - before[200] == 1


def test_a_retry_may_go_to_another_backend_by_weight(gw, flaky_factory, echo_factory):
    broken, healthy = flaky_factory("broken"), echo_factory("healthy")  # a plain echo ignores fail=
    deploy(gw, {"broken": broken, "healthy": healthy},
           [route("r", [retry_rule([backend("broken"), backend("healthy")], codes=[503], attempts=20,
                                   backoff="1ms")])])
    answered = set()
    for _ in range(20):
        # "broken" fails every attempt of this id; 21 draws all landing on it would take 2**-21 luck.
        status, headers, _ = gw.request(path=f"/x?id={fresh_id()}&fail=1000")
        answered.add((status, headers.get("x-backend")))
    assert answered == {(200, "healthy")}
    attempts_on_broken = sum(broken.server.attempts.values())
    assert attempts_on_broken > 0
    assert requests_counted(gw, "broken", 503) >= attempts_on_broken


def test_backoff_is_waited_before_the_next_attempt(gw, flaky_factory):
    server = flaky_factory("flaky")
    deploy(gw, {"flaky": server}, [route("r", [retry_rule([backend("flaky")], codes=[503], attempts=1,
                                                          backoff="200ms")])])
    key = fresh_id()
    status, _, _ = gw.request(path=f"/x?id={key}&fail=1")
    first, second = server.arrivals(key)
    assert status == 200
    assert second - first >= 0.2  # never before the base interval (a lower bound: load cannot break it)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_request_body_is_sent_again(gw, flaky_factory, chunked):
    server = flaky_factory("flaky")
    deploy(gw, {"flaky": server}, [route("r", [retry_rule([backend("flaky")], codes=[503], attempts=2,
                                                          backoff="1ms")])])
    payload = b"order-42;" * 500
    # http.client sends an iterable body chunked (no Content-Length known), a bytes body with a length.
    body = iter([payload[:1000], payload[1000:]]) if chunked else payload
    status, _, data = gw.request("POST", f"/x?id={fresh_id()}&fail=1", body=body)
    assert status == 200
    assert b'"body_sha": "%s"' % hashlib.sha256(payload).hexdigest().encode() in data


def test_a_body_too_long_to_keep_is_not_retried_on_status(gw, flaky_factory):
    server = flaky_factory("flaky")
    deploy(gw, {"flaky": server}, [route("r", [retry_rule([backend("flaky")], codes=[503], attempts=2,
                                                          backoff="1ms")])])
    key = fresh_id()
    status, _, _ = gw.request("POST", f"/x?id={key}&fail=1", body=b"z" * (128 * 1024))
    assert status == 503
    assert server.attempts(key) == 1


def _two_endpoints(dead_first_port: int) -> list:
    """A Service whose slice lists an address nothing listens on, then the live one, same port."""
    return [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "half", "namespace": "default"},
             "spec": {"ports": [{"name": "http", "port": 80}]}},
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": {"name": "half-abc", "namespace": "default",
                          "labels": {"kubernetes.io/service-name": "half"}},
             "addressType": "IPv4", "ports": [{"name": "http", "port": dead_first_port}],
             "endpoints": [{"addresses": ["127.0.0.2"]}, {"addresses": ["127.0.0.1"]}]}]


@pytest.mark.parametrize("with_retry", [True, False], ids=["retry", "no-retry"])
def test_a_refused_connection_is_retried_when_a_retry_stanza_exists(gw, flaky_factory, with_retry):
    live = flaky_factory("live")  # bound on 127.0.0.1 only: 127.0.0.2 on its port refuses
    item = retry_rule([backend("half")], codes=[], attempts=1, backoff="1ms") if with_retry else rule(
        [backend("half")])
    deploy(gw, {}, [route("r", [item])], extra=_two_endpoints(live.port))
    statuses = [gw.request(path="/x")[0] for _ in range(6)]  # round robin: every other try meets 127.0.0.2
    if with_retry:
        assert statuses == [200] * 6
    else:
        assert sorted(set(statuses)) == [200, 502]


def test_a_connection_lost_after_the_request_was_sent_is_not_retried(gw, flaky_factory):
    server = flaky_factory("flaky")
    deploy(gw, {"flaky": server}, [route("r", [retry_rule([backend("flaky")], codes=[502, 503], attempts=3,
                                                          backoff="1ms")])])
    key = fresh_id()
    before = requests_counted(gw, "flaky", 502)
    assert gw.request(path=f"/x?id={key}&cut=1")[0] == 502  # the backend may have acted on it
    assert server.attempts(key) == 1
    assert requests_counted(gw, "flaky", 502) - before == 1


def test_a_backend_request_timeout_starts_the_next_attempt(gw, flaky_factory):
    server = flaky_factory("flaky")
    item = retry_rule([backend("flaky")], codes=[], attempts=1, backoff="1ms")
    item["timeouts"] = {"backendRequest": "300ms"}
    deploy(gw, {"flaky": server}, [route("r", [item])])
    key = fresh_id()
    status, _, _ = gw.request(path=f"/x?id={key}&slow=1&stall=3")
    assert status == 200
    assert server.attempts(key) == 2
    assert requests_counted(gw, "flaky", 504) >= 1


def test_the_request_timeout_bounds_every_attempt(gw, flaky_factory):
    server = flaky_factory("flaky")
    item = retry_rule([backend("flaky")], codes=[503], attempts=50, backoff="100ms")
    item["timeouts"] = {"request": "500ms"}
    deploy(gw, {"flaky": server}, [route("r", [item])])
    key = fresh_id()
    status, _, _ = gw.request(path=f"/x?id={key}&fail=1000")
    assert status == 504
    assert 1 <= server.attempts(key) < 10  # backoff doubles from 100 ms: a handful fit in 500 ms


def test_no_retry_stanza_means_no_retry(gw, flaky_factory):
    server = flaky_factory("flaky")
    deploy(gw, {"flaky": server}, [route("r", [rule([backend("flaky")])])])
    key = fresh_id()
    assert gw.request(path=f"/x?id={key}&fail=1")[0] == 503
    assert server.attempts(key) == 1


def test_dead_backend_alone_still_answers_502_after_the_retries(gw):
    dead = Dead()
    deploy(gw, {"gone": dead}, [route("r", [retry_rule([backend("gone")], codes=[503], attempts=2,
                                                       backoff="1ms")])])
    before = requests_counted(gw, "gone", 502)
    assert gw.request(path="/x")[0] == 502
    assert requests_counted(gw, "gone", 502) - before == 3
