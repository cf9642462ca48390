"""With the C data plane on, HTTPS listeners are still served, by the asyncio path, and the log says so.

The C loop speaks plain HTTP on ``--listen``; ``--listen-tls`` terminates TLS on the asyncio path
(serving.serve). A user who turned the C data plane on must neither lose HTTPS nor have to guess
which path serves it: one log line at start names the TLS socket and its path.
"""

from __future__ import annotations

import logging
import shutil

import pytest

from gw_harness import Proxy, backend, deploy, gateway, listener, route, rule
from test_loop_parity import compiled_build
from test_tls_termination import https_get, https_listener, make_certificate, tls_secret

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI needed to make test certificates")


def test_https_is_served_beside_the_c_loop_and_the_log_says_which_path(monkeypatch, tmp_path, caplog, echo_factory):
    monkeypatch.setenv("ROUTESHIFT_DATA_PLANE", "c")
    cert, key, ca = make_certificate(tmp_path, "secure", ["secure.example.com"])
    caplog.set_level(logging.INFO, logger="gateway_proxy")
    (tmp_path / "config").mkdir()
    proxy = Proxy(compiled_build(), str(tmp_path / "config"), tls=True).start()
    try:
        echoes = {"app": echo_factory("app")}
        gw = gateway(listeners=[listener("http", 80), https_listener("secure", "secure.example.com", "secure-cert")])
        deploy(proxy, echoes, [route("app", [rule([backend("app")])])], gateways=[gw],
               extra=[tls_secret("secure-cert", cert, key)])
        assert proxy.runtime.plane.serving_c is True, proxy.runtime.plane.reason
        status, body = https_get(proxy.tls_port, "secure.example.com", ca, "/over-tls")
        assert (status, body["backend"], body["headers"]["x-forwarded-proto"]) == (200, "app", "https")
        assert proxy.json("/plain", host="secure.example.com")[1]["backend"] == "app"
    finally:
        proxy.stop()
    said = [record.getMessage() for record in caplog.records if "TLS listeners" in record.getMessage()]
    assert said == [f"gateway_proxy: TLS listeners on ('127.0.0.1', {proxy.tls_port}) are served by the asyncio "
                    "path (the C data plane serves plain HTTP only)"]
