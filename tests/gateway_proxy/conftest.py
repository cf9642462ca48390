"""Fixtures shared by the proxy tests: the hot-path build (both, always), echo backends, a proxy.

``impl`` is the one parametrised fixture every hot-path and socket test goes through, so each
runs against the pure-Python reference and the Cython build (uvicorn's conftest pattern); a
proxy serves with the data path of the same build (``serving.data_path``), so the socket tests
cover both builds of the client and backend sides too. The compiled builds are required unless
ROUTESHIFT_NO_EXTENSIONS=1 says they were deliberately not built.
"""

from __future__ import annotations

import os
import pathlib
import sys

import pytest

from gateway_proxy import _hotpath_py, hotpath, serving

# The suite may run with --import-mode=importlib, which leaves test directories off sys.path;
# the harness is imported by name from the test modules.
_HERE = str(pathlib.Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import gw_harness  # noqa: E402


def _compiled_or_skip():
    build = hotpath.compiled()
    if build is None or serving.compiled_data_path() is None:
        if os.environ.get("ROUTESHIFT_NO_EXTENSIONS") == "1":
            pytest.skip("compiled hot path not built (ROUTESHIFT_NO_EXTENSIONS=1)")
        pytest.fail("the Cython hot path or data path is not built: run `pip install -e . --no-deps --no-build-isolation`")
    return build


@pytest.fixture(params=["pure", "compiled"])
def impl(request):
    if request.param == "pure":
        return _hotpath_py
    return _compiled_or_skip()


@pytest.fixture
def echo_factory():
    servers = []

    def make(name: str, delay: float = 0.0) -> gw_harness.Echo:
        server = gw_harness.Echo(name, delay)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def proxy(impl, tmp_path):
    running = gw_harness.Proxy(impl, str(tmp_path)).start()
    yield running
    running.stop()
