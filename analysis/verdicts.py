"""The verdicts analysis hands to the controller: the one contract between the two.

The controller never looks inside a metric query; it reads an :class:`IntervalVerdict`
per analysis interval and decides to advance, hold, pause or roll back. Verdict names
follow Argo Rollouts (Successful, Failed, Inconclusive, Error). Everything here is plain
frozen data so that it can be logged in the Canary status decision log and compared in
table tests.
"""

from __future__ import annotations

import dataclasses
import enum


class Verdict(str, enum.Enum):
    """The outcome of one check or of one whole interval.

    - ``SUCCESSFUL``: within bounds with enough samples; the step may advance.
    - ``FAILED``: out of bounds, or a failure limit was reached; the rollout rolls back
      when the interval verdict is FAILED.
    - ``INCONCLUSIVE``: not enough evidence yet (insufficient traffic, a comparison
      without significance); the step holds.
    - ``ERROR``: the measurement itself failed (Prometheus unreachable, bad query); the
      step holds and never rolls back on this alone.
    """

    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"


@dataclasses.dataclass(frozen=True)
class MetricVerdict:
    """One metric's judgement in one interval, as shown in the decision log."""

    metric: str
    verdict: Verdict
    reason: str
    value: float | None = None
    bound: str | None = None  # human-readable bound, e.g. ">= 99" or "<= 500 ms"
    sample_size: int | None = None
    min_sample_size: int | None = None
    # Canary-vs-stable comparison details, when the metric has a comparison.
    stable_value: float | None = None
    p_value: float | None = None
    effect_size: float | None = None
    # Sequential count test (built-in templates): the log-likelihood ratio summed over the
    # rollout after this interval, and whether it crossed its boundary. A decisive failure
    # already spans intervals, so the consecutive-failure limit does not delay it.
    evidence: float | None = None
    decisive: bool = False
    # The sums of the component tests behind ``evidence`` (latency: one per stable quantile),
    # as (test, sum) pairs; ``evidence`` is their mixture. Empty without counts.
    evidence_parts: tuple[tuple[str, float], ...] = ()


@dataclasses.dataclass(frozen=True)
class IntervalVerdict:
    """The overall judgement of one analysis interval, after failure limits are applied.

    ``verdict`` is what the controller acts on; ``metrics`` explain it.
    """

    verdict: Verdict
    reason: str
    metrics: tuple[MetricVerdict, ...] = ()
    # True when an insufficient-evidence hold outlived the hold deadline and the spec's
    # holdOutcome is Inconclusive: the controller should pause for a human.
    hold_expired: bool = False
