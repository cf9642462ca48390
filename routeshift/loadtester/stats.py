"""What a load run achieved: counts, rate, latency percentiles and the one-line summary.

The generator only feeds a :class:`Tally`; everything reported (the JSON reply, the summary
line the controller copies into the decision log, the pass/fail of ``maxErrorRate``) is
computed here from a tally by pure functions, so each number has a table test.

Definitions (also in ``docs/load-testing.md``):

- *sent*: requests started; *dropped*: scheduled requests not started because
  ``concurrency`` requests were already in flight (the open-model schedule never waits);
- *responses* by status class (``2xx`` ...); *errors* by kind: ``connect`` (refused,
  unreachable), ``timeout`` (no complete answer within the request timeout), ``other``;
- *failed*: a response other than 2xx/3xx, or an error. The *error rate* is failed
  divided by completed (responses + errors), in percent; in-flight requests do not count;
- *achieved rate*: sent divided by the elapsed time of the schedule;
- latency percentiles (nearest rank) are over responses only, in milliseconds.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from collections.abc import Sequence
from typing import Any

ERROR_KINDS = ("connect", "timeout", "other")
PERCENTILES = (50, 90, 99)


@dataclasses.dataclass
class Tally:
    """The running counts of one load run (mutated by its generator only)."""

    sent: int = 0
    dropped: int = 0
    responses: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    errors: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    latencies: list[float] = dataclasses.field(default_factory=list)  # seconds, responses only

    def answered(self, status: int, seconds: float) -> None:
        self.responses[status_class(status)] += 1
        self.latencies.append(seconds)

    def failed(self, kind: str) -> None:
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown error kind {kind!r}")
        self.errors[kind] += 1


@dataclasses.dataclass(frozen=True)
class Results:
    """A snapshot of a run, as reported in the hook's reply."""

    planned: int
    sent: int
    dropped: int
    in_flight: int
    responses: dict[str, int]
    errors: dict[str, int]
    elapsed: float  # seconds of the schedule so far (at most the run's duration)
    achieved_rate: float  # requests started per second of elapsed schedule
    latency_ms: dict[str, float | None]  # "p50", "p90", "p99"
    error_rate: float | None  # percent of completed requests that failed; None before any completed

    @property
    def completed(self) -> int:
        return sum(self.responses.values()) + sum(self.errors.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "planned": self.planned, "sent": self.sent, "dropped": self.dropped, "inFlight": self.in_flight,
            "responses": dict(self.responses), "errors": dict(self.errors),
            "elapsedSeconds": round(self.elapsed, 3), "achievedRate": round(self.achieved_rate, 2),
            "latencyMs": {name: _round(value) for name, value in self.latency_ms.items()},
            "errorRate": _round(self.error_rate),
        }


def status_class(status: int) -> str:
    """``"2xx"`` for 200..299 and so on; anything outside 100..599 is ``"other"``."""
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


def percentile(ordered: Sequence[float], percent: float) -> float | None:
    """Nearest-rank percentile of an ascending sequence; None when it is empty."""
    if not ordered:
        return None
    if not 0 < percent <= 100:
        raise ValueError(f"percentile must be within (0, 100], got {percent}")
    rank = math.ceil(percent / 100 * len(ordered))
    return ordered[rank - 1]


def error_rate(responses: dict[str, int], errors: dict[str, int]) -> float | None:
    """Percent of completed requests that failed (non-2xx/3xx answer or error); None if none completed."""
    good = responses.get("2xx", 0) + responses.get("3xx", 0)
    completed = sum(responses.values()) + sum(errors.values())
    if completed == 0:
        return None
    return 100.0 * (completed - good) / completed


def results(tally: Tally, *, planned: int, elapsed: float) -> Results:
    """Snapshot ``tally`` of a run whose schedule has run for ``elapsed`` seconds."""
    ordered = sorted(tally.latencies)
    responses = {name: count for name, count in sorted(tally.responses.items()) if count}
    errors = {name: count for name, count in sorted(tally.errors.items()) if count}
    completed = sum(responses.values()) + sum(errors.values())
    return Results(
        planned=planned, sent=tally.sent, dropped=tally.dropped, in_flight=tally.sent - completed,
        responses=responses, errors=errors, elapsed=elapsed,
        achieved_rate=tally.sent / elapsed if elapsed > 0 else 0.0,
        latency_ms={f"p{p}": _ms(percentile(ordered, p)) for p in PERCENTILES},
        error_rate=error_rate(responses, errors),
    )


def judge(result: Results, max_error_rate: float | None) -> tuple[bool, str]:
    """(passed, why) for ``maxErrorRate`` in percent; no bound or nothing completed yet passes."""
    if max_error_rate is None:
        return True, "no maxErrorRate set"
    if result.error_rate is None:
        return True, "no request completed yet"
    if result.error_rate > max_error_rate:
        return False, f"error rate {result.error_rate:.1f}% > maxErrorRate {max_error_rate:g}%"
    return True, f"error rate {result.error_rate:.1f}% <= maxErrorRate {max_error_rate:g}%"


def summary(result: Results) -> str:
    """One line for the decision log: what was sent, how it was answered, how fast."""
    answers = ", ".join(f"{name} {count}" for name, count in result.responses.items()) or "no answers"
    errors = ", ".join(f"{name} {count}" for name, count in result.errors.items())
    parts = [
        f"{result.sent}/{result.planned} sent" + (f" ({result.dropped} dropped)" if result.dropped else ""),
        answers + (f", errors: {errors}" if errors else ""),
        f"{result.achieved_rate:.1f} req/s",
    ]
    if result.latency_ms.get("p50") is not None:
        parts.append("p50/p90/p99 " + "/".join(_short(result.latency_ms[f"p{p}"]) for p in PERCENTILES) + " ms")
    if result.error_rate is not None:
        parts.append(f"error rate {result.error_rate:.1f}%")
    return "; ".join(parts)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _short(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"
