"""Fixtures of the retry, CORS and session persistence tests: one proxy per build, flaky backends.

The proxies are module-scoped, one per hot-path build (and one on the C data plane, ``c_loop``,
for the features it serves): each test deploys its own routes, which
replaces the config file, so tests stay independent at the cost of one reload each instead of
one proxy start each.
"""

from __future__ import annotations

import os
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import features_harness  # noqa: E402
import gw_harness  # noqa: E402
from gateway_proxy import _hotpath_py, hotpath, serving  # noqa: E402


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    """{build: running proxy}; the compiled one only when it is built (see ``gw``)."""
    builds = {"pure": _hotpath_py}
    if hotpath.compiled() is not None and serving.compiled_data_path() is not None:
        builds["compiled"] = hotpath.compiled()
    running = {name: gw_harness.Proxy(build, str(tmp_path_factory.mktemp(f"features-{name}"))).start()
               for name, build in builds.items()}
    yield running
    for proxy in running.values():
        proxy.stop()


@pytest.fixture(scope="module")
def c_loop(tmp_path_factory):
    """A proxy served by the C event loop (``--data-plane c``), compiled build, for one module;
    None when the compiled build is not there (``served_by`` says whether that may be)."""
    build = hotpath.compiled()
    if build is None:
        yield None
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ROUTESHIFT_DATA_PLANE", "c")
        running = gw_harness.Proxy(build, str(tmp_path_factory.mktemp("features-c-loop"))).start()
    yield running
    running.stop()


@pytest.fixture(params=["pure", "compiled"])
def gw(request, proxies):
    """The proxy of each hot-path build in turn; the compiled build is required unless
    ROUTESHIFT_NO_EXTENSIONS=1 says it was deliberately not built (the parent conftest's rule)."""
    if request.param not in proxies:
        if os.environ.get("ROUTESHIFT_NO_EXTENSIONS") == "1":
            pytest.skip("compiled hot path not built (ROUTESHIFT_NO_EXTENSIONS=1)")
        pytest.fail("the Cython hot path or data path is not built")
    return proxies[request.param]


@pytest.fixture
def flaky_factory():
    servers = []

    def make(name: str) -> features_harness.FlakyEcho:
        server = features_harness.FlakyEcho(name)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
