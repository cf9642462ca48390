"""The Graphite provider: the render API, ``GET /render?target=&format=json&from=&until=``.

Graphite answers with one entry per target, each ``datapoints`` of ``[value, seconds]``
with null for "nothing written". The value of a query is the most recent non-null point;
``integral()`` or ``summarize(..., "<window>", "sum", true)`` in the target makes that
point cover the whole window. A query is a target expression; Flagger's form, a query
string starting with ``target=`` (possibly with its own ``from``/``until``), is read too.
Basic or bearer auth comes from the spec as for Prometheus.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

import httpx

from analysis import errors
from analysis.prometheus import PrometheusConfig
from analysis.providers import series, transport
from analysis.providers.framed import FramedProvider


class GraphiteProvider(FramedProvider):
    """Queries one Graphite (graphite-web or a compatible render API)."""

    service = "Graphite"

    def __init__(self, config: PrometheusConfig, *, window: float):
        super().__init__(transport.Client(config, service="Graphite"), window=window)

    async def _points(self, query: str, frame: series.TimeFrame) -> list[series.Point]:
        start, end = frame.seconds
        params = [("from", str(start)), ("until", str(end))]
        text = re.sub(r"\s+", " ", query).strip()  # templates are written over several lines
        if text.startswith("target="):
            given = parse_qsl(text, keep_blank_values=True)
            # Flagger's query-string form: its own from/until win over the window.
            params = [p for p in params if p[0] not in {k for k, _ in given}] + given
        else:
            params.append(("target", text))
        params = [p for p in params if p[0] != "format"] + [("format", "json")]
        return await self._http.call("GET", "/render", params=params, read=lambda r: self._read(r, query))

    def _read(self, response: httpx.Response, query: str) -> list[series.Point]:
        self._http.check_status(response, transport.error_text(response), query)
        body = transport.json_body(response, "Graphite")
        if not isinstance(body, list):
            raise errors.ProviderError(f"Graphite: expected a list of targets, got {type(body).__name__}: {query}")
        labels = ({"target": str(one.get("target", "")), **(one.get("tags") or {})} for one in body)
        chosen = series.single(body, labels, query)
        return [(float(stamp), value) for value, stamp in chosen.get("datapoints") or []]
