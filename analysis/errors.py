"""Why a measurement could not be taken, as exception types the judge can reason about.

Exception tree::

    AnalysisError                  base of everything raised by the analysis package
    ├── ProviderError              talking to the metrics provider failed
    │   ├── ProviderUnavailable    connect error, timeout, HTTP 5xx/429     retryable
    │   └── QueryRejected          HTTP 4xx or "bad_data": the query is wrong   permanent
    ├── ResultError                the provider answered, but not with one number   permanent
    │   ├── NoDataError            empty result: no series matched (no traffic yet)
    │   ├── NaNResultError         the single series is NaN (e.g. 0/0: no requests in window)
    │   └── MultipleSeriesError    more than one series: the query is ambiguous
    └── TemplateError              unknown template or variable; the spec is wrong   permanent

The ``retryable`` class attribute says whether retrying the same request soon can help
(kopf's temporary vs permanent errors): only :class:`ProviderUnavailable` is retried, by
tenacity in the provider. Result errors are not retried within an interval; the next
interval queries again anyway. How the judge turns each type into a verdict is documented
in ``docs/analysis.md``: no data and NaN mean "no observations" (a hold while traffic is
below the minimum sample size), everything else is an Error verdict, which never fails a
rollout by itself.
"""

from __future__ import annotations


class AnalysisError(Exception):
    """Base class; ``retryable`` tells callers whether an immediate retry can help."""

    retryable: bool = False


class ProviderError(AnalysisError):
    """The metrics provider could not answer the query."""


class ProviderUnavailable(ProviderError):
    """Transient: connection refused or reset, timeout, HTTP 5xx or 429."""

    retryable = True


class QueryRejected(ProviderError):
    """Permanent: the provider rejected the query (HTTP 4xx, ``errorType`` bad_data)."""


class ResultError(AnalysisError):
    """The provider answered, but the result is not exactly one usable number."""

    def __init__(self, message: str, *, query: str | None = None):
        super().__init__(message)
        self.query = query


class NoDataError(ResultError):
    """The result was empty: no series matched, typically because nothing was requested."""


class NaNResultError(ResultError):
    """The single series' value is NaN, typically 0/0 over a window without requests."""


class MultipleSeriesError(ResultError):
    """More than one series came back; analysis never guesses which one was meant."""

    def __init__(self, message: str, *, query: str | None = None, labels: tuple[dict[str, str], ...] = ()):
        super().__init__(message, query=query)
        self.labels = labels


class TemplateError(AnalysisError):
    """A metric names an unknown template, or its query uses an unknown variable."""
