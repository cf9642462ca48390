"""The verdict rules: numbers in, verdicts out; no I/O, no clock.

Two levels. :func:`judge_metric` turns one metric's reading (value, sample size, stable
comparison, or why the measurement failed) into a :class:`MetricVerdict`.
:func:`judge_interval` combines an interval's metric verdicts with the persisted
:class:`AnalysisState` and the failure limits into the :class:`IntervalVerdict` the
controller acts on. Keeping these pure lets every rule be a row in a table test and lets
the benchmark replay thousands of rollouts through exactly the code that runs in
production. Every branch returns a one-line reason for the decision log.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
from collections.abc import Mapping, Sequence

from analysis import comparison, durations, errors, model, sequential
from analysis.verdicts import IntervalVerdict, MetricVerdict, Verdict


@dataclasses.dataclass(frozen=True)
class Reading:
    """What was measured for one metric in one interval.

    ``problem`` is set when a query failed: a :class:`~analysis.errors.NoDataError` or
    :class:`~analysis.errors.NaNResultError` means "no observations"; any other error
    means the measurement itself failed.
    """

    value: float | None = None  # canary over the metric's window (absolute bounds)
    sample_size: float | None = None
    problem: errors.AnalysisError | None = None
    canary_pooled: float | None = None  # canary over the comparison lookback (ratio/difference bound)
    stable_value: float | None = None  # stable over the comparison lookback
    comparison_problem: errors.AnalysisError | None = None
    canary_samples: tuple[float, ...] = ()
    stable_samples: tuple[float, ...] = ()
    # Bad and total requests of both backends in the window not yet counted (built-in
    # templates): the sequential count tests' new evidence, one Counts per component test
    # (latency has one per stable quantile). None: no counts this time.
    counts: sequential.Counts | tuple[sequential.Counts, ...] | None = None


@dataclasses.dataclass(frozen=True)
class Rules:
    """How one metric is judged (resolved from its MetricSpec and the analysis defaults)."""

    min_sample_size: int
    threshold: model.ThresholdRange | None = None
    comparison: model.ComparisonSpec | None = None
    direction: model.Direction = model.Direction.EITHER


@dataclasses.dataclass(frozen=True)
class Limits:
    """The interval-level rules of an AnalysisSpec."""

    threshold: int
    consecutive_failure_limit: int
    hold_deadline: datetime.timedelta
    hold_outcome: model.HoldOutcome

    @classmethod
    def from_spec(cls, spec: model.AnalysisSpec) -> Limits:
        return cls(
            threshold=spec.threshold,
            consecutive_failure_limit=spec.consecutive_failure_limit,
            hold_deadline=durations.parse_duration(spec.hold_deadline),
            hold_outcome=spec.hold_outcome,
        )


_NO_OBSERVATIONS = (errors.NoDataError, errors.NaNResultError)


Evidence = Mapping[str, float] | float | None  # a metric's sums so far, per component test ("" alone)


def judge_metric(name: str, reading: Reading, rules: Rules, evidence: Evidence = None) -> MetricVerdict:
    """Judge one metric for one interval; ``evidence`` is its sequential tests' sums so far."""
    verdict = _Builder(name, reading, rules, _components(evidence))
    problem = reading.problem
    if problem is not None and not isinstance(problem, _NO_OBSERVATIONS):
        # Unreachable provider, rejected query, ambiguous series, bad template: we measured
        # nothing, so we may neither pass nor fail the canary on it.
        return verdict(Verdict.ERROR, f"measurement failed: {_describe(problem)}")
    spec = rules.comparison
    if spec is not None and reading.counts is not None:
        # Every window's counts join the evidence, however thin: that is how small windows
        # add up. Its false-positive rate is controlled over the rollout, so no sample-size
        # minimum and no consecutive-failure limit are needed on top.
        windows = reading.counts if isinstance(reading.counts, tuple) else (reading.counts,)
        for counts in windows:
            verdict.parts[counts.test] = (verdict.parts.get(counts.test, 0.0)
                                          + sequential.log_likelihood_ratio(counts, spec.bad_rate_ratio))
        verdict.evidence = sequential.combined(verdict.parts)
        limit = sequential.boundary(spec.confidence)
        if verdict.evidence >= limit and windows:
            # Name the component furthest along, with this window's counts behind it.
            strongest = max(windows, key=lambda counts: verdict.parts[counts.test])
            reason = (f"sequential count test: log-likelihood ratio {verdict.evidence:.2f} >= {limit:.2f} for "
                      f"odds ratio {_fmt(spec.bad_rate_ratio)} vs no worse than stable ({strongest.describe()})")
            return verdict(Verdict.FAILED, reason, _size(reading), decisive=True)
    count = _size(reading)
    if count < rules.min_sample_size:
        # Thin traffic: any value would be noise. Hold instead of failing (Flagger fails here).
        return verdict(Verdict.INCONCLUSIVE, f"insufficient traffic {count}/{rules.min_sample_size}", count)
    if problem is not None or reading.value is None:
        # Enough requests but no value: the query does not match the traffic it claims to judge.
        what = _describe(problem) if problem is not None else "no value"
        return verdict(Verdict.ERROR, f"{what} despite {count} requests: check the query", count)
    value = reading.value
    if rules.threshold is not None:
        low, high = rules.threshold.min, rules.threshold.max
        if math.isnan(value):
            return verdict(Verdict.ERROR, f"value is NaN despite {count} requests", count)
        if low is not None and value < low:
            return verdict(Verdict.FAILED, f"{_fmt(value)} below min {_fmt(low)}", count)
        if high is not None and value > high:
            return verdict(Verdict.FAILED, f"{_fmt(value)} above max {_fmt(high)}", count)
    if rules.comparison is not None:
        return _judge_comparison(verdict, reading, rules, rules.comparison, count)
    return verdict(Verdict.SUCCESSFUL, f"{_fmt(value)} within {_bound(rules)}", count)


