"""Every verdict rule of the pure judge, as tables: reading + rules -> verdict + reason."""

import dataclasses
import datetime
import math

import pytest

from analysis import errors, judge, model, sequential
from analysis.model import AnalysisState, ComparisonSpec, Direction, HoldOutcome, ThresholdRange
from analysis.verdicts import MetricVerdict, Verdict

MIN99 = ThresholdRange(min=99)
MAX500 = ThresholdRange(max=500)
RATIO = ComparisonSpec(max_ratio=1.1)
DIFF = ComparisonSpec(max_difference=0.5)
HIGH = tuple(float(x) for x in range(120, 140))
LOW = tuple(float(x) for x in range(100, 120))
FLAT = (100.0,) * 20


@pytest.mark.parametrize(
    "reading, rules, verdict, reason",
    [
        pytest.param(
            judge.Reading(value=99.5, sample_size=200), judge.Rules(50, MIN99), Verdict.SUCCESSFUL, "99.5 within >= 99",
            id="within-min",
        ),
        pytest.param(
            judge.Reading(value=98.0, sample_size=200), judge.Rules(50, MIN99), Verdict.FAILED, "98 below min 99",
            id="below-min-fails",
        ),
        pytest.param(
            judge.Reading(value=501.0, sample_size=200), judge.Rules(50, MAX500), Verdict.FAILED, "501 above max 500",
            id="above-max-fails",
        ),
        pytest.param(
            judge.Reading(value=500.0, sample_size=50), judge.Rules(50, MAX500), Verdict.SUCCESSFUL, "500 within <= 500",
            id="bounds-and-min-sample-size-are-inclusive",
        ),
        pytest.param(
            judge.Reading(value=math.inf, sample_size=200), judge.Rules(50, MAX500), Verdict.FAILED, "inf above max 500",
            id="plus-inf-p99-is-a-real-value-and-fails",
        ),
        pytest.param(
            judge.Reading(value=10.0, sample_size=7), judge.Rules(50, MIN99), Verdict.INCONCLUSIVE,
            "insufficient traffic 7/50", id="thin-traffic-holds-even-when-bad",
        ),
        pytest.param(
            judge.Reading(value=None, sample_size=None, problem=errors.NoDataError("no series")),
            judge.Rules(50, MIN99), Verdict.INCONCLUSIVE, "insufficient traffic 0/50", id="no-data-is-no-traffic",
        ),
        pytest.param(
            judge.Reading(value=None, sample_size=0.0, problem=errors.NaNResultError("NaN")),
            judge.Rules(50, MIN99), Verdict.INCONCLUSIVE, "insufficient traffic 0/50", id="nan-without-traffic-holds",
        ),
        pytest.param(
            judge.Reading(value=None, sample_size=300.0, problem=errors.NaNResultError("NaN")),
            judge.Rules(50, MIN99), Verdict.ERROR, "NaNResultError: NaN despite 300 requests", id="nan-with-traffic-is-error",
        ),
        pytest.param(
            judge.Reading(value=None, sample_size=300.0, problem=errors.NoDataError("empty")),
            judge.Rules(50, MAX500), Verdict.ERROR, "NoDataError: empty despite 300 requests",
            id="no-data-with-traffic-is-error",
        ),
        pytest.param(
            judge.Reading(problem=errors.MultipleSeriesError("2 series returned")),
            judge.Rules(50, MIN99), Verdict.ERROR, "measurement failed: MultipleSeriesError: 2 series returned",
            id="multi-series-is-error",
        ),
        pytest.param(
            judge.Reading(problem=errors.ProviderUnavailable("connection refused")),
            judge.Rules(50, MIN99), Verdict.ERROR, "measurement failed: ProviderUnavailable: connection refused",
            id="unreachable-prometheus-is-error-not-failure",
        ),
        pytest.param(
            judge.Reading(problem=errors.QueryRejected("bad_data")), judge.Rules(50, MIN99), Verdict.ERROR,
            "measurement failed: QueryRejected: bad_data", id="rejected-query-is-error",
        ),
        pytest.param(
            judge.Reading(problem=errors.TemplateError("unknown variable")), judge.Rules(50, MIN99), Verdict.ERROR,
            "measurement failed: TemplateError", id="template-error-is-error",
        ),
        pytest.param(
            judge.Reading(value=99.9, sample_size=80.4), judge.Rules(0, MIN99), Verdict.SUCCESSFUL, "99.9 within",
            id="zero-min-sample-size-judges-anything",
        ),
        pytest.param(
            judge.Reading(value=120.0, sample_size=400, stable_value=118.0), judge.Rules(50, None, RATIO, Direction.INCREASE),
            Verdict.SUCCESSFUL, "canary 120 vs stable 118", id="comparison-within-ratio",
        ),
        pytest.param(
            judge.Reading(value=150.0, sample_size=400, stable_value=100.0, canary_samples=HIGH, stable_samples=LOW),
            judge.Rules(50, None, RATIO, Direction.INCREASE), Verdict.FAILED, "significant",
            id="comparison-beyond-ratio-and-significant-fails",
        ),
        pytest.param(
            judge.Reading(value=150.0, sample_size=400, stable_value=100.0, canary_samples=LOW, stable_samples=HIGH),
            judge.Rules(50, None, RATIO, Direction.INCREASE), Verdict.INCONCLUSIVE, "not significant",
            id="comparison-beyond-ratio-not-significant-holds",
        ),
        pytest.param(
            judge.Reading(value=150.0, sample_size=400, stable_value=100.0, canary_samples=HIGH[:2], stable_samples=LOW),
            judge.Rules(50, None, RATIO, Direction.INCREASE), Verdict.INCONCLUSIVE, "too few samples",
            id="comparison-with-too-few-samples-holds",
        ),
        pytest.param(
            judge.Reading(value=150.0, sample_size=400, stable_value=100.0, canary_samples=FLAT, stable_samples=FLAT),
            judge.Rules(50, None, RATIO, Direction.INCREASE), Verdict.INCONCLUSIVE, "not significant",
            id="comparison-identical-samples-hold",
        ),
        pytest.param(
            judge.Reading(value=150.0, sample_size=400, stable_value=100.0,
                          canary_samples=LOW[1:] + (200.0,), stable_samples=LOW),
            judge.Rules(50, None, ComparisonSpec(max_ratio=1.1, min_effect_size=0.0, confidence=0.99), Direction.INCREASE),
            Verdict.INCONCLUSIVE, "not significant", id="comparison-one-outlier-is-not-significant",
        ),
        pytest.param(
            judge.Reading(value=98.0, sample_size=400, stable_value=99.9,
                          canary_samples=tuple(x / 10 for x in range(960, 980)), stable_samples=(99.9,) * 20),
            judge.Rules(50, None, DIFF, Direction.DECREASE), Verdict.FAILED, "significant",
            id="comparison-success-rate-drop-beyond-difference-fails",
        ),
        pytest.param(
            judge.Reading(value=99.6, sample_size=400, stable_value=99.9), judge.Rules(50, None, DIFF, Direction.DECREASE),
            Verdict.SUCCESSFUL, "within difference <= 0.5", id="comparison-success-rate-within-difference",
        ),
        pytest.param(
            judge.Reading(value=99.99, sample_size=400, stable_value=95.0), judge.Rules(50, None, DIFF, Direction.DECREASE),
            Verdict.SUCCESSFUL, "canary 99.99 vs stable 95", id="comparison-canary-better-passes",
        ),
        pytest.param(
            judge.Reading(value=150.0, sample_size=400, stable_value=None), judge.Rules(50, None, RATIO, Direction.INCREASE),
            Verdict.INCONCLUSIVE, "stable has no data", id="comparison-without-stable-data-holds",
        ),
        pytest.param(
            judge.Reading(value=150.0, sample_size=400, comparison_problem=errors.ProviderUnavailable("timeout")),
            judge.Rules(50, None, RATIO, Direction.INCREASE), Verdict.ERROR, "comparison measurement failed",
            id="comparison-measurement-failure-is-error",
        ),
        pytest.param(
            judge.Reading(value=98.0, sample_size=400, stable_value=98.0), judge.Rules(50, MIN99, DIFF, Direction.DECREASE),
            Verdict.FAILED, "98 below min 99", id="absolute-bound-applies-before-comparison",
        ),
        pytest.param(
            judge.Reading(value=105.0, sample_size=400, stable_value=100.0, canary_samples=HIGH, stable_samples=LOW),
            judge.Rules(50, None, ComparisonSpec(max_ratio=1.1, max_difference=2.0), Direction.INCREASE),
            Verdict.SUCCESSFUL, "ratio <= 1.1 or difference <= 2", id="within-either-bound-is-tolerated",
        ),
        pytest.param(
            judge.Reading(value=50.0, sample_size=400, stable_value=100.0, canary_samples=LOW, stable_samples=HIGH),
            judge.Rules(50, None, RATIO, Direction.EITHER), Verdict.FAILED, "significant",
            id="either-direction-catches-a-drop",
        ),
    ],
)
def test_metric_verdict(reading, rules, verdict, reason):
    result = judge.judge_metric("m", reading, rules)
    assert result.verdict is verdict, result.reason
    assert reason in result.reason
    assert result.metric == "m"
    assert result.min_sample_size == rules.min_sample_size


