"""Run one analysis interval: render every metric's queries, measure, then judge.

This is the seam between the controller and analysis. It resolves templates, renders
the variables for the target, asks the provider for the numbers (concurrently, one
metric's failure never hiding another's result) and hands the readings to the pure
:mod:`analysis.judge`. It catches only analysis errors; anything else is a bug and
propagates.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
from collections.abc import Callable, Mapping

from analysis import durations, errors, judge, model, sequential, templates
from analysis.prometheus import Provider
from analysis.verdicts import IntervalVerdict, MetricVerdict

_NO_OBSERVATIONS = (errors.NoDataError, errors.NaNResultError)


@dataclasses.dataclass(frozen=True)
class Target:
    """What is being analysed: one route's stable and canary backends.

    ``interval`` overrides the default query window (``{{ interval }}``) of metrics that do
    not set their own; None means the analysis interval.
    """

    namespace: str
    route: str
    stable_backend: str
    canary_backend: str
    backend_namespace: str
    interval: str | datetime.timedelta | None = None

    def variables(self, *, backend: str, interval: str) -> dict[str, str]:
        """The template variables for querying ``backend`` over ``interval``."""
        return {
            "namespace": self.namespace,
            "route": self.route,
            "backend": backend,
            "backend_namespace": self.backend_namespace,
            "stable": self.stable_backend,
            "canary": self.canary_backend,
            "interval": interval,
        }


async def evaluate_interval(
    spec: model.AnalysisSpec,
    target: Target,
    state: model.AnalysisState,
    *,
    now: datetime.datetime,
    provider: Provider,
    templates: Mapping[str, model.MetricTemplate] | None = None,
    resolve_provider: Callable[[model.ProviderSpec], Provider] | None = None,
) -> tuple[IntervalVerdict, model.AnalysisState]:
    """Measure and judge every metric once; return the interval verdict and the new state.

    ``templates`` maps ``namespace/name`` to MetricTemplate specs the metrics may reference;
    ``resolve_provider`` gives the provider for a template that names its own.
    """
    window = _window(spec, target)
    evidence = _evidence_window(state, window, now)
    verdicts = await asyncio.gather(
        *(
            _evaluate_metric(spec, metric, target, window, now, provider, templates or {}, resolve_provider,
                             evidence, judge.evidence_of(state, metric.name))
            for metric in spec.metrics
        )
    )
    return judge.judge_interval(verdicts, state, judge.Limits.from_spec(spec), now=now)


def _evidence_window(state: model.AnalysisState, window: str, now: datetime.datetime) -> datetime.timedelta | None:
    """The span whose counts are new to the sequential tests: since the last counted window.

    Counting a request twice would inflate the evidence, so windows never overlap; a
    missed interval is counted late rather than lost. None when nothing new has elapsed.
    """
    if state.evidence_until is None:
        return durations.parse_duration(window)
    since = now - state.evidence_until
    return since if since.total_seconds() >= 0.001 else None


def _window(spec: model.AnalysisSpec, target: Target) -> str:
    if target.interval is None:
        return spec.interval
    if isinstance(target.interval, datetime.timedelta):
        return durations.format_duration(target.interval)
    return durations.validate_duration(target.interval)


async def _evaluate_metric(
    spec: model.AnalysisSpec,
    metric: model.MetricSpec,
    target: Target,
    window: str,
    now: datetime.datetime,
    provider: Provider,
    known: Mapping[str, model.MetricTemplate],
    resolve_provider: Callable[[model.ProviderSpec], Provider] | None,
    evidence_window: datetime.timedelta | None,
    evidence: Mapping[str, float],
) -> MetricVerdict:
    min_samples = spec.min_sample_size if metric.min_sample_size is None else metric.min_sample_size
    try:
        resolved = templates.resolve(metric, namespace=target.namespace, templates=known)
    except errors.TemplateError as error:
        # A dangling templateRef is reported on this metric; the others still run.
        return judge.judge_metric(metric.name, judge.Reading(problem=error), judge.Rules(min_samples), evidence)
    rules = judge.Rules(
        min_sample_size=min_samples,
        threshold=metric.threshold_range,
        comparison=metric.comparison,
        direction=resolved.direction,
    )
    if resolved.provider is not None:
        if resolve_provider is None:
            where = resolved.provider.address or resolved.provider.type.value
            problem = errors.ProviderError(f"no provider available for {where}")
            return judge.judge_metric(metric.name, judge.Reading(problem=problem), rules, evidence)
        provider = resolve_provider(resolved.provider)
    reading = await _measure(metric, resolved, target, metric.interval or window, now, provider)
    if metric.comparison is not None and metric.builtin is not None and evidence_window is not None:
        reading = await _count(resolved, metric.comparison, target, evidence_window, now, provider, reading)
    return judge.judge_metric(metric.name, reading, rules, evidence)


async def _measure(
    metric: model.MetricSpec,
    resolved: templates.ResolvedMetric,
    target: Target,
    window: str,
    now: datetime.datetime,
    provider: Provider,
) -> judge.Reading:
    canary_vars = target.variables(backend=target.canary_backend, interval=window)
    try:
        size_query = templates.render(resolved.sample_size_query, canary_vars)
        value_query = templates.render(resolved.query, canary_vars)
    except errors.TemplateError as error:
        return judge.Reading(problem=error)
    size, value = await asyncio.gather(_scalar(provider, size_query, now), _scalar(provider, value_query, now))
    if isinstance(size, errors.AnalysisError) and not isinstance(size, _NO_OBSERVATIONS):
        # The sample size is part of the measurement: without it we cannot judge.
        return judge.Reading(problem=size)
    reading = judge.Reading(
        value=value if isinstance(value, float) else None,
        sample_size=size if isinstance(size, float) else 0.0,
        problem=value if isinstance(value, errors.AnalysisError) else None,
    )
    if metric.comparison is None:
        return reading
    return await _compare(metric.comparison, resolved, target, window, now, provider, reading,
                          counted=metric.builtin is not None)


async def _compare(
    spec: model.ComparisonSpec,
    resolved: templates.ResolvedMetric,
    target: Target,
    window: str,
    now: datetime.datetime,
    provider: Provider,
    reading: judge.Reading,
    *,
    counted: bool,
) -> judge.Reading:
    # The bound compares both backends over the whole lookback: for a canary at a small
    # weight one interval holds few requests, the lookback all of its recent traffic.
    pooled_canary = target.variables(backend=target.canary_backend, interval=spec.lookback)
    pooled_stable = target.variables(backend=target.stable_backend, interval=spec.lookback)
    # Per-step samples: each point covers its own step, so consecutive points do not overlap.
    step_canary = target.variables(backend=target.canary_backend, interval=spec.step)
    step_stable = target.variables(backend=target.stable_backend, interval=spec.step)
    start = now - durations.parse_duration(spec.lookback)
    step = durations.seconds(spec.step)
    # Built-in templates are tested on counts (see _count); only other queries need the
    # per-step samples of the Mann-Whitney test.
    canary, stable, canary_samples, stable_samples = await asyncio.gather(
        _scalar(provider, templates.render(resolved.query, pooled_canary), now),
        _scalar(provider, templates.render(resolved.query, pooled_stable), now),
        _none() if counted else _series(provider, templates.render(resolved.query, step_canary), start, now, step),
        _none() if counted else _series(provider, templates.render(resolved.query, step_stable), start, now, step),
    )
    problem = next(
        (x for x in (canary, stable, canary_samples, stable_samples) if isinstance(x, errors.AnalysisError)
         and not isinstance(x, _NO_OBSERVATIONS)),
        None,
    )
    return dataclasses.replace(
        reading,
        canary_pooled=canary if isinstance(canary, float) else None,
        stable_value=stable if isinstance(stable, float) else None,
        comparison_problem=problem,
        canary_samples=tuple(canary_samples) if isinstance(canary_samples, list) else (),
        stable_samples=tuple(stable_samples) if isinstance(stable_samples, list) else (),
    )


async def _count(
    resolved: templates.ResolvedMetric,
    spec: model.ComparisonSpec,
    target: Target,
    span: datetime.timedelta,
    now: datetime.datetime,
    provider: Provider,
    reading: judge.Reading,
) -> judge.Reading:
    """Add the evidence window's bad and total requests of both backends to the reading."""
    window = durations.format_duration(span)
    canary = target.variables(backend=target.canary_backend, interval=window)
    stable = target.variables(backend=target.stable_backend, interval=window)
    counted = resolved.counted
    if counted is not None:  # a success rate: bad and total requests (5xx, or gRPC server failures)
        found = await asyncio.gather(
            _scalar(provider, templates.render(counted.bad_query, canary), now),
            _scalar(provider, templates.render(counted.total_query, canary), now),
            _scalar(provider, templates.render(counted.bad_query, stable), now),
            _scalar(provider, templates.render(counted.total_query, stable), now),
        )
        problem = _problem(found)
        if problem is not None:
            return dataclasses.replace(reading, comparison_problem=reading.comparison_problem or problem)
        numbers = [x if isinstance(x, float) else 0.0 for x in found]  # no series: none counted
        return dataclasses.replace(reading, counts=sequential.Counts.of(*numbers, what=counted.what))
    # Latency: requests above each of stable's quantile bucket bounds, the bounds taken from
    # stable's lookback as it stood when the window began, so the window's own counts
    # cannot move them. Every component gets its Counts, so the mixture keeps its size.
    history = target.variables(backend=target.stable_backend, interval=spec.lookback)
    found = await asyncio.gather(
        _buckets(provider, templates.render(templates.BUCKET_COUNTS_QUERY, history), now - span),
        _buckets(provider, templates.render(templates.BUCKET_COUNTS_QUERY, canary), now),
        _buckets(provider, templates.render(templates.BUCKET_COUNTS_QUERY, stable), now),
    )
    problem = _problem(found)
    if problem is not None:
        return dataclasses.replace(reading, comparison_problem=reading.comparison_problem or problem)
    before, canary_buckets, stable_buckets = (x if isinstance(x, list) else [] for x in found)
    try:
        counted = sequential.slow_counts(before, canary_buckets, stable_buckets, spec.latency_quantiles,
                                         durations.format_duration)
    except sequential.MissingBucket as missing:
        problem = errors.QueryRejected(str(missing))
        return dataclasses.replace(reading, comparison_problem=reading.comparison_problem or problem)
    return dataclasses.replace(reading, counts=counted)


def _problem(found) -> errors.AnalysisError | None:
    return next((x for x in found if isinstance(x, errors.AnalysisError) and not isinstance(x, _NO_OBSERVATIONS)), None)


async def _none() -> list[float]:
    return []


async def _buckets(provider: Provider, promql: str, at: datetime.datetime) -> list[tuple[float, float]] | errors.AnalysisError:
    fetch = getattr(provider, "query_buckets", None)
    if fetch is None:
        # A provider written before histograms were read (query/query_range only).
        return errors.ProviderError(f"{type(provider).__name__} cannot return histogram buckets")
    try:
        return await fetch(promql, at=at)
    except errors.AnalysisError as error:
        return error


async def _scalar(provider: Provider, promql: str, now: datetime.datetime) -> float | errors.AnalysisError:
    try:
        return float(await provider.query(promql, at=now))
    except errors.AnalysisError as error:
        return error


async def _series(
    provider: Provider, promql: str, start: datetime.datetime, end: datetime.datetime, step: float
) -> list[float] | errors.AnalysisError:
    try:
        return [float(x) for x in await provider.query_range(promql, start=start, end=end, step=step)]
    except errors.AnalysisError as error:
        return error
