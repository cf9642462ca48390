"""Sequential count test, canary versus stable: many thin windows add up to one decision.

A percentage against a fixed bound on 150 requests has little power, and re-testing it
every interval inflates false positives. Here each interval contributes the COUNTS it
saw — bad requests (5xx, or slower than a latency bound) and all requests, for canary and
stable — to one likelihood ratio that is carried across the intervals and steps of a
rollout (Wald's sequential probability ratio test):

- Conditional on the interval's bad requests of both backends together, B, the canary's
  share x of them follows Fisher's noncentral hypergeometric distribution with the odds
  ratio psi of a bad canary request over a bad stable one. Stable's own rate is a nuisance
  that conditioning removes, so the test is exact for any stable rate and any traffic split
  (the split changes with every step; each interval is conditioned on its own split).
- H0: psi <= 1 (canary no worse), H1: psi = ``odds`` (the regression worth catching). The
  interval's log-likelihood ratio is ``x*log(psi) - log(sum_k w_k psi^k / sum_k w_k)`` with
  ``w_k = C(n_canary, k) * C(n_stable, B - k)``.
- The ratios multiply across intervals. Under H0 their running product is a nonnegative
  supermartingale (the ratio grows with x, so any psi < 1 only makes it smaller in
  expectation), hence by Ville's inequality P(it ever reaches 1/alpha) <= alpha over the
  whole rollout, however often it is looked at. Crossing ``boundary(confidence)`` fails.
- A regression well below ``odds`` drifts the sum down, not up: the test ignores
  differences that are too small to matter however heavy the traffic, which is the job
  of Kayenta's effect-size floor.
- Latency has no single "bad": a slower canary shows as more requests above stable's
  median when the whole distribution shifts, and only above stable's p99 when the tail
  alone grows. One test per bound (``LATENCY_QUANTILES``), each its own running ratio,
  and the metric's evidence is their equal-weight mixture (``combined``): a mean of
  test supermartingales is itself one, so Ville's bound holds for the mixture, and a
  shift of the body is caught by the median's many counts while the tail keeps its own
  test.

Pure: integers in, floats out; no scipy needed.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence


@dataclasses.dataclass(frozen=True)
class Counts:
    """One window's evidence: bad and total requests of each backend."""

    canary_bad: int
    canary_total: int
    stable_bad: int
    stable_total: int
    what: str = "bad"  # what a bad request is, for the decision log: "5xx", "> 150 ms"
    test: str = ""  # which of a metric's component tests these counts feed ("" when it has one)

    @classmethod
    def of(cls, canary_bad: float, canary_total: float, stable_bad: float, stable_total: float,
           what: str = "bad", test: str = "") -> Counts:
        """Round Prometheus' extrapolated ``increase()`` values to counts; bad never exceeds total."""
        ct, st = _count(canary_total), _count(stable_total)
        return cls(min(_count(canary_bad), ct), ct, min(_count(stable_bad), st), st, what, test)

    def describe(self) -> str:
        return f"{self.what}: canary {self.canary_bad}/{self.canary_total}, stable {self.stable_bad}/{self.stable_total}"


def _count(value: float) -> int:
    if value is None or math.isnan(value) or value < 0:
        return 0
    return int(round(value))


LATENCY_QUANTILES = (0.5, 0.9, 0.99)  # stable's quantiles whose bucket bounds define "slow" by default


def quantile_label(quantile: float) -> str:
    """The component test's name for a stable quantile: 0.5 -> "p50", 0.999 -> "p99.9"."""
    return f"p{100 * quantile:.10g}"


def combined(evidence: Mapping[str, float]) -> float:
    """The log of the equal-weight mixture of component tests' likelihood ratios (0.0 for none).

    One component: its own sum. Several: log(mean(exp(sum_i))), which lies between the
    largest sum minus log(k) and the largest sum, so a test crossing on its own needs
    log(k) more evidence than alone, and tests that all lean the same way help each other.
    """
    values = list(evidence.values())
    if not values:
        return 0.0
    return _log_sum_exp(values) - math.log(len(values))


def boundary(confidence: float) -> float:
    """The log-likelihood ratio at which H0 is rejected: log(1 / alpha), alpha = 1 - confidence."""
    return -math.log(1.0 - confidence)