def test_a_metric_verdict_carries_the_numbers_for_the_decision_log():
    result = judge.judge_metric(
        "latency",
        judge.Reading(value=150.0, sample_size=400.2, stable_value=100.0, canary_samples=HIGH, stable_samples=LOW),
        judge.Rules(50, MAX500, RATIO, Direction.INCREASE),
    )
    assert (result.value, result.stable_value, result.sample_size, result.bound) == (
        150.0, 100.0, 400, "<= 500, ratio <= 1.1",
    )
    assert result.p_value is not None and result.p_value < 0.05
    assert result.effect_size == pytest.approx(1.0)


T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
LIMITS = judge.Limits(threshold=3, consecutive_failure_limit=2, hold_deadline=datetime.timedelta(minutes=10),
                      hold_outcome=HoldOutcome.INCONCLUSIVE)


def check(verdict: Verdict, name: str = "m") -> MetricVerdict:
    return MetricVerdict(metric=name, verdict=verdict, reason=f"{verdict.value.lower()} reason")


def state(**fields) -> AnalysisState:
    return AnalysisState(**fields)


@pytest.mark.parametrize(
    "checks, before, limits, now, verdict, after, reason",
    [
        pytest.param([check(Verdict.SUCCESSFUL)], state(consecutive_failures=1, total_failures=1), LIMITS, T0,
                     Verdict.SUCCESSFUL, state(intervals=1, total_failures=1), "all 1 checks passed",
                     id="success-resets-the-streak-not-the-total"),
        pytest.param([], state(), LIMITS, T0, Verdict.SUCCESSFUL, state(intervals=1), "no metrics configured",
                     id="no-metrics-passes"),
        pytest.param([check(Verdict.FAILED)], state(), LIMITS, T0, Verdict.INCONCLUSIVE,
                     state(intervals=1, total_failures=1, consecutive_failures=1), "holding after a failed check (1/2 in a row, 1/3",
                     id="single-blip-holds"),
        pytest.param([check(Verdict.FAILED)], state(total_failures=1, consecutive_failures=1), LIMITS, T0, Verdict.FAILED,
                     state(intervals=1, total_failures=2, consecutive_failures=2), "consecutive failure limit reached",
                     id="consecutive-limit-fails"),
        pytest.param([check(Verdict.FAILED)], state(total_failures=2), LIMITS, T0, Verdict.FAILED,
                     state(intervals=1, total_failures=3, consecutive_failures=1), "total failure limit reached",
                     id="total-limit-fails"),
        pytest.param([check(Verdict.FAILED), check(Verdict.ERROR, "b")], state(), LIMITS, T0, Verdict.INCONCLUSIVE,
                     state(intervals=1, total_failures=1, consecutive_failures=1), "m: failed reason",
                     id="failure-outranks-error"),
        pytest.param([check(Verdict.ERROR), check(Verdict.SUCCESSFUL, "b")], state(consecutive_failures=1, total_failures=1),
                     LIMITS, T0, Verdict.ERROR, state(intervals=1, consecutive_failures=1, total_failures=1),
                     "measurement failed: m: error reason", id="error-neither-counts-nor-clears-failures"),
        pytest.param([check(Verdict.ERROR), check(Verdict.INCONCLUSIVE, "b")], state(), LIMITS, T0, Verdict.ERROR,
                     state(intervals=1), "measurement failed", id="error-outranks-hold"),
        pytest.param([check(Verdict.INCONCLUSIVE), check(Verdict.SUCCESSFUL, "b")], state(), LIMITS, T0,
                     Verdict.INCONCLUSIVE, state(intervals=1, hold_started_at=T0), "holding for evidence (0s of 10m00s)",
                     id="hold-starts-the-clock"),
        pytest.param([check(Verdict.INCONCLUSIVE)], state(consecutive_failures=1, hold_started_at=T0), LIMITS,
                     T0 + datetime.timedelta(minutes=4), Verdict.INCONCLUSIVE,
                     state(intervals=1, consecutive_failures=1, hold_started_at=T0), "holding for evidence (4m00s of 10m00s)",
                     id="hold-continues-and-keeps-the-streak"),
        pytest.param([check(Verdict.INCONCLUSIVE)], state(hold_started_at=T0), LIMITS, T0 + datetime.timedelta(minutes=10),
                     Verdict.INCONCLUSIVE, state(intervals=1, hold_started_at=T0), "hold deadline 10m00s passed",
                     id="expired-hold-inconclusive-outcome"),
        pytest.param([check(Verdict.INCONCLUSIVE)], state(hold_started_at=T0),
                     judge.Limits(3, 2, datetime.timedelta(minutes=10), HoldOutcome.FAILED),
                     T0 + datetime.timedelta(minutes=11), Verdict.FAILED, state(intervals=1), "hold deadline 10m00s passed",
                     id="expired-hold-failed-outcome"),
        pytest.param([check(Verdict.INCONCLUSIVE)], state(hold_started_at=T0),
                     judge.Limits(3, 2, datetime.timedelta(minutes=10), HoldOutcome.SUCCESSFUL),
                     T0 + datetime.timedelta(minutes=11), Verdict.SUCCESSFUL, state(intervals=1), "accepted: hold deadline",
                     id="expired-hold-successful-outcome"),
        pytest.param([check(Verdict.SUCCESSFUL)], state(hold_started_at=T0), LIMITS, T0 + datetime.timedelta(minutes=3),
                     Verdict.SUCCESSFUL, state(intervals=1), "all 1 checks passed", id="success-ends-the-hold"),
        pytest.param([check(Verdict.FAILED)], state(hold_started_at=T0), LIMITS, T0, Verdict.INCONCLUSIVE,
                     state(intervals=1, total_failures=1, consecutive_failures=1, hold_started_at=T0), "holding after",
                     id="failure-during-hold-keeps-the-hold-clock"),
        pytest.param([check(Verdict.FAILED)], state(), judge.Limits(1, 5, datetime.timedelta(minutes=1), HoldOutcome.FAILED),
                     T0, Verdict.FAILED, state(intervals=1, total_failures=1, consecutive_failures=1),
                     "total failure limit reached", id="threshold-one-fails-at-once"),
    ],
)
def test_interval_verdict(checks, before, limits, now, verdict, after, reason):
    result, new_state = judge.judge_interval(checks, before, limits, now=now)
    assert result.verdict is verdict, result.reason
    assert reason in result.reason
    assert new_state == after
    assert result.metrics == tuple(checks)


