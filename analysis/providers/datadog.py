"""The Datadog provider: the metrics query API, ``GET /api/v1/query?from=&to=&query=``.

Datadog answers with point series (``series[].pointlist`` of ``[milliseconds, value]``)
over the requested time frame. The value of a query is the most recent point that has
one (:mod:`analysis.providers.series`); ``cumsum(...)`` in the query makes that point sum
the whole frame, which is what a request count or an error ratio over the window needs.
Auth is the ``DD-API-KEY`` and ``DD-APPLICATION-KEY`` headers.
"""

from __future__ import annotations

import re

import httpx

from analysis import errors
from analysis.prometheus import PrometheusConfig
from analysis.providers import series, transport
from analysis.providers.framed import FramedProvider

DEFAULT_ADDRESS = "https://api.datadoghq.com"


class DatadogProvider(FramedProvider):
    """Queries one Datadog site; use as an async context manager or call :meth:`aclose`."""

    service = "Datadog"

    def __init__(self, config: PrometheusConfig, *, api_key: str, application_key: str, window: float):
        super().__init__(transport.Client(config, service="Datadog", headers={
            "DD-API-KEY": api_key, "DD-APPLICATION-KEY": application_key}), window=window)

    async def _points(self, query: str, frame: series.TimeFrame) -> list[series.Point]:
        start, end = frame.seconds
        # Templates are written over several lines; Datadog reads one.
        params = {"from": str(start), "to": str(end), "query": re.sub(r"\s+", " ", query).strip()}
        return await self._http.call("GET", "/api/v1/query", params=params, read=lambda r: self._read(r, query))

    def _read(self, response: httpx.Response, query: str) -> list[series.Point]:
        self._http.check_status(response, transport.error_text(response), query)
        body = transport.json_body(response, "Datadog")
        if not isinstance(body, dict):
            raise errors.ProviderError(f"Datadog: expected a JSON object, got {type(body).__name__}: {query}")
        if body.get("status") == "error" or body.get("error"):
            # An unparseable query can come back as 200 with status "error".
            raise errors.QueryRejected(f"Datadog: {body.get('error') or 'query failed'}: {query}")
        found = body.get("series") or []
        labels = ({"scope": str(one.get("scope", "")), "metric": str(one.get("metric", ""))} for one in found)
        chosen = series.single(found, labels, query)
        return [(float(stamp) / 1000.0, value) for stamp, value in chosen.get("pointlist") or []]
