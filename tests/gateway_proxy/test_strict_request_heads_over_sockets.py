"""Heads llhttp accepts but the C data plane's parser refuses are refused over a real socket, by both builds.

The answer is the proxy's own error response with ``connection: close`` (the one every framing
error gets), byte for byte, the connection closes, and nothing reaches the backend. Requests read
before the refused one are still answered first, in order.
"""

from __future__ import annotations

import socket

import pytest

from gateway_proxy.wire import simple_response
from gw_harness import backend, deploy, raw_exchange, route, rule


@pytest.fixture
def v1(proxy, echo_factory):
    echoes = {"v1": echo_factory("v1")}
    deploy(proxy, echoes, [route("r", [rule([backend("v1")])])])
    return echoes["v1"]


def half_closed_exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


CHUNKED = b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"


@pytest.mark.parametrize("data, expected", [
    pytest.param(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 400, id="http-2.0-request-line"),
    pytest.param(b"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 400, id="http-0.9-request-line"),
    pytest.param(b"GET http://a/ HTTP/1.1\r\n\r\n", 400, id="absolute-form-without-host"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, id="host-with-space"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, id="host-with-userinfo"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, id="host-with-slash"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a:8o\r\n\r\n", 400, id="host-with-bad-port"),
    pytest.param(b"GET http://a/ HTTP/1.1\r\nHost: b,c\r\n\r\n", 400, id="bad-host-beside-absolute-form"),
    pytest.param(b"GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, id="absolute-form-ftp"),
    pytest.param(b"GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, id="absolute-form-userinfo"),
    pytest.param(b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400, id="absolute-form-empty-host"),
    pytest.param(b"POST / HTTP/1.0\r\n" + CHUNKED, 400, id="transfer-encoding-in-http-1.0"),
    pytest.param(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400,
                 id="gzip-then-chunked"),
    pytest.param(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400, id="gzip-only"),
    pytest.param(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n", 400,
                 id="chunked-then-tab"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive;x\r\n\r\n", 400, id="connection-not-a-token"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: a b\r\n\r\n", 400, id="connection-two-words"),
    pytest.param(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 405, id="options-asterisk"),
    pytest.param(b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 405, id="connect"),
    pytest.param(b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, id="get-asterisk"),
    pytest.param(b"DELETE a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400, id="delete-authority-form"),
    pytest.param(b"CONNECT a:443 HTTP/1.1\r\nHost: a b\r\n\r\n", 400, id="a-bad-field-before-the-405"),
])
def test_refused_with_the_c_parsers_status(proxy, v1, data, expected):
    assert half_closed_exchange(proxy.port, data) == simple_response(expected, False)
    assert v1.seen == []


def test_a_refused_request_gets_no_100_continue(proxy, v1):
    data = (b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
    assert half_closed_exchange(proxy.port, data) == simple_response(400, False)


def test_requests_before_a_refused_one_are_answered_first(proxy, v1):
    data = (b"GET /first HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /second HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"
            b"GET /third HTTP/1.1\r\nHost: a\r\n\r\n")
    reply = half_closed_exchange(proxy.port, data)
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert reply.endswith(simple_response(400, False))
    assert reply.count(b"HTTP/1.1 ") == 2
    assert [seen["path"] for seen in v1.seen] == ["/first"]


def test_absolute_form_authority_is_the_forwarded_host(proxy, v1):
    reply = raw_exchange(proxy.port, b"GET http://Example.com:8080/p?q=1 HTTP/1.1\r\nHost: other\r\n"
                                     b"Connection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert v1.seen[-1]["path"] == "/p?q=1"
    assert v1.seen[-1]["headers"]["host"] == "Example.com:8080"


def test_http10_close_wins_over_keep_alive(proxy, v1):
    data = (b"GET /one HTTP/1.0\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n"
            b"GET /two HTTP/1.0\r\nHost: a\r\n\r\n")
    reply = half_closed_exchange(proxy.port, data)
    assert reply.count(b"HTTP/1.1 ") == 1
    assert [seen["path"] for seen in v1.seen] == ["/one"]


def test_trailer_fields_are_not_held_to_the_head_rules(proxy, v1):
    # The C parser checks trailer lines only as field syntax and drops them; so does this path.
    data = (b"POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            b"3\r\nabc\r\n0\r\nHost: b\r\nConnection: a b\r\n\r\n")
    reply = half_closed_exchange(proxy.port, data)
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert [seen["path"] for seen in v1.seen] == ["/t"]
