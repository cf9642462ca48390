"""Fixtures of the tunnel tests: one proxy per data path for the module, switching backends per test.

The data paths are the asyncio path of each hot-path build ("pure", "compiled") and the C event
loop ("c", ``--data-plane c``), which tunnels upgrades itself (dataplane/loop_tunnel.pxi).
"""

from __future__ import annotations

import importlib
import os
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import gw_harness  # noqa: E402
import ws_backends  # noqa: E402
from gw_harness import gateway_proxies_of_each_build  # noqa: E402


def _c_data_plane_proxy(workdir_factory, builds):
    """A proxy serving with the C event loop, or None when the C data plane is not built."""
    try:
        importlib.import_module("gateway_proxy.dataplane.loop")
    except ImportError:
        return None
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ROUTESHIFT_DATA_PLANE", "c")
        running = gw_harness.Proxy(builds[-1].impl, str(workdir_factory.mktemp("ws-c"))).start()
    assert running.runtime.plane is not None, "the C data plane did not start"
    running.write("gw.yaml", [gw_harness.gateway()])
    return running


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    """{"pure": ..., "compiled": ..., "c": ...}: the paths this checkout has built."""
    for builds in gateway_proxies_of_each_build(tmp_path_factory, "ws"):
        running = dict(zip(("pure", "compiled"), builds))
        c_plane = _c_data_plane_proxy(tmp_path_factory, builds) if len(builds) > 1 else None
        if c_plane is not None:
            running["c"] = c_plane
        try:
            yield running
        finally:
            if c_plane is not None:
                c_plane.stop()


def set_tunnel_idle_timeout(proxy, seconds: float) -> None:
    """``--tunnel-idle-timeout`` of a running proxy: the asyncio path reads the runtime's, the C
    loop is told."""
    proxy.runtime.tunnel_idle_timeout = seconds
    if proxy.runtime.plane is not None:
        proxy.runtime.plane.set_tunnel_idle_timeout(seconds)


@pytest.fixture(params=["pure", "compiled", "c"])
def proxy(request, proxies):
    """The module's proxy of one data path; its tunnel idle timeout is restored after each test."""
    if request.param not in proxies:
        if os.environ.get("ROUTESHIFT_NO_EXTENSIONS") == "1":
            pytest.skip("compiled hot path not built (ROUTESHIFT_NO_EXTENSIONS=1)")
        pytest.fail("the Cython hot path or data path is not built")
    running = proxies[request.param]
    idle = running.runtime.tunnel_idle_timeout
    requests_before = running.runtime.plane.loop.stats[1] if request.param == "c" else 0
    yield running
    set_tunnel_idle_timeout(running, idle)
    if request.param == "c":
        # The test's requests went through the C loop, not a fallback to the asyncio path.
        assert running.runtime.plane.serving_c is True, running.runtime.plane.reason
        assert running.runtime.plane.loop.stats[1] > requests_before


@pytest.fixture
async def websocket_backends():
    """``make(name)`` starts a :class:`ws_backends.WebSocketEcho`; all are stopped after the test."""
    started = []

    async def make(name: str) -> ws_backends.WebSocketEcho:
        backend = await ws_backends.WebSocketEcho(name).start()
        started.append(backend)
        return backend

    yield make
    for backend in started:
        await backend.stop()


@pytest.fixture
async def raw_backends():
    """``make(behaviour, first=b"")`` starts a :class:`ws_backends.RawSwitch`; stopped after the test."""
    started = []

    async def make(behaviour, first: bytes = b"") -> ws_backends.RawSwitch:
        backend = await ws_backends.RawSwitch(behaviour, first).start()
        started.append(backend)
        return backend

    yield make
    for backend in started:
        await backend.stop()


@pytest.fixture
def c_proxy(proxies):
    """The module's proxy serving with the C event loop."""
    if "c" not in proxies:
        if os.environ.get("ROUTESHIFT_NO_EXTENSIONS") == "1":
            pytest.skip("the C data plane is not built (ROUTESHIFT_NO_EXTENSIONS=1)")
        pytest.fail("the C data plane is not built: run `make build`")
    return proxies["c"]


@pytest.fixture
def tunnel_idle_timeout(proxy):
    """``tunnel_idle_timeout(seconds)`` sets the idle timeout of the test's proxy."""
    return lambda seconds: set_tunnel_idle_timeout(proxy, seconds)
