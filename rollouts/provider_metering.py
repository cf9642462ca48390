"""Count and time every query the analysis sends to a metrics provider.

Why: the controller is the metrics provider's biggest client during rollouts (every
Canary in flight queries it each interval), so an operator needs to see that load next
to the controller's own numbers: ``routeshift_analysis_queries_total{provider,result}`` and
``routeshift_analysis_query_duration_seconds{provider}``. A thin wrapper around whatever
provider the analysis got, so that no provider adapter has to know about the controller's
metrics.
"""

from __future__ import annotations

import time
from typing import Any

import analysis

_QUERIES = ("query", "query_range", "query_buckets")


class MeteredProvider:
    """Delegates to ``provider``; records each call of a query method with its outcome."""

    def __init__(self, provider: Any, metrics: Any, *, kind: str):
        self._provider = provider
        self._metrics = metrics
        self._kind = kind

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._provider, name)
        if name not in _QUERIES:
            return target

        async def metered(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            result = "error"
            try:
                value = await target(*args, **kwargs)
                result = "ok"
                return value
            except analysis.NoDataError:
                result = "no_data"
                raise
            finally:
                self._metrics.record_query(self._kind, result, time.perf_counter() - started)

        return metered
