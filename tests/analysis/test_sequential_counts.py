"""The sequential count test: exact likelihood ratios, a bounded false-positive rate, power, tail bounds."""

import math

import numpy
import pytest
from scipy import stats

from analysis import sequential
from analysis.sequential import Counts


@pytest.mark.parametrize(
    "counts, odds",
    [
        pytest.param(Counts(2, 150, 3, 2850), 3.0, id="thin-canary"),
        pytest.param(Counts(0, 150, 3, 2850), 3.0, id="no-canary-errors"),
        pytest.param(Counts(8, 600, 2, 2400), 5.0, id="canary-heavy"),
        pytest.param(Counts(40, 1500, 20, 1500), 2.0, id="even-split"),
    ],
)
def test_log_likelihood_ratio_is_fishers_noncentral_over_central_hypergeometric(counts, odds):
    total, bad = counts.canary_total + counts.stable_total, counts.canary_bad + counts.stable_bad
    expected = (stats.nchypergeom_fisher(total, counts.canary_total, bad, odds).logpmf(counts.canary_bad)
                - stats.hypergeom(total, counts.canary_total, bad).logpmf(counts.canary_bad))
    assert sequential.log_likelihood_ratio(counts, odds) == pytest.approx(expected, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize(
    "counts",
    [
        pytest.param(Counts(0, 150, 0, 2850), id="nothing-bad"),
        pytest.param(Counts(0, 0, 4, 2850), id="no-canary-traffic"),
        pytest.param(Counts(3, 3, 0, 0), id="no-stable-traffic"),
    ],
)
def test_windows_without_room_for_chance_carry_no_evidence(counts):
    assert sequential.log_likelihood_ratio(counts, 3.0) == 0.0


def test_more_canary_errors_mean_more_evidence():
    values = [sequential.log_likelihood_ratio(Counts(k, 300, 5, 2700), 3.0) for k in range(6)]
    assert values == sorted(values) and values[0] < 0 < values[-1]


def test_alternative_must_be_a_regression():
    with pytest.raises(ValueError):
        sequential.log_likelihood_ratio(Counts(1, 10, 1, 10), 1.0)


def test_boundary_is_log_one_over_alpha():
    assert sequential.boundary(0.99) == pytest.approx(math.log(100))


def rollout(rng, canary_rate, stable_rate, odds, splits=(0.05, 0.1, 0.2, 0.5) * 3, rps=50.0):
    """Sum the evidence over a rollout whose traffic split changes; return its running maximum."""
    evidence, peak = 0.0, -math.inf
    for share in splits:
        n_c, n_s = rng.poisson(rps * 60 * share), rng.poisson(rps * 60 * (1 - share))
        counts = Counts(rng.binomial(n_c, canary_rate), n_c, rng.binomial(n_s, stable_rate), n_s)
        evidence += sequential.log_likelihood_ratio(counts, odds)
        peak = max(peak, evidence)
    return peak


@pytest.mark.parametrize("stable_rate, canary_rate", [(0.001, 0.001), (0.02, 0.02), (0.02, 0.015)])
def test_false_positive_rate_is_bounded_over_the_rollout_however_often_it_is_looked_at(stable_rate, canary_rate):
    rng = numpy.random.default_rng(5)
    alpha = 0.05
    crossed = sum(rollout(rng, canary_rate, stable_rate, 3.0) >= sequential.boundary(1 - alpha) for _ in range(1000))
    assert crossed / 1000 <= alpha  # Ville's inequality; typically well below


def test_a_clear_regression_crosses():
    rng = numpy.random.default_rng(9)
    crossed = sum(rollout(rng, 0.011, 0.001, 5.0, splits=(0.05, 0.1, 0.2)) >= sequential.boundary(0.99)
                  for _ in range(300))
    assert crossed / 300 > 0.9


def test_a_negligible_difference_does_not_cross_even_with_heavy_traffic():
    rng = numpy.random.default_rng(13)
    crossed = sum(rollout(rng, 0.0105, 0.01, 3.0, rps=2000.0) >= sequential.boundary(0.99) for _ in range(100))
    assert crossed == 0


def test_counts_are_rounded_and_bad_never_exceeds_total():
    assert Counts.of(2.6, 149.7, float("nan"), 2850.2, "5xx") == Counts(3, 150, 0, 2850, "5xx")
    assert Counts.of(12.0, 10.4, -1.0, 5.0) == Counts(10, 10, 0, 5)


LAYOUT = [(0.1, 5000.0), (0.15, 5900.0), (0.2, 5990.0), (math.inf, 6000.0)]


@pytest.mark.parametrize(
    "buckets, bound",
    [
        pytest.param(LAYOUT, 0.15, id="lower-edge-of-the-p99-bucket"),
        pytest.param([(0.1, 5940.0), (0.2, 5990.0), (math.inf, 6000.0)], 0.1, id="p99-exactly-on-a-bound"),
        pytest.param([(0.1, 10.0), (math.inf, 1000.0)], 0.1, id="p99-in-the-inf-bucket"),
        pytest.param([(0.1, 1000.0), (0.2, 1000.0), (math.inf, 1000.0)], 0.1, id="p99-in-the-first-bucket"),
        pytest.param([(0.1, 0.0), (math.inf, 0.0)], None, id="no-requests"),
        pytest.param([], None, id="no-histogram"),
        pytest.param([(0.1, 5.0), (0.2, 7.0)], None, id="no-inf-bucket"),
    ],
)
def test_tail_bound(buckets, bound):
    assert sequential.tail_bound(buckets) == bound


def test_above_counts_requests_slower_than_the_bound():
    assert sequential.above(LAYOUT, 0.15) == (100.0, 6000.0)
    assert sequential.above(LAYOUT, 0.3) is None  # not a bound of this layout
    assert sequential.above([], 0.15) == (0.0, 0.0)


@pytest.mark.parametrize(
    "evidence, expected",
    [
        pytest.param({}, 0.0, id="no-tests-no-evidence"),
        pytest.param({"": 3.2}, 3.2, id="one-test-is-itself"),
        pytest.param({"p50": 5.0, "p99": 5.0}, 5.0, id="agreeing-tests"),
        pytest.param({"p50": 6.0, "p99": -50.0}, 6.0 - math.log(2), id="one-test-pays-log-k"),
    ],
)
def test_combined_is_the_log_of_the_mean_likelihood_ratio(evidence, expected):
    assert sequential.combined(evidence) == pytest.approx(expected, abs=1e-9)


def latency_rollout(rng, factor, quantiles=sequential.LATENCY_QUANTILES, splits=(0.05, 0.1, 0.2, 0.5) * 2, rps=50.0):
    """A lognormal latency rollout judged by one count test per stable quantile; the mixture's running maximum."""
    bounds = numpy.exp(numpy.linspace(math.log(0.005), math.log(5.0), 60))
    layout = [*bounds.tolist(), math.inf]

    def histogram(n, scale):
        samples = rng.lognormal(math.log(0.05 * scale), 0.5, n)
        counts = numpy.cumsum(numpy.bincount(numpy.searchsorted(bounds, samples), minlength=len(layout)))
        return list(zip(layout, counts.tolist()))

    history = histogram(int(rps * 600), 1.0)
    parts, peak = {}, -math.inf
    for share in splits:
        canary, stable = histogram(rng.poisson(rps * 60 * share), factor), histogram(rng.poisson(rps * 60 * (1 - share)), 1.0)
        for counts in sequential.slow_counts(history, canary, stable, quantiles):
            parts[counts.test] = parts.get(counts.test, 0.0) + sequential.log_likelihood_ratio(counts, 2.0)
        peak = max(peak, sequential.combined(parts))
        history = stable
    return peak


def test_the_latency_mixture_keeps_the_false_positive_bound():
    rng = numpy.random.default_rng(21)
    alpha = 0.05
    crossed = sum(latency_rollout(rng, 1.0) >= sequential.boundary(1 - alpha) for _ in range(250))
    assert crossed / 250 <= alpha


def test_the_median_test_catches_a_shifted_body_that_the_p99_alone_misses_often():
    rng = numpy.random.default_rng(23)
    first_three = (0.05, 0.1, 0.2)
    with_median = sum(latency_rollout(rng, 1.2, splits=first_three) >= sequential.boundary(0.99) for _ in range(200))
    tail_only = sum(latency_rollout(rng, 1.2, (0.99,), splits=first_three) >= sequential.boundary(0.99)
                    for _ in range(200))
    assert with_median / 200 > 0.95 and tail_only < with_median


def test_slow_counts_need_the_bound_in_both_histograms():
    with pytest.raises(sequential.MissingBucket, match="no bucket le=0.15"):
        sequential.slow_counts(LAYOUT, [(0.1, 5.0), (math.inf, 6.0)], LAYOUT, (0.99,))
    [empty] = sequential.slow_counts([], LAYOUT, LAYOUT, (0.5,))  # no stable history: no evidence
    assert (empty.canary_total, empty.stable_total, empty.test) == (0, 0, "p50")


def test_quantile_labels():
    assert [sequential.quantile_label(q) for q in (0.5, 0.9, 0.99, 0.999)] == ["p50", "p90", "p99", "p99.9"]