def _judge_comparison(verdict, reading: Reading, rules: Rules, spec: model.ComparisonSpec, count: int) -> MetricVerdict:
    # The bound compares like with like: both backends over the same lookback when measured
    # (more requests, less noise than one interval), else the interval values.
    value = reading.canary_pooled if reading.canary_pooled is not None else reading.value
    direction = spec.direction or rules.direction
    if reading.comparison_problem is not None and not isinstance(reading.comparison_problem, _NO_OBSERVATIONS):
        # The baseline or the per-step samples could not be measured: an unmeasured check.
        return verdict(Verdict.ERROR, f"comparison measurement failed: {_describe(reading.comparison_problem)}", count)
    if reading.stable_value is None or math.isnan(reading.stable_value):
        # No baseline traffic (e.g. blue-green idle stable): nothing to compare with yet.
        return verdict(Verdict.INCONCLUSIVE, "stable has no data to compare with", count)
    dev = comparison.deviation(value, reading.stable_value, spec, direction)
    versus = f"canary {_fmt(value)} vs stable {_fmt(reading.stable_value)} (ratio {dev.ratio:.3g})"
    if reading.canary_pooled is not None:
        versus += f" over {spec.lookback}"
    if not dev.exceeds:
        return verdict(Verdict.SUCCESSFUL, f"{versus} within {_bound(rules)}", count)
    if reading.counts is not None:
        # Counts are judged by the sequential test (above), which has not crossed its
        # boundary. A pooled value beyond the bound on a thin window is the noise that test
        # replaces, and holding would not help: the test needs about the same number of
        # canary requests to decide at any weight, so a hold only spends minutes.
        progress = f"sequential evidence {verdict.evidence:.2f} of {sequential.boundary(spec.confidence):.2f}"
        return verdict(Verdict.SUCCESSFUL, f"{versus} beyond {_bound(rules)}, not conclusive ({progress})", count)
    test = comparison.mann_whitney(reading.canary_samples, reading.stable_samples, spec, direction)
    extra = {"p_value": test.p_value, "effect_size": test.effect_size}
    if test.significant:
        # Beyond the bound, significant and not negligible: a real regression.
        return verdict(Verdict.FAILED, f"{versus} beyond {_bound(rules)}, {test.reason}", count, **extra)
    # Beyond the bound but the difference may be noise: hold for more evidence.
    return verdict(Verdict.INCONCLUSIVE, f"{versus} beyond {_bound(rules)} but {test.reason}", count, **extra)


