"""HTTPS listeners terminate TLS with certificates from kubernetes.io/tls Secrets, chosen by SNI."""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import socket
import ssl
import subprocess

import pytest

from gw_harness import Proxy, backend, deploy, gateway, listener, reference_grant, route, rule

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI needed to make test certificates")


def make_certificate(directory, name: str, hostnames: list[str]) -> tuple[bytes, bytes, str]:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
                    "-keyout", str(key), "-out", str(cert),
                    "-addext", "subjectAltName=" + ",".join(f"DNS:{h}" for h in hostnames)],
                   check=True, capture_output=True)
    return cert.read_bytes(), key.read_bytes(), str(cert)


def tls_secret(name, cert, key, namespace="default"):
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": namespace},
            "data": {"tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()}}


def https_listener(name, hostname, secret, namespace=None):
    item = listener(name, 443, hostname, protocol="HTTPS")
    ref = {"name": secret}
    if namespace:
        ref["namespace"] = namespace
    item["tls"] = {"mode": "Terminate", "certificateRefs": [ref]}
    return item


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    directory = tmp_path_factory.mktemp("certs")
    return {"secure": make_certificate(directory, "secure", ["secure.example.com"]),
            "wild": make_certificate(directory, "wild", ["*.wild.example.com"]),
            "other": make_certificate(directory, "other", ["other.example.com"])}


@pytest.fixture
def tls_proxy(impl, tmp_path):
    running = Proxy(impl, str(tmp_path), tls=True).start()
    yield running
    running.stop()


def https_get(proxy, server_name, cafile, path="/"):
    context = ssl.create_default_context(cafile=cafile)
    connection = http.client.HTTPSConnection("127.0.0.1", proxy.tls_port, timeout=5, context=context)
    # Connect to 127.0.0.1 but present and verify the listener's hostname (SNI + certificate check).
    connection.sock = context.wrap_socket(socket.create_connection(("127.0.0.1", proxy.tls_port), 5),
                                          server_hostname=server_name)
    try:
        connection.request("GET", path, headers={"Host": server_name})
        response = connection.getresponse()
        body = response.read()
        return response.status, (json.loads(body) if response.getheader("content-type") == "application/json" else None)
    finally:
        connection.close()


def test_https_listeners_terminate_tls_by_sni(tls_proxy, echo_factory, certificates):
    echoes = {"secure": echo_factory("secure"), "plain": echo_factory("plain")}
    secure_cert, secure_key, secure_ca = certificates["secure"]
    wild_cert, wild_key, wild_ca = certificates["wild"]
    gw = gateway(listeners=[listener("http", 80), https_listener("secure", "secure.example.com", "secure-cert"),
                            https_listener("wild", "*.wild.example.com", "wild-cert")])
    deploy(tls_proxy, echoes, [
        route("secure", [rule([backend("secure")], [{"path": {"type": "PathPrefix", "value": "/"}}])],
              parents=[{"name": "gw", "sectionName": "secure"}, {"name": "gw", "sectionName": "wild"}]),
        route("plain", [rule([backend("plain")], [{"path": {"type": "PathPrefix", "value": "/plain"}}])],
              parents=[{"name": "gw", "sectionName": "http"}]),
    ], gateways=[gw], extra=[tls_secret("secure-cert", secure_cert, secure_key),
                             tls_secret("wild-cert", wild_cert, wild_key)])

    status, body = https_get(tls_proxy, "secure.example.com", secure_ca, "/x")
    assert (status, body["backend"]) == (200, "secure")
    assert body["headers"]["x-forwarded-proto"] == "https"
    status, body = https_get(tls_proxy, "a.wild.example.com", wild_ca, "/y")
    assert (status, body["backend"]) == (200, "secure")
    # The TLS socket serves HTTPS listeners only: the HTTP listener's more specific /plain route is
    # not visible there, so the HTTPS route's "/" answers.
    assert https_get(tls_proxy, "secure.example.com", secure_ca, "/plain")[1]["backend"] == "secure"
    # ...while the plain socket still serves every listener.
    assert tls_proxy.json("/plain", host="anything.org")[1]["backend"] == "plain"


def test_certificate_in_another_namespace_needs_a_reference_grant(tls_proxy, echo_factory, certificates):
    echoes = {"secure": echo_factory("secure")}
    secure_cert, secure_key, secure_ca = certificates["secure"]
    other_cert, other_key, other_ca = certificates["other"]
    gw = gateway(listeners=[https_listener("secure", "secure.example.com", "secure-cert", namespace="certs"),
                            https_listener("other", "other.example.com", "other-cert")])
    documents = [route("secure", [rule([backend("secure")])])]
    extra = [tls_secret("secure-cert", secure_cert, secure_key, namespace="certs"),
             tls_secret("other-cert", other_cert, other_key)]
    deploy(tls_proxy, echoes, documents, gateways=[gw], extra=extra)
    # Without a grant the certs/secure-cert Secret is not used: the handshake gets another certificate.
    with pytest.raises(ssl.SSLCertVerificationError):
        https_get(tls_proxy, "secure.example.com", secure_ca)
    grant = reference_grant("certs", "default")
    grant["spec"]["from"] = [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "default"}]
    grant["spec"]["to"] = [{"group": "", "kind": "Secret"}]
    deploy(tls_proxy, echoes, documents, gateways=[gw], extra=extra + [grant])
    status, body = https_get(tls_proxy, "secure.example.com", secure_ca)
    assert (status, body["backend"]) == (200, "secure")
