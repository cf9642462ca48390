"""HTTPS listeners terminate TLS with certificates from kubernetes.io/tls Secrets, chosen by SNI."""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys

import pytest
import yaml

from gw_harness import Proxy, backend, deploy, free_port, gateway, listener, reference_grant, route, rule, service
from routeshift.testing.polling import until

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


def https_get(port, server_name, cafile, path="/"):
    context = ssl.create_default_context(cafile=cafile)
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=context)
    # Connect to 127.0.0.1 but present and verify the listener's hostname (SNI + certificate check).
    connection.sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port), 5),
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

    status, body = https_get(tls_proxy.tls_port, "secure.example.com", secure_ca, "/x")
    assert (status, body["backend"]) == (200, "secure")
    assert body["headers"]["x-forwarded-proto"] == "https"
    status, body = https_get(tls_proxy.tls_port, "a.wild.example.com", wild_ca, "/y")
    assert (status, body["backend"]) == (200, "secure")
    # The TLS socket serves HTTPS listeners only: the HTTP listener's more specific /plain route is
    # not visible there, so the HTTPS route's "/" answers.
    assert https_get(tls_proxy.tls_port, "secure.example.com", secure_ca, "/plain")[1]["backend"] == "secure"
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
        https_get(tls_proxy.tls_port, "secure.example.com", secure_ca)
    grant = reference_grant("certs", "default")
    grant["spec"]["from"] = [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "default"}]
    grant["spec"]["to"] = [{"group": "", "kind": "Secret"}]
    deploy(tls_proxy, echoes, documents, gateways=[gw], extra=extra + [grant])
    status, body = https_get(tls_proxy.tls_port, "secure.example.com", secure_ca)
    assert (status, body["backend"]) == (200, "secure")


def test_cli_listen_tls_serves_https_listeners(tmp_path, echo_factory, certificates):
    secure_cert, secure_key, secure_ca = certificates["secure"]
    echo = echo_factory("secure")
    config = tmp_path / "config"
    config.mkdir()
    (config / "all.yaml").write_text(yaml.safe_dump_all([
        gateway(listeners=[https_listener("secure", "secure.example.com", "secure-cert")]),
        tls_secret("secure-cert", secure_cert, secure_key), *service("secure", echo.port),
        route("r", [rule([backend("secure")])])]))
    port, tls_port, admin = free_port(), free_port(), free_port()
    process = subprocess.Popen([sys.executable, "-m", "gateway_proxy", "--config-dir", str(config),
                                "--listen", f"127.0.0.1:{port}", "--listen-tls", f"127.0.0.1:{tls_port}",
                                "--admin", f"127.0.0.1:{admin}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        status, body = until(lambda: https_get(tls_port, "secure.example.com", secure_ca), 15,
                             ignore=(OSError, ssl.SSLError), description="TLS socket serving")
        assert (status, body["backend"]) == (200, "secure")
    finally:
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(10) == 0
