"""Analysis: turn metrics (Prometheus or another provider) into verdicts the controller can act on.

The controller imports only what is exported here. Nothing in this package imports the
controller (``rollouts``), the proxy or the CLI; an import-linter contract enforces it.
See ``docs/analysis.md`` for the verdict rules.
"""

from analysis.errors import (
    AnalysisError,
    MultipleSeriesError,
    NaNResultError,
    NoDataError,
    ProviderError,
    ProviderUnavailable,
    QueryRejected,
    ResultError,
    TemplateError,
)
from analysis.model import (
    AnalysisSpec,
    AnalysisState,
    BuiltinTemplate,
    ComparisonSpec,
    Direction,
    HoldOutcome,
    MetricSpec,
    MetricTemplate,
    ProviderSpec,
    ProviderType,
    SecretKeyRef,
    TemplateRef,
    ThresholdRange,
    TLSConfig,
    WebhookSpec,
    WebhookType,
)
from analysis.prometheus import PrometheusConfig, PrometheusProvider, Provider
from analysis.providers import MissingCredentials, ProviderPool, UnsupportedQuery
from analysis.providers import build as build_provider
from analysis.providers import secret_keys as provider_secret_keys
from analysis.run import Target, evaluate_interval
from analysis.verdicts import IntervalVerdict, MetricVerdict, Verdict
from analysis.webhooks import WebhookOutcome, call_webhook

__all__ = [
    "AnalysisError",
    "AnalysisSpec",
    "AnalysisState",
    "BuiltinTemplate",
    "ComparisonSpec",
    "Direction",
    "HoldOutcome",
    "IntervalVerdict",
    "MetricSpec",
    "MetricTemplate",
    "MetricVerdict",
    "MissingCredentials",
    "MultipleSeriesError",
    "NaNResultError",
    "NoDataError",
    "PrometheusConfig",
    "PrometheusProvider",
    "Provider",
    "ProviderError",
    "ProviderPool",
    "ProviderSpec",
    "ProviderType",
    "ProviderUnavailable",
    "QueryRejected",
    "ResultError",
    "SecretKeyRef",
    "TLSConfig",
    "Target",
    "TemplateError",
    "TemplateRef",
    "UnsupportedQuery",
    "ThresholdRange",
    "Verdict",
    "WebhookOutcome",
    "WebhookSpec",
    "WebhookType",
    "build_provider",
    "call_webhook",
    "evaluate_interval",
    "provider_secret_keys",
]
