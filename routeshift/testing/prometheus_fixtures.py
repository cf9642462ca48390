"""pytest fixtures for a real Prometheus: registered by ``tests/conftest.py``.

``prometheus_factory`` starts servers with the scrape targets (or backfilled data) a
test needs, and stops every one of them by PID at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from routeshift.testing.prometheus import PrometheusServer


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[Callable[..., PrometheusServer]]:
    """Build a not-yet-started :class:`PrometheusServer`; call ``.backfill()`` and/or ``.start()``."""
    servers: list[PrometheusServer] = []

    def make(**kwargs) -> PrometheusServer:
        server = PrometheusServer(tmp_path / f"prometheus-{len(servers)}", **kwargs)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