def _components(evidence: Evidence) -> dict[str, float]:
    if evidence is None:
        return {}
    if isinstance(evidence, Mapping):
        return dict(evidence)
    return {"": float(evidence)}


EVIDENCE_SEPARATOR = "@"  # state key of a component test: "request-duration-p99@p50"


def evidence_of(state: model.AnalysisState, metric: str) -> dict[str, float]:
    """One metric's component sums from the state, keyed as :func:`judge_metric` takes them."""
    prefix = metric + EVIDENCE_SEPARATOR
    return {("" if key == metric else key[len(prefix):]): value
            for key, value in state.evidence.items() if key == metric or key.startswith(prefix)}


def _evidence_keys(verdict: MetricVerdict) -> dict[str, float]:
    if verdict.evidence_parts:
        return {(verdict.metric if not test else f"{verdict.metric}{EVIDENCE_SEPARATOR}{test}"): value
                for test, value in verdict.evidence_parts}
    return {} if verdict.evidence is None else {verdict.metric: verdict.evidence}


class _Builder:
    """Fills the fields every MetricVerdict of one metric shares."""

    def __init__(self, name: str, reading: Reading, rules: Rules, parts: dict[str, float]):
        self.name, self.reading, self.rules = name, reading, rules
        # Carried unchanged unless this interval brought counts.
        self.parts = parts
        self.evidence = sequential.combined(parts) if parts else None

    def __call__(self, verdict: Verdict, reason: str, count: int | None = None, **extra) -> MetricVerdict:
        return MetricVerdict(
            metric=self.name,
            verdict=verdict,
            reason=reason,
            value=self.reading.value,
            bound=_bound(self.rules),
            sample_size=count,
            min_sample_size=self.rules.min_sample_size,
            stable_value=self.reading.stable_value,
            evidence=self.evidence,
            evidence_parts=tuple(sorted(self.parts.items())),
            **extra,
        )


def _size(reading: Reading) -> int:
    size = reading.sample_size
    if size is None or math.isnan(size):
        # No sample-size series at all means no request reached the backend in the window.
        size = 0.0
    return int(round(size))


def judge_interval(
    verdicts: Sequence[MetricVerdict], state: model.AnalysisState, limits: Limits, *, now: datetime.datetime
) -> tuple[IntervalVerdict, model.AnalysisState]:
    """Combine an interval's metric verdicts with the failure limits; return the new state."""
    checks = tuple(verdicts)
    state = state.model_copy(update={"intervals": state.intervals + 1})
    carried = {key: value for v in checks for key, value in _evidence_keys(v).items()}
    if carried:
        # The sequential tests' sums survive every outcome (a verdict carries its prior sum
        # when it counted nothing new); the counted window ends now, so the next one starts
        # here and none overlap. Only metrics still judged keep a sum: the state stays as
        # small as the spec.
        state = state.model_copy(update={"evidence": carried, "evidence_until": now})
    failed = [v for v in checks if v.verdict is Verdict.FAILED]
    decisive = [v for v in failed if v.decisive]
    if decisive:
        # The sequential evidence already spans intervals and its false-positive rate is
        # bounded over the rollout: waiting for another failed interval would only delay it.
        state = state.model_copy(update={"total_failures": state.total_failures + 1,
                                         "consecutive_failures": state.consecutive_failures + 1})
        return IntervalVerdict(Verdict.FAILED, f"sequential test conclusive: {_summary(decisive)}", checks), state
    if failed:
        return _failure(checks, failed, state, limits)
    broken = [v for v in checks if v.verdict is Verdict.ERROR]
    if broken:
        # Errors neither count as failures nor clear them: a Prometheus outage must not
        # roll back, and must not hide a failure streak either.
        return IntervalVerdict(Verdict.ERROR, f"measurement failed: {_summary(broken)}", checks), state
    holding = [v for v in checks if v.verdict is Verdict.INCONCLUSIVE]
    if holding:
        return _hold(checks, holding, state, limits, now)
    # Every check passed: the failure streak and any hold end here.
    state = state.model_copy(update={"consecutive_failures": 0, "hold_started_at": None})
    reason = f"all {len(checks)} checks passed" if checks else "no metrics configured"
    return IntervalVerdict(Verdict.SUCCESSFUL, reason, checks), state


