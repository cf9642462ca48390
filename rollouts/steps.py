"""A rollout as a plan of steps: the tagged union the state machine completes one ``match`` at a time.

Every strategy (progressive, blue-green, A/B, mirroring) compiles into the same small
vocabulary, so the state machine has one loop (settle the traffic, dwell, judge, advance)
instead of one code path per strategy, as in Argo Rollouts' ``rollout/canary.go``. The
plan is derived from the spec and never stored: status keeps only the index of the current
step. Each parsed strategy's plan is compiled once, while that strategy object lives (a parsed
spec is never edited in place; copies of it share the strategy): deciding asks for it several
times per reconciliation.
"""

from __future__ import annotations

import dataclasses
import weakref

from analysis import durations
from rollouts import model


@dataclasses.dataclass(frozen=True)
class Traffic:
    """What the route should look like: the weights plus the controller's own rules/filters."""

    canary: int  # percent to the canary backend; the stable one gets the rest
    match: model.RequestMatch | None = None  # requests sent 100% to the canary (A/B, preview)
    mirror: bool = False  # mirror live traffic of the stable rules to the canary
    sticky: bool = False  # the shifted rules keep each user on one version (spec.stickySessions)

    @property
    def stable(self) -> int:
        return 100 - self.canary


def label(traffic: Traffic) -> str:
    """How a traffic shape reads in the decision log."""
    extra = " plus a canary match rule" if traffic.match is not None else ""
    extra += " plus mirroring to canary" if traffic.mirror else ""
    extra += " with sticky sessions" if traffic.sticky else ""
    return f"canary {traffic.canary}%{extra}"


STABLE_ONLY = Traffic(canary=0)
CANARY_ONLY = Traffic(canary=100)


@dataclasses.dataclass(frozen=True)
class WeightStep:
    """Send ``weight`` percent to the canary, then dwell one interval and judge it."""

    weight: int


@dataclasses.dataclass(frozen=True)
class PauseStep:
    """Hold the previous step's traffic; ``seconds`` None means until a manual resume."""

    seconds: float | None
    weight: int


@dataclasses.dataclass(frozen=True)
class MirrorStep:
    """Mirror live traffic to the canary for ``iterations`` successful intervals."""

    iterations: int


@dataclasses.dataclass(frozen=True)
class MatchStep:
    """Route matching requests to the canary (A/B or blue-green preview) for ``iterations``."""

    match: model.RequestMatch
    iterations: int


@dataclasses.dataclass(frozen=True)
class PromoteStep:
    """All traffic to the canary in one write; completes once the route accepts it."""


Step = WeightStep | PauseStep | MirrorStep | MatchStep | PromoteStep


# id(strategy) -> (a weak reference to it, its plan); an entry goes when its strategy does.
_plans: dict[int, tuple[weakref.ref, tuple[Step, ...]]] = {}


def plan(spec: model.CanarySpec) -> tuple[Step, ...]:
    """Compile the spec's strategy into steps; the last one is always the promotion."""
    strategy = spec.strategy
    key = id(strategy)
    known = _plans.get(key)
    if known is not None and known[0]() is strategy:
        return known[1]
    compiled = _compile(strategy)
    _plans[key] = (weakref.ref(strategy, lambda _, key=key: _plans.pop(key, None)), compiled)
    return compiled


def _compile(strategy: model.Strategy) -> tuple[Step, ...]:
    if strategy.blue_green is not None:
        return (MatchStep(strategy.blue_green.preview, strategy.blue_green.iterations), PromoteStep())
    if strategy.ab_testing is not None:
        return (MatchStep(strategy.ab_testing.match, strategy.ab_testing.iterations), PromoteStep())
    progressive = strategy.progressive or model.ProgressiveStrategy()
    steps: list[Step] = []
    if progressive.mirror is not None:
        steps.append(MirrorStep(progressive.mirror.iterations))
    pauses = {pause.at_weight: pause for pause in progressive.pauses}
    for weight in progressive.weights():
        if weight == 100:
            # Analysis at 100% has no stable traffic left to compare with: the last
            # step is the promotion itself, checked only for route acceptance.
            steps.append(PromoteStep())
            break
        steps.append(WeightStep(weight))
        if weight in pauses:
            pause = pauses[weight]
            seconds = durations.seconds(pause.duration) if pause.duration else None
            steps.append(PauseStep(seconds, weight))
    return tuple(steps)


def traffic(step: Step) -> Traffic:
    """The route shape a step needs."""
    match step:
        case WeightStep(weight=weight) | PauseStep(weight=weight):
            return Traffic(canary=weight)
        case MirrorStep():
            return Traffic(canary=0, mirror=True)
        case MatchStep(match=match):
            return Traffic(canary=0, match=match)
        case PromoteStep():
            return CANARY_ONLY
    raise TypeError(f"unknown step {step!r}")


def describe(step: Step) -> str:
    """A short human label for events and the decision log."""
    match step:
        case WeightStep(weight=weight):
            return f"weight {weight}%"
        case PauseStep(seconds=None, weight=weight):
            return f"manual pause at {weight}%"
        case PauseStep(seconds=seconds, weight=weight):
            return f"pause {durations.format_duration(seconds)} at {weight}%"
        case MirrorStep(iterations=n):
            return f"mirror for {n} interval(s)"
        case MatchStep(iterations=n):
            return f"match routing for {n} interval(s)"
        case PromoteStep():
            return "promotion to 100%"
    raise TypeError(f"unknown step {step!r}")


def required_intervals(step: Step) -> int:
    """Successful analysis intervals a step needs; 0 when it is not analysed."""
    match step:
        case WeightStep():
            return 1
        case MirrorStep(iterations=n) | MatchStep(iterations=n):
            return n
        case PauseStep() | PromoteStep():
            return 0
    raise TypeError(f"unknown step {step!r}")


def first_step_at_or_above(plan_: tuple[Step, ...], weight: int) -> int:
    """Index of the first weight step (or the promotion) whose weight is >= ``weight``.

    Used to resume after a manual set-weight or a restart without lowering the canary's share.
    """
    for index, step in enumerate(plan_):
        match step:
            case WeightStep(weight=w) if w >= weight:
                return index
            case PromoteStep():
                return index
    return len(plan_) - 1