def test_expired_inconclusive_hold_tells_the_controller_to_pause():
    result, _ = judge.judge_interval([check(Verdict.INCONCLUSIVE)], state(hold_started_at=T0), LIMITS,
                                     now=T0 + datetime.timedelta(minutes=12))
    assert result.hold_expired
    fresh, _ = judge.judge_interval([check(Verdict.INCONCLUSIVE)], state(), LIMITS, now=T0)
    assert not fresh.hold_expired


def test_limits_come_from_the_spec():
    spec = model.AnalysisSpec(threshold=4, consecutive_failure_limit=3, hold_deadline="90s", hold_outcome="Failed")
    assert judge.Limits.from_spec(spec) == judge.Limits(4, 3, datetime.timedelta(seconds=90), HoldOutcome.FAILED)


def test_state_survives_the_status_round_trip():
    _, new_state = judge.judge_interval([check(Verdict.INCONCLUSIVE)], state(total_failures=1), LIMITS, now=T0)
    stored = new_state.model_dump(by_alias=True, mode="json")
    assert stored == {"intervals": 1, "totalFailures": 1, "consecutiveFailures": 0, "holdStartedAt": "2026-01-01T00:00:00Z",
                      "evidence": {}, "evidenceUntil": None}
    assert AnalysisState.model_validate(stored) == new_state
    counted = dataclasses.replace(check(Verdict.SUCCESSFUL, "latency"), evidence=-1.25)
    _, new_state = judge.judge_interval([counted], new_state, LIMITS, now=T0)
    stored = new_state.model_dump(by_alias=True, mode="json")
    assert (stored["evidence"], stored["evidenceUntil"]) == ({"latency": -1.25}, "2026-01-01T00:00:00Z")
    assert AnalysisState.model_validate(stored) == new_state


