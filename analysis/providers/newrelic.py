"""The New Relic provider: NRQL through NerdGraph, New Relic's GraphQL API.

A query is NRQL without a time clause: the provider appends ``SINCE <ms> UNTIL <ms>``
for the time frame (as Flagger appends ``SINCE n SECONDS ago``), and for a range query
``TIMESERIES <step> seconds``. The request is ``actor { account(id) { nrql(query)
{ results } } }`` with the ``API-Key`` header. One result row with one number is the
value (a nested number such as ``percentile(duration, 99)`` counts); a FACET's several
rows are ambiguous. GraphQL errors come back with HTTP 200 and are classified by their
``extensions.errorClass``. The older Insights query API is not supported: New Relic
points to NerdGraph for querying.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from analysis import errors
from analysis.prometheus import PrometheusConfig
from analysis.providers import series, transport
from analysis.providers.framed import FramedProvider

DEFAULT_ADDRESS = "https://api.newrelic.com/graphql"

_NRQL = "query($account: Int!, $nrql: Nrql!) { actor { account(id: $account) { nrql(query: $nrql) { results } } } }"
_TIME_CLAUSE = re.compile(r"\b(SINCE|UNTIL|TIMESERIES)\b", re.IGNORECASE)
_NOT_VALUES = {"beginTimeSeconds", "endTimeSeconds", "timestamp", "facet"}  # row metadata, not the result
# NerdGraph error classes that mean "try again soon" rather than "fix the query".
_TRANSIENT = {"TIMEOUT", "SERVER_ERROR", "INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "TOO_MANY_REQUESTS"}


class NewRelicProvider(FramedProvider):
    """Queries one New Relic account through NerdGraph."""

    service = "New Relic"

    def __init__(self, config: PrometheusConfig, *, api_key: str, account_id: int, window: float):
        super().__init__(transport.Client(config, service="New Relic", headers={"API-Key": api_key}), window=window)
        self.account_id = account_id

    async def query(self, query: str, *, at: datetime.datetime) -> float:
        start, end = series.TimeFrame.ending(at, self.window).milliseconds
        rows = await self._results(query, f"SINCE {start} UNTIL {end}")
        row = series.single(rows, (_facet(one) for one in rows), query)
        value = _number(row, query)
        if value is None:
            raise errors.NoDataError(f"the result is null (no matching events): {query}", query=query)
        if math.isnan(value):
            raise errors.NaNResultError(f"result is NaN: {query}", query=query)
        return value

    async def query_range(
        self, query: str, *, start: datetime.datetime, end: datetime.datetime, step: float
    ) -> list[float]:
        begin, until = series.TimeFrame.between(start, end).milliseconds
        rows = await self._results(query, f"SINCE {begin} UNTIL {until} TIMESERIES {max(1, round(step))} seconds")
        faceted = [one for one in rows if "facet" in one]
        if faceted:
            series.single(faceted, (_facet(one) for one in faceted), query)
        return series.values((float(one.get("beginTimeSeconds", index)), _number(one, query))
                             for index, one in enumerate(rows))

    async def _results(self, query: str, clause: str) -> list[Mapping[str, Any]]:
        text = re.sub(r"\s+", " ", query).strip()
        if _TIME_CLAUSE.search(text):
            # The provider owns the time frame; a second SINCE would be a syntax error at New Relic.
            raise errors.QueryRejected(f"New Relic: leave out SINCE, UNTIL and TIMESERIES, the provider adds the "
                                       f"time frame: {query}")
        payload = {"query": _NRQL, "variables": {"account": self.account_id, "nrql": f"{text} {clause}"}}
        # The endpoint is the address itself; a base URL joined with "" would gain a trailing slash.
        return await self._http.call("POST", self._http.config.address, json=payload,
                                     read=lambda r: self._read(r, query))

    def _read(self, response: httpx.Response, query: str) -> list[Mapping[str, Any]]:
        self._http.check_status(response, transport.error_text(response), query)
        body = transport.json_body(response, "New Relic")
        if not isinstance(body, dict):
            raise errors.ProviderError(f"New Relic: expected a JSON object, got {type(body).__name__}: {query}")
        problems = body.get("errors") or []
        if problems:
            first = problems[0] if isinstance(problems[0], Mapping) else {"message": str(problems[0])}
            kind = str((first.get("extensions") or {}).get("errorClass", ""))
            message = "; ".join(str(p.get("message", p)) if isinstance(p, Mapping) else str(p) for p in problems)
            if kind.upper() in _TRANSIENT:
                raise errors.ProviderUnavailable(f"New Relic: {kind}: {message}")
            raise errors.QueryRejected(f"New Relic: {kind + ': ' if kind else ''}{message}: {query}")
        account = (((body.get("data") or {}).get("actor") or {}).get("account")) or {}
        nrql = account.get("nrql")
        if nrql is None:
            raise errors.QueryRejected(f"New Relic: no NRQL result for account {self.account_id}: {query}")
        return list(nrql.get("results") or [])


def _number(row: Mapping[str, Any], query: str) -> float | None:
    """The row's one result value (None when it is null); more than one value is ambiguous."""
    found = [(name, value) for name, value in _leaves(row) if name.split(".")[0] not in _NOT_VALUES
             and (value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)))]
    numbers = [(name, value) for name, value in found if value is not None]
    if len(numbers) > 1:
        names = ", ".join(name for name, _ in numbers)
        raise errors.QueryRejected(f"New Relic: the result has several values ({names}); select one: {query}")
    if numbers:
        return float(numbers[0][1])
    if found:
        return None
    raise errors.QueryRejected(f"New Relic: the result has no number ({dict(row)}): {query}")


def _leaves(row: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, value in row.items():
        if isinstance(value, Mapping):
            # e.g. percentile(duration, 99) -> {"percentile.duration": {"99": 0.42}}
            yield from _leaves(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def _facet(row: Mapping[str, Any]) -> dict[str, str]:
    facet = row.get("facet")
    return {"facet": ",".join(map(str, facet)) if isinstance(facet, list) else str(facet)}
