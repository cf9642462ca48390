"""HTTP/1.1 plumbing of the proxy over real sockets: keep-alive, streaming, hop-by-hop, forwarding."""

from __future__ import annotations

import hashlib
import http.client
import socket
import time

import pytest

from gw_harness import backend, deploy, raw_exchange, route, rule


@pytest.fixture
def v1(proxy, echo_factory):
    echoes = {"v1": echo_factory("v1")}
    deploy(proxy, echoes, [route("r", [rule([backend("v1")])])])
    return echoes["v1"]


def test_keep_alive_to_client_and_pooled_backend_connections(proxy, v1):
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    peers = []
    for _ in range(5):
        connection.request("GET", "/", headers={"Host": "example.com"})
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        assert response.getheader("connection") != "close"
    connection.close()
    peers = {seen["peer_port"] for seen in v1.seen}
    assert len(v1.seen) == 5
    assert len(peers) == 1  # the same upstream connection served every request


def test_pipelined_requests_are_answered_in_order(proxy, v1):
    data = b"".join(b"GET /p%d HTTP/1.1\r\nHost: example.com\r\n\r\n" % i for i in range(3))
    reply = raw_exchange(proxy.port, data + b"GET /last HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
    assert reply.count(b"HTTP/1.1 200") == 4
    order = [reply.find(b'"path": "/p0"'), reply.find(b'"path": "/p1"'), reply.find(b'"path": "/p2"'),
             reply.find(b'"path": "/last"')]
    assert order == sorted(order) and order[0] > 0


def test_hop_by_hop_headers_are_removed_both_ways(proxy, v1):
    status, headers, body = proxy.request(headers={"Connection": "keep-alive, X-Drop-Me", "X-Drop-Me": "1",
                                                   "Keep-Alive": "timeout=5", "Proxy-Authorization": "secret",
                                                   "TE": "trailers", "X-Stay": "1"})
    seen = v1.seen[-1]["headers"]
    for name in ("x-drop-me", "keep-alive", "proxy-authorization", "te"):
        assert name not in seen
    assert seen["x-stay"] == "1"
    assert "keep-alive" not in headers  # the echo backend sends Keep-Alive; the client must not see it


def test_forwarded_headers_are_added(proxy, v1):
    proxy.request(headers={"X-Forwarded-For": "203.0.113.7"}, host="shop.example.com:8080")
    seen = v1.seen[-1]["headers"]
    assert seen["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-forwarded-host"] == "shop.example.com:8080"
    assert seen["host"] == "shop.example.com:8080"


def test_chunked_request_body_is_streamed_to_the_backend(proxy, v1):
    pieces = [bytes([i % 251]) * 65536 for i in range(40)]  # 2.5 MiB, sent chunked

    def body():
        yield from pieces

    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    connection.request("POST", "/upload", body=body(), headers={"Host": "example.com"}, encode_chunked=True)
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 200
    assert v1.seen[-1]["body_length"] == sum(map(len, pieces))
    assert v1.seen[-1]["body_sha"] == hashlib.sha256(b"".join(pieces)).hexdigest()


def test_content_length_request_body_is_forwarded(proxy, v1):
    payload = b"x" * 300_000
    status, _, _ = proxy.request("PUT", "/put", body=payload)
    assert status == 200
    assert v1.seen[-1]["body_length"] == len(payload)


def test_chunked_response_is_streamed_before_the_backend_finishes(proxy, v1):
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /stream?n=4&gap=0.4 HTTP/1.1\r\nHost: example.com\r\n\r\n")
        first = sock.recv(65536)
        first_at = time.monotonic() - started
        received = first
        while not received.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            assert chunk, "connection closed before the last chunk"
            received += chunk
        total = time.monotonic() - started
    assert first.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding: chunked" in received.lower()
    # The backend needs 1.2 s for its body; the head and first chunk came well before its end.
    assert total >= 1.2 and first_at < total - 0.6
    assert received.count(b"chunk-3;") == 100


def test_head_request_gets_headers_without_body(proxy, v1):
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    connection.request("HEAD", "/", headers={"Host": "example.com"})
    response = connection.getresponse()
    assert response.status == 200
    assert int(response.getheader("content-length")) > 0
    assert response.read() == b""
    connection.request("GET", "/after", headers={"Host": "example.com"})  # the connection is still in step
    response = connection.getresponse()
    assert b'"/after"' in response.read()
    connection.close()


def test_backend_status_and_headers_pass_through(proxy, v1):
    status, headers, _ = proxy.request(path="/?status=418&h-X-Custom=abc")
    assert status == 418
    assert headers["x-custom"] == "abc"


def test_unreachable_endpoint_is_502(proxy, echo_factory):
    gone = echo_factory("gone")
    deploy(proxy, {"gone": gone}, [route("r", [rule([backend("gone")])])])
    gone.stop()
    assert proxy.request()[0] == 502


def test_half_closed_client_still_gets_its_answer(proxy, v1):
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(b"GET /half HTTP/1.1\r\nHost: example.com\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 200") and b'"/half"' in data


def test_backend_closing_after_response_is_not_reused(proxy, v1):
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    for path in ("/?h-Connection=close", "/again", "/?h-Connection=close", "/last"):
        connection.request("GET", path, headers={"Host": "example.com"})
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        assert response.getheader("connection") != "close"  # the client side stays keep-alive
    connection.close()
    assert [seen["path"] for seen in v1.seen] == ["/?h-Connection=close", "/again", "/?h-Connection=close", "/last"]


def test_close_delimited_backend_body_is_rechunked_for_the_client(proxy, v1):
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    connection.request("GET", "/eof", headers={"Host": "example.com"})
    response = connection.getresponse()
    body = response.read()
    assert response.getheader("transfer-encoding") == "chunked"
    assert body == b"until-close:" + b"z" * 5000
    connection.request("GET", "/next", headers={"Host": "example.com"})  # still usable
    assert connection.getresponse().status == 200
    connection.close()


def test_http10_client_gets_a_closed_connection_after_its_response(proxy, v1):
    reply = raw_exchange(proxy.port, b"GET /old HTTP/1.0\r\nHost: example.com\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200") and b'"/old"' in reply
    reply = raw_exchange(proxy.port, b"GET /eof HTTP/1.0\r\nHost: example.com\r\n\r\n")
    assert reply.endswith(b"z" * 5000) and b"chunked" not in reply.lower()


def test_pooled_connection_closed_by_the_backend_is_retried_for_bodyless_requests(proxy, v1):
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    statuses = []
    for index in range(30):
        connection.request("GET", f"/?drop=1&i={index}", headers={"Host": "example.com"})
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)
    connection.close()
    assert statuses == [200] * 30