# Sequential count test (built-in templates): 5xx of canary and stable in the new window.
SEQ = ComparisonSpec(max_difference=0.5, confidence=0.99, bad_rate_ratio=5)
BAD = sequential.Counts(9, 150, 3, 2850, "5xx")  # ~6% vs 0.1%: log-likelihood ratio ~ 12
SOME = sequential.Counts(1, 150, 3, 2850, "5xx")  # one error: ~ +0.5
NONE = sequential.Counts(0, 150, 3, 2850, "5xx")


@pytest.mark.parametrize(
    "reading, prior, verdict, reason, decisive",
    [
        pytest.param(judge.Reading(value=94.0, sample_size=150, stable_value=99.9, counts=BAD), None, Verdict.FAILED,
                     "sequential count test: log-likelihood ratio", True, id="counts-cross-the-boundary-and-fail"),
        pytest.param(judge.Reading(value=40.0, sample_size=5, stable_value=99.9, counts=sequential.Counts(3, 5, 1, 2850)),
                     None, Verdict.FAILED, "canary 3/5", True,
                     id="thin-windows-count-too-no-minimum-sample-size"),
        pytest.param(judge.Reading(value=99.3, sample_size=150, stable_value=99.9, counts=SOME), 4.3, Verdict.FAILED,
                     "sequential count test", True, id="evidence-adds-up-across-intervals"),
        pytest.param(judge.Reading(value=99.3, sample_size=150, stable_value=99.9, counts=SOME), None,
                     Verdict.SUCCESSFUL, "beyond difference <= 0.5, not conclusive (sequential evidence", False,
                     id="beyond-the-bound-but-not-conclusive-passes"),
        pytest.param(judge.Reading(value=100.0, sample_size=150, stable_value=99.9, counts=NONE), 2.0,
                     Verdict.SUCCESSFUL, "within difference <= 0.5", False, id="within-the-bound-passes"),
        pytest.param(judge.Reading(value=99.3, sample_size=10, stable_value=99.9, counts=SOME), None,
                     Verdict.INCONCLUSIVE, "insufficient traffic 10/50", False, id="below-the-boundary-thin-still-holds"),
        pytest.param(judge.Reading(problem=errors.ProviderUnavailable("down"), counts=BAD), 3.0, Verdict.ERROR,
                     "measurement failed", False, id="errors-count-nothing"),
    ],
)
def test_sequential_count_rules(reading, prior, verdict, reason, decisive):
    rules = judge.Rules(50, None, SEQ, Direction.DECREASE)
    result = judge.judge_metric("m", reading, rules, prior)
    assert result.verdict is verdict, result.reason
    assert reason in result.reason
    assert result.decisive is decisive
    if reading.problem is not None:
        assert result.evidence == prior  # carried unchanged
    else:
        assert result.evidence == pytest.approx((prior or 0.0) + sequential.log_likelihood_ratio(reading.counts, 5))


