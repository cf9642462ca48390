"""The controller's per-Canary metric series, kept as exposition text between scrapes.

Nearly every series the controller exports belongs to one Canary: twelve of
``routeshift_canary_phase`` each (one per phase, 1 for the current one), fourteen lines of
``routeshift_rollout_duration_seconds`` per namespace, name and result, weights, steps, verdicts.
prometheus_client keeps an object per series and formats every sample again at every scrape:
at 500 Canaries (21,000 series, 2 MB) that took 0.5 s of CPU, at 2,000 two seconds
(``bench/controller_metrics.py``). These series change only when a Canary's status, verdicts or
results do, so a Canary's lines are formatted then, and a scrape only joins them.

The lines are the ones prometheus_client writes in its text format (the same family names,
label names sorted, values by its ``floatToGoString``, ``_created`` beside each counter and
histogram child), so a scrape returns the same series and values as before. Changes come from the
event loop and a scrape reads from another thread: both take one lock, which a scrape holds only
while it copies the references to the lines.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

Canary = tuple[str, str]  # (namespace, name)
# (label name, value) pairs, written sorted by name; also the series' key, so each caller
# passes a family's labels in one order.
Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _sample(name: str, labels: Iterable[tuple[str, str]], value: float) -> bytes:
    """One sample line as prometheus_client's text format writes it (label names sorted)."""
    text = ",".join(f'{key}="{_escape(label)}"' for key, label in sorted(labels))
    return f"{name}{{{text}}} {floatToGoString(value)}\n".encode()


class _Family:
    """One family's lines, grouped by Canary so that all of a Canary's lines can go at once."""

    def __init__(self, name: str, documentation: str, kind: str, *, shown_empty: bool = True):
        doc = documentation.replace("\\", r"\\").replace("\n", r"\n")
        self.header = f"# HELP {name} {doc}\n# TYPE {name} {kind}\n".encode()
        # prometheus_client writes a family without samples as its header alone, but leaves out
        # the _created family of a counter or histogram that has no children yet.
        self.shown_empty = shown_empty
        self._lines: dict[Canary, dict[object, bytes]] = {}
        self._blocks: dict[Canary, bytes] = {}  # each Canary's lines joined: what a scrape copies

    def put(self, canary: Canary, key: object, lines: bytes) -> None:
        by_key = self._lines.setdefault(canary, {})
        if by_key.get(key) != lines:
            by_key[key] = lines
            self._blocks[canary] = b"".join(by_key.values())

    def drop(self, canary: Canary) -> None:
        self._lines.pop(canary, None)
        self._blocks.pop(canary, None)

    def snapshot(self) -> list[bytes] | None:
        if not self._blocks and not self.shown_empty:
            return None
        return [self.header, *self._blocks.values()]


class Gauge:
    """A gauge whose series are dropped with their Canary (:meth:`CanarySeries.forget`)."""

    def __init__(self, series: CanarySeries, name: str, documentation: str):
        self._series, self._name = series, name
        self._family = _Family(name, documentation, "gauge")

    def set(self, canary: Canary, labels: Labels, value: float) -> None:
        line = _sample(self._name, labels, value)
        with self._series.lock:
            self._family.put(canary, labels, line)

    def set_group(self, canary: Canary, group: str, samples: Sequence[tuple[Labels, float]]) -> None:
        """Several series of one Canary written as one entry (e.g. the one-hot phase: 12 lines)."""
        lines = b"".join(_sample(self._name, labels, value) for labels, value in samples)
        with self._series.lock:
            self._family.put(canary, group, lines)


class Counter:
    """A counter (``NAME_total`` and ``NAME_created``); its series outlive their Canary: they are history."""

    def __init__(self, series: CanarySeries, name: str, documentation: str):
        self._series, self._name = series, name
        self._family = _Family(f"{name}_total", documentation, "counter")
        self._created = _Family(f"{name}_created", documentation, "gauge", shown_empty=False)
        self._values: dict[Labels, float] = {}

    def inc(self, canary: Canary, labels: Labels, amount: float = 1.0) -> None:
        with self._series.lock:
            if labels not in self._values:
                self._created.put(canary, labels, _sample(f"{self._name}_created", labels, time.time()))
            value = self._values[labels] = self._values.get(labels, 0.0) + amount
            self._family.put(canary, labels, _sample(f"{self._name}_total", labels, value))


class Histogram:
    """A histogram (``_bucket``, ``_count``, ``_sum``, ``_created``); history, like a counter."""

    def __init__(self, series: CanarySeries, name: str, documentation: str, buckets: Sequence[float]):
        self._series, self._name = series, name
        self._bounds = (*sorted(float(b) for b in buckets), math.inf)
        self._family = _Family(name, documentation, "histogram")
        self._created = _Family(f"{name}_created", documentation, "gauge", shown_empty=False)
        self._counts: dict[Labels, list[int]] = {}  # observations per bucket (not cumulative)
        self._sums: dict[Labels, float] = {}

    def observe(self, canary: Canary, labels: Labels, value: float) -> None:
        with self._series.lock:
            if labels not in self._counts:
                self._counts[labels] = [0] * len(self._bounds)
                self._created.put(canary, labels, _sample(f"{self._name}_created", labels, time.time()))
            counts = self._counts[labels]
            for i, bound in enumerate(self._bounds):
                if value <= bound:  # as prometheus_client: a NaN lands in no bucket
                    counts[i] += 1
                    break
            total = self._sums[labels] = self._sums.get(labels, 0.0) + value
            cumulative, lines = 0, []
            for bound, count in zip(self._bounds, counts, strict=True):
                cumulative += count
                lines.append(_sample(f"{self._name}_bucket", (*labels, ("le", floatToGoString(bound))), cumulative))
            lines.append(_sample(f"{self._name}_count", labels, cumulative))
            lines.append(_sample(f"{self._name}_sum", labels, total))
            self._family.put(canary, labels, b"".join(lines))


class CanarySeries:
    """Every per-Canary family, in the order made; a prometheus_client collector as well."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._families: list[_Family] = []
        self._gauges: list[_Family] = []

    def gauge(self, name: str, documentation: str) -> Gauge:
        gauge = Gauge(self, name, documentation)
        self._families.append(gauge._family)
        self._gauges.append(gauge._family)
        return gauge

    def counter(self, name: str, documentation: str) -> Counter:
        counter = Counter(self, name, documentation)
        self._families += [counter._family, counter._created]
        return counter

    def histogram(self, name: str, documentation: str, buckets: Sequence[float]) -> Histogram:
        histogram = Histogram(self, name, documentation, buckets)
        self._families += [histogram._family, histogram._created]
        return histogram

    def forget(self, canary: Canary) -> None:
        """Drop a Canary's gauge series; counters and histograms keep theirs."""
        with self.lock:
            for family in self._gauges:
                family.drop(canary)

    def chunks(self) -> list[bytes]:
        """The exposition of every family, in pieces: references copied under the lock.

        Join them once, with whatever follows: each join of megabytes is a fresh allocation
        the kernel maps page by page, and costs more than copying the bytes.
        """
        chunks: list[bytes] = []
        with self.lock:
            for family in self._families:
                chunks += family.snapshot() or ()
        return chunks

    def text(self) -> bytes:
        return b"".join(self.chunks())

    def collect(self) -> Iterator[Metric]:
        """The families as prometheus_client reads them (``registry.get_sample_value`` in tests,
        the dashboards' simulated scrapes): parsed back from :meth:`text`, never on a scrape."""
        yield from text_string_to_metric_families(self.text().decode())

