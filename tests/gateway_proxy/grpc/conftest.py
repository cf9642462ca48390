"""Fixtures of the GRPCRoute tests: gRPC backends, and one proxy of each build for the module."""

from __future__ import annotations

import pathlib
import sys

import pytest

_HERE = str(pathlib.Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import grpc_backends  # noqa: E402
import gw_harness  # noqa: E402


@pytest.fixture(scope="module")
def grpc_backend_factory():
    started = []

    def make(name: str) -> grpc_backends.Backend:
        backend = grpc_backends.Backend(name)
        started.append(backend)
        return backend

    yield make
    for backend in started:
        backend.stop()


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    """One proxy per build (pure, compiled), with a plain and a TLS socket."""
    yield from gw_harness.gateway_proxies_of_each_build(tmp_path_factory, "grpc", tls=True)


@pytest.fixture(scope="module")
def clients():
    made = []

    def make(*args, **kwargs) -> grpc_backends.Client:
        client = grpc_backends.Client(*args, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
