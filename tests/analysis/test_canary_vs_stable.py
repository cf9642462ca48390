"""The comparison statistics: deviation bounds in each direction, and the Mann-Whitney gate."""

import math

import numpy
import pytest

from analysis import comparison
from analysis.model import ComparisonSpec, Direction


@pytest.mark.parametrize(
    "canary, stable, spec, direction, ratio, difference, exceeds",
    [
        pytest.param(120, 100, ComparisonSpec(max_ratio=1.1), Direction.INCREASE, 1.2, 20, True, id="latency-up"),
        pytest.param(80, 100, ComparisonSpec(max_ratio=1.1), Direction.INCREASE, 0.8, -20, False, id="latency-down-is-fine"),
        pytest.param(98, 99.9, ComparisonSpec(max_difference=0.5), Direction.DECREASE, 99.9 / 98, 1.9, True,
                     id="success-rate-down"),
        pytest.param(80, 100, ComparisonSpec(max_ratio=1.1), Direction.EITHER, 1.25, 20, True, id="either-catches-down"),
        pytest.param(5, 0, ComparisonSpec(max_ratio=1.1), Direction.INCREASE, math.inf, 5, True, id="stable-zero"),
        pytest.param(0, 0, ComparisonSpec(max_ratio=1.1), Direction.INCREASE, 1.0, 0, False, id="both-zero"),
        pytest.param(12, 10, ComparisonSpec(max_ratio=1.1, max_difference=5), Direction.INCREASE, 1.2, 2, False,
                     id="within-difference-tolerated"),
        pytest.param(30, 10, ComparisonSpec(max_ratio=1.1, max_difference=5), Direction.INCREASE, 3.0, 20, True,
                     id="beyond-both-bounds"),
    ],
)
def test_deviation(canary, stable, spec, direction, ratio, difference, exceeds):
    result = comparison.deviation(canary, stable, spec, direction)
    assert result.ratio == pytest.approx(ratio)
    assert result.difference == pytest.approx(difference)
    assert result.exceeds is exceeds


def test_a_real_shift_is_significant_with_a_large_effect():
    rng = numpy.random.default_rng(7)
    stable = rng.lognormal(5.0, 0.2, 20)
    canary = rng.lognormal(5.0 + math.log(1.3), 0.2, 20)
    result = comparison.mann_whitney(canary, stable, ComparisonSpec(max_ratio=1.1), Direction.INCREASE)
    assert result.significant and result.p_value < 0.05 and result.effect_size > 0.5


def test_the_same_distribution_is_rarely_significant():
    rng = numpy.random.default_rng(11)
    spec = ComparisonSpec(max_ratio=1.1, confidence=0.95, min_effect_size=0.0)
    hits = sum(
        comparison.mann_whitney(rng.lognormal(5, 0.3, 20), rng.lognormal(5, 0.3, 20), spec, Direction.INCREASE).significant
        for _ in range(400)
    )
    assert hits / 400 < 0.08  # nominal false-positive rate is 5%


def test_effect_size_floor_ignores_tiny_but_significant_differences():
    rng = numpy.random.default_rng(3)
    stable = rng.normal(100, 1, 400)
    canary = rng.normal(100.3, 1, 400)
    spec = ComparisonSpec(max_ratio=1.001, confidence=0.95, min_effect_size=0.3)
    result = comparison.mann_whitney(canary, stable, spec, Direction.INCREASE)
    assert result.p_value < 0.05 and not result.significant
    assert "below floor" in result.reason


def test_nan_samples_are_dropped_before_the_test():
    result = comparison.mann_whitney([math.nan] * 5 + [1.0, 2.0], [1.0, 2.0, 3.0], ComparisonSpec(max_ratio=1.1),
                                     Direction.INCREASE)
    assert result.p_value is None and "too few samples for the test (2 canary, 3 stable)" in result.reason


def test_direction_decrease_tests_the_lower_tail():
    spec = ComparisonSpec(max_difference=0.1)
    low, high = [float(x) for x in range(10)], [float(x) for x in range(20, 30)]
    assert comparison.mann_whitney(low, high, spec, Direction.DECREASE).significant
    assert not comparison.mann_whitney(high, low, spec, Direction.DECREASE).significant