def log_likelihood_ratio(counts: Counts, odds: float) -> float:
    """This window's log-likelihood ratio of H1 (odds ratio ``odds``) over H0 (odds ratio 1)."""
    if odds <= 1.0:
        raise ValueError(f"the alternative odds ratio must exceed 1, got {odds}")
    n_c, n_s = counts.canary_total, counts.stable_total
    bad = counts.canary_bad + counts.stable_bad
    low, high = max(0, bad - n_s), min(n_c, bad)
    if high <= low:
        # Nothing bad, or the split leaves no room for chance: the window carries no evidence.
        return 0.0
    log_odds = math.log(odds)
    log_weights = [_log_choose(n_c, k) + _log_choose(n_s, bad - k) for k in range(low, high + 1)]
    null = _log_sum_exp(log_weights)
    alternative = _log_sum_exp([w + k * log_odds for w, k in zip(log_weights, range(low, high + 1))])
    return counts.canary_bad * log_odds - (alternative - null)


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _log_sum_exp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def tail_bound(buckets: Sequence[tuple[float, float]], quantile: float = 0.99) -> float | None:
    """The histogram bucket bound that marks stable's tail at ``quantile``.

    ``buckets`` are (upper bound ``le``, cumulative count) pairs of a classic histogram,
    ``+Inf`` included. The answer is the lower edge of the bucket holding the quantile
    (the largest bound at or below it), so stable has at least ``1 - quantile`` of its
    requests above it: the most counts a bucket layout offers while staying in that
    tail. When the quantile falls in the first bucket its upper edge is used instead
    (everything is above the lower edge 0). None without requests.
    """
    ordered = sorted((le, count) for le, count in buckets)
    if not ordered or not math.isinf(ordered[-1][0]) or not ordered[-1][1] > 0:
        return None
    bounds = [le for le, _ in ordered]
    cumulative = [count for _, count in ordered]
    rank = quantile * cumulative[-1]
    index = bisect.bisect_left(cumulative, rank)
    if index == 0:
        return bounds[0]
    return bounds[index - 1]


class MissingBucket(ValueError):
    """A histogram lacks the bucket bound ``bound`` that a latency test counts above."""

    def __init__(self, bound: float):
        super().__init__(f"the backends' histograms have no bucket le={bound:g}")
        self.bound = bound


def slow_counts(before: Sequence[tuple[float, float]], canary: Sequence[tuple[float, float]],
                stable: Sequence[tuple[float, float]], quantiles: Sequence[float],
                describe: Callable[[float], str] = str) -> tuple[Counts, ...]:
    """One window's latency evidence: one Counts per stable quantile, in ``quantiles`` order.

    ``before`` is stable's histogram over the lookback as it stood when the window began: each
    quantile's :func:`tail_bound` there says what "slow" means, and ``canary`` and ``stable``
    (the window's histograms) are counted above it. Without stable requests in ``before`` a
    component gets empty counts (no evidence). Every component is present, so a mixture keeps
    its size. Raises :class:`MissingBucket` when a bound is not a bucket of the window's
    histograms: nothing exact can be counted above it.
    """
    counted = []
    for quantile in quantiles:
        test = quantile_label(quantile)
        bound = tail_bound(before, quantile)
        if bound is None:
            counted.append(Counts(0, 0, 0, 0, "no stable requests to set a bound", test))
            continue
        canary_above, stable_above = above(canary, bound), above(stable, bound)
        if canary_above is None or stable_above is None:
            raise MissingBucket(bound)
        what = f"> {describe(bound)} [stable {test}]" if bound != math.inf else "> +Inf"
        counted.append(Counts.of(*canary_above, *stable_above, what=what, test=test))
    return tuple(counted)


def above(buckets: Sequence[tuple[float, float]], bound: float) -> tuple[float, float] | None:
    """(requests slower than ``bound``, all requests) from (le, cumulative count) pairs.

    None when ``bound`` is not one of the ``le`` values (a different bucket layout has
    nothing exact to say about it). An empty histogram is (0, 0).
    """
    if not buckets:
        return 0.0, 0.0
    total = max((count for le, count in buckets if math.isinf(le)), default=None)
    at = next((count for le, count in buckets if le == bound), None)
    if total is None or at is None:
        return None
    return max(total - at, 0.0), total
