"""PromQL shared by the dashboards, where getting it right takes more than one line.

Labelled counters from prometheus_client are created on their first increment, already
at 1, and a controller restart starts them afresh under a new ``instance``. ``increase()``
only sees growth between samples, so a child that counted one event and no more (a
Canary's first promotion, its first rollback) shows no increase at all. :func:`increase`
counts those too.
"""

from __future__ import annotations


def increase(series: str, by: str, window: str = "$__range") -> str:
    """``sum by (by)`` of how much the counter ``series`` grew in ``window``, first events included.

    Children that existed one window ago contribute ``increase()``; children born within
    the window contribute everything they counted, ``max_over_time`` (a counter only grows).
    """
    return (f"sum by ({by}) ((increase({series}[{window}]) and {series} offset {window})"
            f" or (max_over_time({series}[{window}]) unless {series} offset {window}))")


def events(series: str, by: str) -> str:
    """Non-empty where the counter ``series`` rose in the last interval: annotation markers."""
    return f"({increase(series, by, '$__rate_interval')}) > 0"


def quantile_over_range(buckets: str, quantile: str) -> str:
    """The quantile of a histogram's observations within the dashboard's range."""
    return f"histogram_quantile({quantile}, {increase(buckets, 'le')})"
