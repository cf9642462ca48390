"""The demo backend fails and slows down on command, like a bad release would."""

import sys
import time

import httpx
import pytest

from routeshift.testing import processes
from routeshift.testing.polling import until


@pytest.fixture
def demo_app(tmp_path):
    port = processes.free_port()
    process = processes.start(
        [sys.executable, "-m", "routeshift.demo.app", "--port", str(port), "--version", "v2", "--seed", "7"],
        log_path=tmp_path / "app.log",
    )
    url = f"http://127.0.0.1:{port}"
    until(lambda: httpx.get(f"{url}/healthz").status_code == 200, timeout=15, ignore=(httpx.TransportError,))
    yield url
    processes.stop(process)


def test_healthy_by_default_and_reports_its_version(demo_app):
    with httpx.Client() as client:
        replies = [client.get(f"{demo_app}/items/{i}") for i in range(50)]
    assert {reply.status_code for reply in replies} == {200}
    assert replies[0].json() == {"version": "v2", "path": "/items/0", "status": 200}
    assert replies[0].headers["X-Demo-Version"] == "v2"


def test_error_rate_can_be_changed_while_running(demo_app):
    with httpx.Client() as client:
        assert client.post(f"{demo_app}/control", json={"errorRate": 0.5}).json()["errorRate"] == 0.5
        codes = [client.get(f"{demo_app}/").status_code for _ in range(400)]
    failures = codes.count(500)
    assert set(codes) == {200, 500}
    assert 140 <= failures <= 260, failures  # binomial(400, 0.5): far outside 6 sigma otherwise


def test_added_latency_is_observable(demo_app):
    with httpx.Client() as client:
        client.post(f"{demo_app}/control", json={"latencyMs": 80})
        started = time.perf_counter()
        for _ in range(5):
            client.get(f"{demo_app}/")
        mean_ms = (time.perf_counter() - started) * 1000 / 5
    assert mean_ms >= 40


@pytest.mark.parametrize("body", [{"errorRate": 1.5}, {"latencyMs": -1}, {"errorRate": "lots"}], ids=str)
def test_invalid_control_is_rejected_and_changes_nothing(demo_app, body):
    with httpx.Client() as client:
        reply = client.post(f"{demo_app}/control", json=body)
        assert reply.status_code == 400
        assert "error" in reply.json()
        assert client.get(f"{demo_app}/healthz").json()["errorRate"] == 0.0