def test_without_counts_the_mann_whitney_gate_still_applies():
    reading = judge.Reading(value=150.0, sample_size=400, stable_value=100.0, canary_samples=LOW, stable_samples=HIGH)
    result = judge.judge_metric("m", reading, judge.Rules(50, None, RATIO, Direction.INCREASE), 7.0)
    assert result.verdict is Verdict.INCONCLUSIVE and "not significant" in result.reason
    assert result.evidence == 7.0 and not result.decisive


@pytest.mark.parametrize(
    "before, verdict, after, reason",
    [
        pytest.param(state(), Verdict.FAILED, dict(total_failures=1, consecutive_failures=1),
                     "sequential test conclusive: m:", id="decisive-failure-skips-the-consecutive-limit"),
        pytest.param(state(total_failures=1, consecutive_failures=1), Verdict.FAILED,
                     dict(total_failures=2, consecutive_failures=2), "sequential test conclusive", id="counts-as-a-failure"),
    ],
)
def test_decisive_failures(before, verdict, after, reason):
    decisive = dataclasses.replace(check(Verdict.FAILED), decisive=True, evidence=5.0)
    result, new_state = judge.judge_interval([decisive, check(Verdict.ERROR, "b")], before, LIMITS, now=T0)
    assert result.verdict is verdict and reason in result.reason
    assert new_state == state(intervals=1, evidence={"m": 5.0}, evidence_until=T0, **after)


