"""Errors only the metric providers raise, placed in the tree of :mod:`analysis.errors`.

Exception tree (additions)::

    AnalysisError
    └── ProviderError
        ├── MissingCredentials     a key the provider needs is not in its Secret   permanent
        └── QueryRejected
            └── UnsupportedQuery   this provider cannot answer this kind of query  permanent

Both are permanent (``retryable`` False): the spec or the Secret must change. The judge
reports them like any other provider error, as an Error verdict that never fails a
rollout by itself.
"""

from __future__ import annotations

from analysis import errors


class MissingCredentials(errors.ProviderError):
    """A Secret key the provider needs could not be read."""


class UnsupportedQuery(errors.QueryRejected):
    """The provider has no equivalent of the requested query kind (e.g. Prometheus histogram buckets)."""
