"""The API client connects as a real cluster asks: CA-verified TLS, a client certificate, a token.

The emulator speaks plain HTTP, so a small TLS server stands in for a cluster's API endpoint
here; the kubeconfig is read by the ``kubernetes`` package's own loader, as in production.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess

import aiohttp
import pytest
import yaml
from aiohttp import web

from gateway_proxy.kubernetes import client as kube_client

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def _pki(directory):
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=test-ca",
             cwd=directory)
    (directory / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, subject, extra in (("server", "/CN=127.0.0.1", ("-extfile", "server.ext")),
                                 ("client", "/CN=proxy-client", ())):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=directory)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", "1", *extra, cwd=directory)
    return {name: str(directory / name) for name in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")}


@pytest.fixture
async def tls_api(tmp_path):
    files = _pki(tmp_path)
    seen = []

    async def discovery(request):
        peer = request.transport.get_extra_info("peercert") or {}
        subject = dict(item[0] for item in peer.get("subject", ()))
        seen.append({"authorization": request.headers.get("Authorization"), "client": subject.get("commonName")})
        return web.json_response({"kind": "APIResourceList", "groupVersion": "gateway.networking.k8s.io/v1",
                                  "resources": [{"name": "httproutes"}, {"name": "httproutes/status"}]})

    app = web.Application()
    app.router.add_get("/apis/gateway.networking.k8s.io/v1", discovery)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=files["ca.crt"])
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(files["server.crt"], files["server.key"])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"https://127.0.0.1:{port}", files, seen
    await runner.cleanup()


def _kubeconfig(path, server, user, ca=None):
    cluster = {"server": server}
    if ca:
        cluster["certificate-authority"] = ca
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": cluster}], "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    return str(path)


async def test_token_client_certificate_and_ca_from_the_kubeconfig(tls_api, tmp_path):
    server, files, seen = tls_api
    config = _kubeconfig(tmp_path / "kubeconfig", server, {
        "token": "s3cret", "client-certificate": files["client.crt"], "client-key": files["client.key"]},
        ca=files["ca.crt"])
    async with kube_client.KubeClient.from_kubeconfig(config) as client:
        assert await client.served_resources("gateway.networking.k8s.io", "v1") == {"httproutes", "httproutes/status"}
    assert seen == [{"authorization": "Bearer s3cret", "client": "proxy-client"}]


async def test_a_server_outside_the_configured_ca_is_refused(tls_api, tmp_path):
    server, files, seen = tls_api
    config = _kubeconfig(tmp_path / "kubeconfig", server, {"token": "s3cret"})
    async with kube_client.KubeClient.from_kubeconfig(config) as client:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await client.served_resources("gateway.networking.k8s.io", "v1")
    assert seen == []


def test_paths_follow_the_api_layout():
    assert kube_client.resource_path("", "v1", "services", "default", "web") == "/api/v1/namespaces/default/services/web"
    assert kube_client.resource_path("gateway.networking.k8s.io", "v1", "gatewayclasses", None, "c", "status") == \
        "/apis/gateway.networking.k8s.io/v1/gatewayclasses/c/status"
    error = kube_client.api_error(500, {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"})
    assert isinstance(error, kube_client.Gone) and error.status == 410
