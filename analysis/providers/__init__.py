"""Metric providers beyond Prometheus: Datadog, New Relic, CloudWatch, Graphite, InfluxDB.

Each is a thin adapter behind the one :class:`analysis.prometheus.Provider` protocol
(``query``, ``query_range``, ``query_buckets``), so the verdict rules, the sample-size
guard and the comparison run unchanged whatever answers the queries. They share the
Prometheus provider's retry policy (:mod:`.transport`) and one reduction rule
(:mod:`.series`); ``query_buckets``, which reads Prometheus histograms by ``le``, raises
:class:`~analysis.providers.errors.UnsupportedQuery` on all of them. :func:`build` turns
a ProviderSpec and its Secret keys (:func:`secret_keys`) into a provider;
:class:`ProviderPool` does it for MetricTemplates that name their own provider.
See ``docs/metric-providers.md``.
"""

from analysis.providers.errors import MissingCredentials, UnsupportedQuery
from analysis.providers.factory import build, secret_keys
from analysis.providers.pool import ProviderPool

__all__ = ["MissingCredentials", "ProviderPool", "UnsupportedQuery", "build", "secret_keys"]
