"""GRPCRoute through the proxy with a real gRPC client and servers (grpcio), in both builds.

One configuration per module, deployed on a proxy of each build: method matching (Exact,
RegularExpression), header matching, precedence between rules, weights, listener isolation,
the HTTPRoute/GRPCRoute hostname clash, filters, trailers and non-OK statuses reaching the
client and the metrics, h2 over TLS chosen by ALPN, and what a client breaking HTTP/2 gets.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import struct

import grpc
import pytest

import gw_harness
from grpc_config import grpc_route, grpc_rule, https_listener, make_certificate, method, services, tls_secret
from gw_harness import backend, gateway, listener, route, rule
from routeshift.testing.polling import until

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI needed for the TLS listener")

ECHO, OTHER, THIRD = "routeshift.test.Echo", "routeshift.test.Other", "routeshift.test.Third"
BACKENDS = ("exact-call", "exact-service", "regex", "header", "any-get", "w-heavy", "w-light", "iso-a", "iso-b",
            "older-http", "filtered", "mirror", "secure")


@pytest.fixture(scope="module")
def deployed(proxies, grpc_backend_factory, tmp_path_factory):
    """Every proxy serving the module's configuration; yields (proxies, backends, TLS root cert)."""
    backends = {name: grpc_backend_factory(name) for name in BACKENDS}
    echo = gw_harness.Echo("http-echo")
    cert, key = make_certificate(tmp_path_factory.mktemp("grpc-certs"), "grpc", ["secure.grpc.example.com"])
    listeners = [listener("http", namespaces="Same"), listener("iso-a", hostname="a.iso.example.com"),
                 listener("iso-b", hostname="*.iso.example.com"),
                 https_listener("secure", "secure.grpc.example.com", "grpc-cert")]
    routes = [
        grpc_route("matching", [
            grpc_rule([backend("exact-call")], [method(ECHO, "Call")]),
            grpc_rule([backend("exact-service")], [method(OTHER)]),
            grpc_rule([backend("regex")], [method(r"routeshift\.test\.E.*", "G.t", kind="RegularExpression")]),
            grpc_rule([backend("header")], [method(ECHO, "Call", headers={"x-version": "v2"})]),
            grpc_rule([backend("any-get")], [method(".*", "Get", kind="RegularExpression")]),
        ], hostnames=["match.example.com"]),
        grpc_route("weighted", [grpc_rule([backend("w-heavy", 3), backend("w-light", 1)])],
                   hostnames=["weights.example.com"]),
        grpc_route("missing", [grpc_rule([backend("not-there")])], hostnames=["missing.example.com"]),
        grpc_route("iso-a", [grpc_rule([backend("iso-a")], [method(ECHO)])],
                   parents=[{"name": "gw", "sectionName": "iso-a"}]),
        grpc_route("iso-b", [grpc_rule([backend("iso-b")])], parents=[{"name": "gw", "sectionName": "iso-b"}]),
        route("older-http", [rule([backend("http-echo")])], hostnames=["clash.example.com"],
              created="2024-01-01T00:00:00Z"),
        grpc_route("younger-grpc", [grpc_rule([backend("older-http")])], hostnames=["clash.example.com"],
                   created="2025-01-01T00:00:00Z"),
        grpc_route("filtered", [
            grpc_rule([backend("filtered")], [method(ECHO)], filters=[
                {"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "x-added", "value": "by-gw"}],
                                                                           "remove": ["x-secret"]}},
                {"type": "ResponseHeaderModifier", "responseHeaderModifier": {"add": [{"name": "x-gw", "value": "yes"}]}},
                {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "mirror", "port": 80}}}]),
            grpc_rule([backend("filtered")], [method(OTHER)], filters=[
                {"type": "ExtensionRef", "extensionRef": {"group": "example.com", "kind": "Nope", "name": "x"}}]),
        ], hostnames=["filters.example.com"]),
        grpc_route("secure", [grpc_rule([backend("secure")])], hostnames=["secure.grpc.example.com"],
                   parents=[{"name": "gw", "sectionName": "secure"}]),
    ]
    documents = ([gateway(listeners=listeners), tls_secret("grpc-cert", cert, key)] + services(backends)
                 + services({"http-echo": echo}, app_protocol=None) + routes)
    for proxy in proxies:
        proxy.write("gw.yaml", documents)
        assert not proxy.runtime.errors, proxy.runtime.errors
    yield proxies, backends, cert
    echo.stop()