def test_evidence_survives_errors_and_holds():
    before = state(evidence={"a": 1.0, "b": 2.0}, evidence_until=T0)
    checks = [dataclasses.replace(check(Verdict.ERROR, "a"), evidence=1.0),
              dataclasses.replace(check(Verdict.INCONCLUSIVE, "b"), evidence=2.5)]
    later = T0 + datetime.timedelta(minutes=1)
    _, new_state = judge.judge_interval(checks, before, LIMITS, now=later)
    assert new_state.evidence == {"a": 1.0, "b": 2.5} and new_state.evidence_until == later
    _, untouched = judge.judge_interval([check(Verdict.SUCCESSFUL, "c")], before, LIMITS, now=later)
    assert untouched.evidence == before.evidence and untouched.evidence_until == T0  # nothing counted
    _, pruned = judge.judge_interval(checks[:1], before, LIMITS, now=later)
    assert pruned.evidence == {"a": 1.0}  # "b" left the spec: its sum goes with it


def test_component_tests_are_summed_apart_and_judged_as_their_mixture():
    latency = ComparisonSpec(max_ratio=1.1, confidence=0.99, bad_rate_ratio=2)
    windows = (sequential.Counts(45, 150, 420, 2850, "> 75ms [stable p50]", "p50"),
               sequential.Counts(2, 150, 28, 2850, "> 150ms [stable p99]", "p99"))
    reading = judge.Reading(value=170.0, sample_size=150, stable_value=160.0, canary_pooled=170.0, counts=windows)
    result = judge.judge_metric("lat", reading, judge.Rules(50, None, latency, Direction.INCREASE),
                                {"p50": 1.0, "p99": -0.5})
    parts = dict(result.evidence_parts)
    assert parts == pytest.approx({"p50": 1.0 + sequential.log_likelihood_ratio(windows[0], 2),
                                   "p99": -0.5 + sequential.log_likelihood_ratio(windows[1], 2)})
    assert result.evidence == pytest.approx(sequential.combined(parts))
    _, new_state = judge.judge_interval([result], state(), LIMITS, now=T0)
    assert set(new_state.evidence) == {"lat@p50", "lat@p99"}  # one sum per component in the status
    assert judge.evidence_of(new_state, "lat") == pytest.approx(parts)
    assert judge.evidence_of(new_state, "other") == {}
    stronger = judge.judge_metric("lat", reading, judge.Rules(50, None, latency, Direction.INCREASE),
                                  {"p50": 4.5, "p99": -0.5})
    assert stronger.verdict is Verdict.FAILED and stronger.decisive
    assert "> 75ms [stable p50]: canary 45/150, stable 420/2850" in stronger.reason  # the component that crossed
