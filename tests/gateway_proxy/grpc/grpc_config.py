"""YAML builders for GRPCRoute tests (the HTTPRoute ones live in gw_harness)."""

from __future__ import annotations

import gw_harness


def grpc_route(name, rules, hostnames=None, parents=None, namespace="default", created=None):
    metadata = {"name": name, "namespace": namespace}
    if created:
        metadata["creationTimestamp"] = created
    spec = {"parentRefs": parents or [{"name": "gw", "namespace": "default"}], "rules": rules}
    if hostnames:
        spec["hostnames"] = hostnames
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute", "metadata": metadata, "spec": spec}


def grpc_rule(backends, matches=None, filters=None):
    item = {"backendRefs": backends}
    if matches is not None:
        item["matches"] = matches
    if filters:
        item["filters"] = filters
    return item


def method(service=None, name=None, kind="Exact", headers=None):
    item = {}
    if service or name:
        item["method"] = {"type": kind}
        if service:
            item["method"]["service"] = service
        if name:
            item["method"]["method"] = name
    if headers:
        item["headers"] = [{"name": key, "value": value} for key, value in headers.items()]
    return item


def services(backends: dict, app_protocol: str | None = "kubernetes.io/h2c") -> list[dict]:
    """A Service (port 80, appProtocol h2c unless told otherwise) and EndpointSlice per gRPC backend."""
    documents = []
    for name, server in backends.items():
        service, endpoints = gw_harness.service(name, server.port if server is not None else None)
        if app_protocol:
            service["spec"]["ports"][0]["appProtocol"] = app_protocol
        documents.extend([service, endpoints])
    return documents


def make_certificate(directory, name: str, hostnames: list[str]) -> tuple[bytes, bytes]:
    """A self-signed certificate and key (PEM) for ``hostnames``, made with the openssl CLI."""
    import subprocess
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
                    "-keyout", str(key), "-out", str(cert),
                    "-addext", "subjectAltName=" + ",".join(f"DNS:{h}" for h in hostnames)],
                   check=True, capture_output=True)
    return cert.read_bytes(), key.read_bytes()


def tls_secret(name: str, cert: bytes, key: bytes) -> dict:
    import base64
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": "default"},
            "data": {"tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()}}


def https_listener(name: str, hostname: str, secret: str) -> dict:
    item = gw_harness.listener(name, 443, hostname, protocol="HTTPS")
    item["tls"] = {"mode": "Terminate", "certificateRefs": [{"name": secret}]}
    return item