@pytest.fixture(params=["pure", "compiled"])
def proxy(request, deployed):
    proxies = deployed[0]
    if request.param == "compiled" and len(proxies) < 2:
        pytest.skip("compiled build not available")
    return proxies[0 if request.param == "pure" else 1]


@pytest.mark.parametrize("path,metadata,expected", [
    pytest.param(f"/{ECHO}/Call", (), "exact-call", id="exact-service-and-method"),
    pytest.param(f"/{OTHER}/Call", (), "exact-service", id="exact-service-only"),
    pytest.param(f"/{ECHO}/Get", (), "regex", id="regex-beats-a-shorter-regex"),
    pytest.param(f"/{ECHO}/Call", (("x-version", "v2"),), "header", id="header-match-wins-the-tie"),
    pytest.param(f"/{ECHO}/Call", (("x-version", "v3"),), "exact-call", id="header-value-must-equal"),
    pytest.param(f"/{OTHER}/Get", (), "exact-service", id="more-service-characters-win"),
    pytest.param(f"/{THIRD}/Get", (), "any-get", id="regex-any-service"),
    pytest.param(f"/{THIRD}/Call", (), "UNIMPLEMENTED", id="no-rule-matches"),
])
def test_calls_are_routed_by_method_headers_and_precedence(proxy, clients, path, metadata, expected):
    client = clients(proxy.port, "match.example.com")
    assert client.backend(path, metadata) == expected


def test_weights_split_calls_within_tolerance(proxy, clients):
    client = clients(proxy.port, "weights.example.com")
    answers = [client.backend() for _ in range(200)]
    assert set(answers) == {"w-heavy", "w-light"}
    assert 120 <= answers.count("w-heavy") <= 180, answers.count("w-heavy")  # 150 expected, 3:1


def test_an_invalid_backend_answers_unavailable(proxy, clients):
    client = clients(proxy.port, "missing.example.com")
    with pytest.raises(grpc.RpcError) as raised:
        client.call(f"/{ECHO}/Call")
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "service not found" in raised.value.details()


def test_listeners_are_isolated(proxy, clients):
    assert clients(proxy.port, "a.iso.example.com").backend(f"/{ECHO}/Call") == "iso-a"
    assert clients(proxy.port, "b.iso.example.com").backend(f"/{ECHO}/Call") == "iso-b"
    # The most specific listener owns a.iso.example.com: its route does not match Other, and the
    # wildcard listener's route, which would, is not consulted.
    assert clients(proxy.port, "a.iso.example.com").backend(f"/{OTHER}/Call") == "UNIMPLEMENTED"


def test_the_older_route_wins_a_hostname_both_kinds_claim(proxy, clients):
    assert clients(proxy.port, "clash.example.com").backend() == "UNIMPLEMENTED"
    status, body = proxy.json("/", host="clash.example.com")
    assert status == 200 and body["backend"] == "http-echo"
    rejected = {item.route.meta.name for item in proxy.runtime.compiled.rejected}
    assert rejected == {"younger-grpc"}


