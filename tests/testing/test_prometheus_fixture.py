"""The real-Prometheus fixture scrapes a live endpoint and serves backfilled history."""

import os
import time

import prometheus_client
import pytest

from routeshift.testing import processes
from routeshift.testing.polling import until
from routeshift.testing.prometheus import PrometheusServer, QueryFailed


@pytest.fixture
def metrics_endpoint():
    registry = prometheus_client.CollectorRegistry()
    counter = prometheus_client.Counter("demo_requests", "Requests served by the test endpoint.",
                                        ["backend"], registry=registry)
    port = processes.free_port()
    server, thread = prometheus_client.start_http_server(port, addr="127.0.0.1", registry=registry)
    yield f"127.0.0.1:{port}", counter
    server.shutdown()
    thread.join(timeout=5)


def test_scrapes_a_real_endpoint_and_answers_promql(prometheus_factory, metrics_endpoint):
    target, counter = metrics_endpoint
    counter.labels(backend="stable").inc(7)
    counter.labels(backend="canary").inc(3)
    prometheus = prometheus_factory(scrape_targets=[target]).start()

    def canary_total():
        result = prometheus.query('demo_requests_total{backend="canary"}')
        return result and float(result[0]["value"][1])

    assert until(canary_total, timeout=30, interval=0.25) == 3.0
    shares = prometheus.query('sum by (backend) (demo_requests_total) / scalar(sum(demo_requests_total))')
    assert {series["metric"]["backend"]: float(series["value"][1]) for series in shares} == {
        "stable": 0.7, "canary": 0.3,
    }
    assert prometheus.targets_up()


def test_backfilled_history_is_queryable_at_once(prometheus_factory):
    now = int(time.time())
    lines = ["# TYPE backfilled_requests counter"]
    for offset in range(600, 0, -15):
        lines.append(f'backfilled_requests_total{{backend="canary"}} {(600 - offset) * 2} {now - offset}')
    prometheus = prometheus_factory()
    prometheus.backfill("\n".join(lines))
    prometheus.start()
    result = prometheus.query('rate(backfilled_requests_total{backend="canary"}[2m])', at=now - 30)
    assert len(result) == 1
    assert float(result[0]["value"][1]) == pytest.approx(2.0)


def test_a_bad_query_is_a_clear_error(prometheus_factory):
    prometheus = prometheus_factory().start()
    with pytest.raises(QueryFailed, match="bad_data"):
        prometheus.query("sum(")


def test_stop_ends_the_process(tmp_path):
    prometheus = PrometheusServer(tmp_path / "p").start()
    pid = prometheus.pid
    prometheus.stop()
    assert prometheus.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
