"""Shared by the data plane tests: the asyncio path's limits, and loading the compiled modules.

The data plane exists only as a C extension. Its tests fail when it is not built, unless
ROUTESHIFT_NO_EXTENSIONS=1 says it was deliberately not built (the rule of the parent conftest).
"""

from __future__ import annotations

import importlib
import os

import pytest

from gateway_proxy import downstream

# (max_uri, max_head, max_headers): the C parser enforces the asyncio path's limits, not its own.
LIMITS = (downstream.MAX_URI, downstream.MAX_HEAD, downstream.MAX_HEADERS)


def compiled(name: str):
    try:
        return importlib.import_module(f"gateway_proxy.dataplane.{name}")
    except ImportError:
        if os.environ.get("ROUTESHIFT_NO_EXTENSIONS") == "1":
            pytest.skip(f"gateway_proxy.dataplane.{name} not built (ROUTESHIFT_NO_EXTENSIONS=1)")
        pytest.fail(f"gateway_proxy.dataplane.{name} is not built: run `make build`")
