"""Fixtures of the tunnel tests: one proxy per build for the module, switching backends per test."""

from __future__ import annotations

import os
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import ws_backends  # noqa: E402
from gw_harness import gateway_proxies_of_each_build  # noqa: E402


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    yield from gateway_proxies_of_each_build(tmp_path_factory, "ws")


@pytest.fixture(params=["pure", "compiled"])
def proxy(request, proxies):
    """The module's proxy of one build; its tunnel idle timeout is restored after each test."""
    if request.param == "compiled" and len(proxies) < 2:
        if os.environ.get("ROUTESHIFT_NO_EXTENSIONS") == "1":
            pytest.skip("compiled hot path not built (ROUTESHIFT_NO_EXTENSIONS=1)")
        pytest.fail("the Cython hot path or data path is not built")
    running = proxies[0 if request.param == "pure" else 1]
    idle = running.runtime.tunnel_idle_timeout
    yield running
    running.runtime.tunnel_idle_timeout = idle


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
