"""Fixtures for the dashboard tests: the real ``kubectl canary dashboard`` against the emulator.

``dashboard(*flags)`` runs the command through the real kubectl on a free port
(``--port 0``), waits for the URL it prints, and stops it with Ctrl-C once this folder's
tests are done, checking that it exits 0 as a person would see it do. The folder shares
one emulated world (CRDs, Services, the route ``web``) and one dashboard per set of flags:
starting the plugin costs a second or more, and the suite has a time budget. So each test
works on Canaries of its own name (:func:`unique_canary`) and asserts on those only.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import signal
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import plugin_world
import pytest

from routeshift.emulator import EmulatorThread
from routeshift.testing import kube
from routeshift.testing.polling import until

START_SECONDS = 30  # the plugin imports the Kubernetes client and aiohttp: slow on a loaded machine


@dataclasses.dataclass
class RunningDashboard:
    streamed: Any  # plugin_world.Streamed
    url: str  # as printed, with the #token fragment when actions are allowed

    @property
    def base(self) -> str:
        return self.url.split("#", 1)[0]

    @property
    def token(self) -> str | None:
        return self.url.split("#token=", 1)[1] if "#token=" in self.url else None

    @property
    def port(self) -> int:
        return int(self.base.rstrip("/").rsplit(":", 1)[1])

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.base + path.lstrip("/"), timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.base + path.lstrip("/"), timeout=30, **kwargs)

    def view(self, name: str = "web", namespace: str = "default") -> dict[str, Any]:
        response = self.get(f"/api/v1/canaries/{namespace}/{name}")
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="package")
def shared_world(tmp_path_factory) -> Iterator[plugin_world.World]:
    """CRDs, the Services and the route ``web``; no Canary and no controller (tests play it)."""
    with EmulatorThread(workloads=False) as api:
        tmp = tmp_path_factory.mktemp("dashboard-world")
        kubectl = kube.Kubectl(api.write_kubeconfig(tmp / "kubeconfig"), cache_dir=tmp / "kubectl-cache")
        built = plugin_world.World(api, kubectl)
        built.install()
        yield built


_names = itertools.count(1)


@pytest.fixture
def unique_canary(shared_world) -> Callable[..., str]:
    """``unique_canary(**spec)`` creates a Canary named for this test alone and returns its name."""
    def create(**spec: Any) -> str:
        name = f"web-{next(_names)}"
        shared_world.create_canary(name, **spec)
        return name
    return create


@pytest.fixture(scope="package")
def dashboard(shared_world) -> Iterator[Callable[..., RunningDashboard]]:
    """``dashboard(*flags)``: the dashboard started with those flags (once for the whole folder)."""
    started: dict[tuple[str, ...], RunningDashboard] = {}

    def start(*flags: str) -> RunningDashboard:
        if flags not in started:
            streamed = shared_world.start_plugin("dashboard", "--port", "0", *flags)
            until(lambda: streamed.stdout or streamed.process.poll() is not None, START_SECONDS,
                  description="the dashboard printing its URL")
            assert streamed.stdout, "".join(streamed.stderr)
            started[flags] = RunningDashboard(streamed, streamed.stdout[0].strip().rsplit(": ", 1)[1])
        return started[flags]

    yield start
    for running in started.values():
        running.streamed.process.send_signal(signal.SIGINT)
    for running in started.values():
        assert running.streamed.finish() == 0, "".join(running.streamed.stderr)


class EventReader:
    """Reads ``/api/v1/events`` as a browser's EventSource would: (event, data) pairs."""

    def __init__(self, dashboard: RunningDashboard):
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=20))
        self._stream = self._client.stream("GET", dashboard.base + "api/v1/events")
        self.response = self._stream.__enter__()
        self._lines = self.response.iter_lines()

    def next(self) -> tuple[str, Any]:
        event, data = "message", []
        for line in self._lines:
            if line == "":
                if data:
                    return event, json.loads("\n".join(data))
                continue
            if line.startswith(":"):
                continue  # a ping
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
        raise AssertionError("the event stream ended")

    def until(self, predicate: Callable[[str, Any], bool], *, limit: int = 50) -> tuple[str, Any]:
        """The first event satisfying ``predicate``; each read is bounded by the read timeout."""
        for _ in range(limit):
            event, data = self.next()
            if predicate(event, data):
                return event, data
        raise AssertionError(f"no matching event among {limit}")

    def close(self) -> None:
        self._stream.__exit__(None, None, None)
        self._client.close()


@pytest.fixture
def read_events() -> Iterator[Callable[[RunningDashboard], EventReader]]:
    readers: list[EventReader] = []

    def open_(dashboard: RunningDashboard) -> EventReader:
        reader = EventReader(dashboard)
        readers.append(reader)
        return reader

    yield open_
    for reader in readers:
        reader.close()
