"""``--data-plane c`` with a GRPCRoute: the asyncio path, which speaks HTTP/2, serves the table.

The C event loop speaks HTTP/1.1 only. A table holding a GRPCRoute is one it cannot serve
(``dataplane.worker.unsupported``), so the loop stands aside (logged, with the reason), the
asyncio path accepts on the same socket, and both gRPC calls and HTTP/1.1 requests are
answered; once the GRPCRoute is gone, the C loop serves again.
"""

from __future__ import annotations

import importlib
import os

import pytest

import gw_harness
from gateway_proxy import hotpath
from grpc_config import grpc_route, grpc_rule, services
from gw_harness import backend, deploy, route, rule
from routeshift.testing.polling import until


def _compiled_build():
    try:
        importlib.import_module("gateway_proxy.dataplane.loop")
    except ImportError:
        if os.environ.get("ROUTESHIFT_NO_EXTENSIONS") == "1":
            pytest.skip("the C data plane is not built (ROUTESHIFT_NO_EXTENSIONS=1)")
        pytest.fail("the C data plane is not built: run `make build`")
    build = hotpath.compiled()
    if build is None:
        pytest.fail("the compiled hot path is not built")
    return build


@pytest.fixture
def c_plane_proxy(monkeypatch, tmp_path):
    monkeypatch.setenv("ROUTESHIFT_DATA_PLANE", "c")
    running = gw_harness.Proxy(_compiled_build(), str(tmp_path)).start()
    assert running.runtime.plane is not None, "the C data plane did not start"
    yield running
    running.stop()


def test_a_grpcroute_is_served_by_the_asyncio_path(c_plane_proxy, grpc_backend_factory, clients):
    proxy = c_plane_proxy
    plane = proxy.runtime.plane
    echo = gw_harness.Echo("web")
    try:
        http_only = [route("web", [rule([backend("web")])], hostnames=["web.example.com"])]
        deploy(proxy, {"web": echo}, http_only)
        until(lambda: plane.serving_c is True, 10, description="the C loop serves an HTTP-only table")

        grpc_app = grpc_backend_factory("grpc-app")
        deploy(proxy, {"web": echo}, http_only + [grpc_route("api", [grpc_rule([backend("grpc-app")])],
                                                             hostnames=["api.example.com"])],
               extra=services({"grpc-app": grpc_app}))
        until(lambda: plane.serving_c is False, 10, description="the C loop stood aside")
        assert "GRPCRoute default/api" in plane.reason
        assert clients(proxy.port, "api.example.com").backend() == "grpc-app"
        assert gw_harness.backend_of(proxy, host="web.example.com") == "web"

        deploy(proxy, {"web": echo}, http_only)
        until(lambda: plane.serving_c is True, 10, description="the C loop serves again")
        assert gw_harness.backend_of(proxy, host="web.example.com") == "web"
    finally:
        echo.stop()