def test_trailers_and_failures_reach_the_client_and_the_metrics(proxy, clients, deployed):
    client = clients(proxy.port, "match.example.com")
    answer, trailers = client.call(f"/{ECHO}/Call")
    assert trailers["x-served-by"] == "exact-call"
    with pytest.raises(grpc.RpcError) as raised:
        client.call(f"/{OTHER}/Fail")
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert raised.value.details() == "exact-service was told to fail"
    streamed = client.stream(f"/{OTHER}/Stream", 30)
    assert len(streamed) == 30 and streamed[29].startswith(b"exact-service:29")
    # Many times the 64 KiB initial windows, both ways: flow control is honoured, nothing stalls.
    answer, _ = client.call(f"/{ECHO}/Call", payload=b"x" * 1_000_000)
    assert answer["request"] == "x" * 1_000_000

    registry = proxy.runtime.metrics.registry
    labels = {"namespace": "default", "route": "matching", "backend_namespace": "default", "backend": "exact-service"}
    assert registry.get_sample_value("routeshift_gateway_grpc_requests_total",
                                     dict(labels, grpc_status="14")) >= 1  # UNAVAILABLE
    assert registry.get_sample_value("routeshift_gateway_grpc_requests_total", dict(labels, grpc_status="0")) >= 1
    assert registry.get_sample_value("routeshift_gateway_requests_total", dict(labels, code="200")) >= 2
    assert registry.get_sample_value("routeshift_gateway_request_duration_seconds_count", labels) >= 2


def test_header_filters_and_mirroring(proxy, clients, deployed):
    backends = deployed[1]
    client = clients(proxy.port, "filters.example.com")
    method_call = client.channel.unary_unary(f"/{ECHO}/Call")
    answer, call = method_call.with_call(b"mirrored", metadata=(("x-secret", "s"),), timeout=10)
    seen = json.loads(answer)["metadata"]
    assert seen["x-added"] == "by-gw" and "x-secret" not in seen
    assert dict(call.initial_metadata())["x-gw"] == "yes"
    until(lambda: any(c["request"] == "mirrored" for c in backends["mirror"].calls), 10,
                     description="the mirror got a copy")


def test_an_unsupported_filter_is_answered_not_ignored(proxy, clients, deployed):
    before = len(deployed[1]["filtered"].calls)
    with pytest.raises(grpc.RpcError) as raised:
        clients(proxy.port, "filters.example.com").call(f"/{OTHER}/Call")
    assert raised.value.code() != grpc.StatusCode.OK
    assert len(deployed[1]["filtered"].calls) == before


def test_h2_over_tls_is_chosen_by_alpn(proxy, clients, deployed):
    cert = deployed[2]
    client = clients(proxy.tls_port, "secure.grpc.example.com", tls_root=cert)
    assert client.backend() == "secure"
    context = ssl.create_default_context(cadata=cert.decode())
    context.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", proxy.tls_port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="secure.grpc.example.com") as tls:
            assert tls.selected_alpn_protocol() == "h2"
    # A name no GRPCRoute serves is offered HTTP/1.1 only: HTTP/2 there would reach no route.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", proxy.tls_port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="web.example.com") as tls:
            assert tls.selected_alpn_protocol() == "http/1.1"


def _frames(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    while len(data) >= 9:
        length = int.from_bytes(data[:3], "big")
        out.append((data[3], data[9:9 + length]))
        data = data[9 + length:]
    return out


@pytest.mark.parametrize("garbage", [
    pytest.param(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", id="malformed-preface"),
    pytest.param(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x04\x09\x00\x00\x00\x00\x07abcd", id="bad-frame"),
])
def test_a_client_breaking_http2_gets_goaway_and_a_close(proxy, garbage):
    reply = gw_harness.exchange_until_close(proxy.port, garbage, half_close=False, timeout=10)
    goaways = [payload for kind, payload in _frames(reply) if kind == 0x7]
    assert goaways, reply
    assert struct.unpack(">I", goaways[0][4:8])[0] == 0x1  # PROTOCOL_ERROR


def test_http1_is_still_served_beside_http2(proxy):
    status, body = proxy.json("/", host="clash.example.com")
    assert status == 200 and body["backend"] == "http-echo"