def _failure(checks, failed, state: model.AnalysisState, limits: Limits):
    total = state.total_failures + 1
    consecutive = state.consecutive_failures + 1
    state = state.model_copy(update={"total_failures": total, "consecutive_failures": consecutive})
    counts = f"{consecutive}/{limits.consecutive_failure_limit} in a row, {total}/{limits.threshold} in total"
    if consecutive >= limits.consecutive_failure_limit:
        # A failure that persists across intervals is not a blip.
        return IntervalVerdict(Verdict.FAILED, f"consecutive failure limit reached ({counts}): {_summary(failed)}", checks), state
    if total >= limits.threshold:
        # Intermittent failures add up to the total limit over the rollout.
        return IntervalVerdict(Verdict.FAILED, f"total failure limit reached ({counts}): {_summary(failed)}", checks), state
    # Below both limits: one failed interval holds the step to see whether it repeats.
    return IntervalVerdict(Verdict.INCONCLUSIVE, f"holding after a failed check ({counts}): {_summary(failed)}", checks), state


def _hold(checks, holding, state: model.AnalysisState, limits: Limits, now: datetime.datetime):
    started = state.hold_started_at or now
    held = now - started
    summary = _summary(holding)
    if held < limits.hold_deadline:
        # Not enough evidence yet, and still within the deadline: keep the step where it is.
        state = state.model_copy(update={"hold_started_at": started})
        reason = f"holding for evidence ({_span(held)} of {_span(limits.hold_deadline)}): {summary}"
        return IntervalVerdict(Verdict.INCONCLUSIVE, reason, checks), state
    expired = f"hold deadline {_span(limits.hold_deadline)} passed after {_span(held)}: {summary}"
    if limits.hold_outcome is model.HoldOutcome.FAILED:
        # The spec says: no evidence within the deadline counts as failure.
        state = state.model_copy(update={"hold_started_at": None})
        return IntervalVerdict(Verdict.FAILED, expired, checks), state
    if limits.hold_outcome is model.HoldOutcome.SUCCESSFUL:
        # The spec accepts thin traffic as harmless; the next hold starts a fresh deadline.
        state = state.model_copy(update={"hold_started_at": None})
        return IntervalVerdict(Verdict.SUCCESSFUL, f"accepted: {expired}", checks), state
    # Inconclusive outcome: keep holding, and tell the controller to pause for a human.
    state = state.model_copy(update={"hold_started_at": started})
    return IntervalVerdict(Verdict.INCONCLUSIVE, expired, checks, hold_expired=True), state


def _summary(verdicts: Sequence[MetricVerdict]) -> str:
    return "; ".join(f"{v.metric}: {v.reason}" for v in verdicts)


def _describe(problem: errors.AnalysisError) -> str:
    return f"{type(problem).__name__}: {problem}"


def _bound(rules: Rules) -> str | None:
    parts = []
    if rules.threshold is not None:
        if rules.threshold.min is not None:
            parts.append(f">= {_fmt(rules.threshold.min)}")
        if rules.threshold.max is not None:
            parts.append(f"<= {_fmt(rules.threshold.max)}")
    if rules.comparison is not None:
        # Within either comparison bound is tolerated, hence "or".
        tolerated = []
        if rules.comparison.max_ratio is not None:
            tolerated.append(f"ratio <= {_fmt(rules.comparison.max_ratio)}")
        if rules.comparison.max_difference is not None:
            tolerated.append(f"difference <= {_fmt(rules.comparison.max_difference)}")
        parts.append(" or ".join(tolerated))
    return ", ".join(parts) if parts else None


def _fmt(number: float) -> str:
    return f"{number:.4g}"


def _span(delta: datetime.timedelta) -> str:
    total = int(delta.total_seconds())
    minutes, secs = divmod(total, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
