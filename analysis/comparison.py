"""Canary-versus-stable statistics: a deviation bound plus a Mann-Whitney U test.

A bound alone (Flagger's thresholds) turns sampling noise into rollbacks when traffic is
thin; a test alone flags differences too small to matter once traffic is heavy. Like
Kayenta's judge we require both: the canary must be worse than stable beyond the
configured ratio or difference, the difference must be significant in a one-sided
Mann-Whitney U test over per-step samples (scipy), and its effect size — the
rank-biserial correlation, 2U/(n1·n2) − 1 — must reach a floor. Pure: numbers in, a
frozen result out.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from analysis import model

#: Fewer samples per side than this and the test cannot reach any useful significance.
MIN_TEST_SAMPLES = 3


@dataclasses.dataclass(frozen=True)
class Deviation:
    """How much worse the canary is than stable, in the regression direction."""

    ratio: float  # worse / better; 1.0 means equal, inf when the better side is 0
    difference: float  # worse - better, in the metric's unit; <= 0 means not worse
    exceeds: bool  # beyond every bound that is set


@dataclasses.dataclass(frozen=True)
class MannWhitneyResult:
    """Outcome of the one-sided Mann-Whitney U test on per-step samples."""

    p_value: float | None  # None when the test could not run
    effect_size: float | None  # rank-biserial correlation in the regression direction
    significant: bool  # p below 1 - confidence AND effect size at least the floor
    reason: str


def deviation(canary: float, stable: float, spec: model.ComparisonSpec, direction: model.Direction) -> Deviation:
    """Measure the canary's deviation from stable and check it against the bounds."""
    if direction is model.Direction.INCREASE:
        # Higher is worse (latency): the canary is "worse" by how much it exceeds stable.
        worse, better = canary, stable
    elif direction is model.Direction.DECREASE:
        # Lower is worse (success rate): stable above canary is the regression.
        worse, better = stable, canary
    else:
        # Either way is suspicious: judge the larger of the two deviations.
        worse, better = max(canary, stable), min(canary, stable)
    difference = worse - better
    ratio = _ratio(worse, better)
    # A deviation is tolerated if it is within ANY bound that is set ("10% or 20 ms,
    # whichever is larger"), so tiny absolute differences on fast endpoints never fail.
    checks = []
    if spec.max_ratio is not None:
        checks.append(ratio > spec.max_ratio)
    if spec.max_difference is not None:
        checks.append(difference > spec.max_difference)
    return Deviation(ratio=ratio, difference=difference, exceeds=bool(checks) and all(checks))


def _ratio(worse: float, better: float) -> float:
    if better > 0:
        return worse / better
    if worse <= 0:
        # Both zero (or a degenerate negative metric): no measurable deviation.
        return 1.0
    return math.inf


def mann_whitney(
    canary: Sequence[float], stable: Sequence[float], spec: model.ComparisonSpec, direction: model.Direction
) -> MannWhitneyResult:
    """Test whether canary samples are worse than stable's, one-sided in the regression direction."""
    canary = [x for x in canary if not math.isnan(x)]
    stable = [x for x in stable if not math.isnan(x)]
    if len(canary) < MIN_TEST_SAMPLES or len(stable) < MIN_TEST_SAMPLES:
        # Too few points: even a total separation could not be significant.
        return MannWhitneyResult(None, None, False, f"too few samples for the test ({len(canary)} canary, {len(stable)} stable)")
    alternative = {
        model.Direction.INCREASE: "greater",
        model.Direction.DECREASE: "less",
        model.Direction.EITHER: "two-sided",
    }[direction]
    # scipy costs about a second to import; only comparisons need it, not every importer
    # of the analysis models (the kubectl plugin, the CRD generator).
    from scipy import stats

    result = stats.mannwhitneyu(canary, stable, alternative=alternative, method="auto")
    p_value = float(result.pvalue)
    rank_biserial = 2.0 * float(result.statistic) / (len(canary) * len(stable)) - 1.0
    if direction is model.Direction.INCREASE:
        effect = rank_biserial
    elif direction is model.Direction.DECREASE:
        effect = -rank_biserial
    else:
        effect = abs(rank_biserial)
    if math.isnan(p_value):
        # scipy returns NaN when every value is identical: no evidence of a difference.
        return MannWhitneyResult(None, effect, False, "samples are all identical")
    alpha = 1.0 - spec.confidence
    if p_value >= alpha:
        return MannWhitneyResult(p_value, effect, False, f"not significant (p={p_value:.3g} >= {alpha:.3g})")
    if effect < spec.min_effect_size:
        # Significant but negligible: heavy traffic makes tiny differences significant.
        return MannWhitneyResult(
            p_value, effect, False, f"effect size {effect:.2f} below floor {spec.min_effect_size:.2f} (p={p_value:.3g})"
        )
    return MannWhitneyResult(p_value, effect, True, f"significant (p={p_value:.3g}, effect size {effect:.2f})")
