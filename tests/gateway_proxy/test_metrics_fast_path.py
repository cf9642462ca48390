"""BackendMetrics updates prometheus_client's value cells itself; the exposition must not tell.

Each test records the same observations once through ``BackendMetrics.observe`` and once through
the public ``Counter.inc``/``Histogram.observe`` and compares the scrape text, in one process and
in multiprocess mode (``--workers N``), where the cells are mmap-backed files. Durations sit on,
just above and far beyond the bucket bounds, where an off-by-one in the bucket search would show.
"""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess, values

from gateway_proxy import metrics

LABELS = ("default", "app", "default", "app-canary")
OBSERVATIONS = [(200, 0.0), (200, 0.0004), (200, 0.001), (200, 0.0010001), (404, 0.05), (200, 0.075),
                (503, 9.99), (200, 10.0), (502, 10.5), (200, 3600.0), (200, 0.25)] + \
               [(200, bound) for bound in metrics.BUCKETS] + [(200, bound * 1.0001) for bound in metrics.BUCKETS]


def _through_fast_path(registry: CollectorRegistry) -> None:
    bound = metrics.Metrics(registry).bind(*LABELS)
    for code, seconds in OBSERVATIONS:
        bound.observe(code, seconds)


def _through_public_api(registry: CollectorRegistry) -> None:
    requests = Counter(metrics.REQUESTS.removesuffix("_total"), "Requests answered by the gateway proxy.",
                       ("namespace", "route", "backend_namespace", "backend", "code"), registry=registry)
    duration = Histogram(metrics.DURATION, "Time from request head to the end of the response.",
                         ("namespace", "route", "backend_namespace", "backend"), buckets=metrics.BUCKETS,
                         registry=registry)
    duration.labels("", "", "", "")  # Metrics binds the unrouted requests' child up front
    for code, seconds in OBSERVATIONS:
        requests.labels(*LABELS, str(code)).inc()
        duration.labels(*LABELS).observe(seconds)


def _text(registry: CollectorRegistry) -> list[str]:
    return sorted(line for line in generate_latest(registry).decode().splitlines() if "_created" not in line)


def test_one_process_scrapes_the_same_as_the_public_api():
    fast, public = CollectorRegistry(), CollectorRegistry()
    _through_fast_path(fast)
    _through_public_api(public)
    assert _text(fast) == _text(public)
    assert any(line.startswith("routeshift_gateway_request_duration_seconds_bucket") for line in _text(fast))


def test_multiprocess_cells_scrape_the_same_as_the_public_api(tmp_path, monkeypatch):
    texts = []
    for name, record in (("fast", _through_fast_path), ("public", _through_public_api)):
        directory = tmp_path / name
        directory.mkdir()
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
        monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue())
        record(CollectorRegistry())
        scrape = CollectorRegistry()
        multiprocess.MultiProcessCollector(scrape, path=str(directory))
        texts.append(_text(scrape))
    assert texts[0] == texts[1]
    assert any('code="503"' in line for line in texts[0])


@pytest.mark.parametrize("seconds", [0.0, 0.001, 0.0011, 10.0, 10.01])
def test_an_observation_counts_in_every_bucket_whose_bound_holds_it(seconds):
    registry = CollectorRegistry()
    metrics.Metrics(registry).bind(*LABELS).observe(200, seconds)
    buckets = [line for line in _text(registry)
               if line.startswith(metrics.DURATION + "_bucket") and 'backend="app-canary"' in line]
    assert len(buckets) == len(metrics.BUCKETS) + 1
    for line in buckets:
        le = float(line.split('le="')[1].split('"')[0])
        assert float(line.rsplit(" ", 1)[1]) == (1.0 if seconds <= le else 0.0), line
