"""Providers for the MetricTemplates that name their own, as ``evaluate_interval`` asks for them.

Flagger keeps the provider in the MetricTemplate, so one Canary may query several
backends. ``evaluate_interval(..., resolve_provider=pool.resolve)`` asks synchronously
for each such template's provider; the pool answers from Secret keys its caller fetched
first (:meth:`ProviderPool.secret_keys`), builds each distinct spec once per interval and
closes them all in :meth:`ProviderPool.aclose`. ``resolve`` never raises: a provider that
cannot be built (a missing Secret key) answers every query with the reason, so only that
metric gets an Error verdict and the other metrics are still judged.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping

from analysis import errors, model
from analysis.prometheus import Provider
from analysis.providers import factory


class ProviderPool:
    """Builds and owns the providers of one interval's MetricTemplates."""

    def __init__(self, secrets: Mapping[tuple[str, str], str | None], *, window: str = "1m",
                 backoff: float | None = None):
        self._secrets = dict(secrets)
        self._window = window
        self._backoff = backoff
        self._built: dict[str, Provider] = {}

    @staticmethod
    def secret_keys(templates: Iterable[model.MetricTemplate]) -> list[model.SecretKeyRef]:
        """The Secret keys the providers of ``templates`` may read; fetch them before resolving."""
        refs = {}
        for template in templates:
            if template.provider is not None:
                refs.update(((ref.name, ref.key), ref) for ref in factory.secret_keys(template.provider))
        return list(refs.values())

    def resolve(self, spec: model.ProviderSpec) -> Provider:
        key = spec.model_dump_json()
        if key not in self._built:
            try:
                self._built[key] = factory.build(spec, lambda ref: self._secrets.get((ref.name, ref.key)),
                                                 window=self._window, backoff=self._backoff)
            except errors.AnalysisError as error:
                self._built[key] = _Unbuildable(error)
        return self._built[key]

    async def aclose(self) -> None:
        built, self._built = list(self._built.values()), {}
        for provider in built:
            close = getattr(provider, "aclose", None)
            if close is not None:
                await close()


class _Unbuildable:
    """Stands in for a provider that could not be built: every query raises why."""

    def __init__(self, error: errors.AnalysisError):
        self.error = error

    async def query(self, query: str, *, at: datetime.datetime) -> float:
        raise self.error

    async def query_range(self, query: str, *, start: datetime.datetime, end: datetime.datetime,
                          step: float) -> list[float]:
        raise self.error

    async def query_buckets(self, query: str, *, at: datetime.datetime) -> list[tuple[float, float]]:
        raise self.error
