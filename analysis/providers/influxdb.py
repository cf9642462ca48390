"""The InfluxDB provider: Flux through the v2 query API, ``POST /api/v2/query?org=``.

The time frame reaches the query as ``v.timeRangeStart`` and ``v.timeRangeStop`` (the
variables the InfluxDB UI defines), declared in an ``option v`` statement the provider
puts after the query's imports; the request's ``now`` is the frame's end, so relative
ranges such as ``range(start: -5m)`` are anchored at the evaluation time too. The answer
is annotated CSV: exactly one table is expected, its ``_value`` column holds the points
(``_time`` orders them; the most recent is the value). Auth is ``Authorization: Token``.
InfluxQL (the v1 ``/query`` API) is not supported.
"""

from __future__ import annotations

import csv
import datetime
import io
import re

import httpx

from analysis import errors
from analysis.prometheus import PrometheusConfig
from analysis.providers import series, transport
from analysis.providers.framed import FramedProvider

_DIALECT = {"header": True, "delimiter": ",", "annotations": ["datatype", "group", "default"],
            "commentPrefix": "#", "dateTimeFormat": "RFC3339"}
_IMPORT = re.compile(r"^\s*import\s+\"[^\"]*\"\s*$")


class InfluxDBProvider(FramedProvider):
    """Queries one InfluxDB 2.x (or Cloud) organisation with Flux."""

    service = "InfluxDB"

    def __init__(self, config: PrometheusConfig, *, token: str, org: str, window: float):
        super().__init__(transport.Client(config, service="InfluxDB", headers={
            "Authorization": f"Token {token}", "Accept": "application/csv"}), window=window)
        self.org = org

    async def _points(self, query: str, frame: series.TimeFrame) -> list[series.Point]:
        start, stop = frame.iso()
        body = {"query": with_time_range(query, start, stop), "type": "flux", "dialect": _DIALECT, "now": stop}
        return await self._http.call("POST", "/api/v2/query", params={"org": self.org}, json=body,
                                     read=lambda r: self._read(r, query))

    def _read(self, response: httpx.Response, query: str) -> list[series.Point]:
        self._http.check_status(response, transport.error_text(response), query)
        if "csv" not in response.headers.get("content-type", ""):
            # Anything else would parse as an empty table, i.e. "no data", and hold the step.
            raise errors.ProviderError(f"InfluxDB: expected annotated CSV, got {response.headers.get('content-type')}: "
                                       f"{response.text[:200]!r}")
        tables = parse_annotated_csv(response.text, query)
        labels = ({"result": result, "table": table} for result, table in tables)
        rows = tables[series.single(list(tables), labels, query)]
        points = []
        for index, row in enumerate(rows):
            if "_value" not in row:
                raise errors.QueryRejected(f"InfluxDB: the table has no _value column ({', '.join(row)}): {query}")
            stamp = row.get("_time")
            moment = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() if stamp else index
            points.append((moment, _number(row["_value"], query)))
        return points


def with_time_range(flux: str, start: str, stop: str) -> str:
    """The query with ``v.timeRangeStart``/``v.timeRangeStop`` declared after its imports."""
    lines = flux.strip().splitlines()
    split = 0
    while split < len(lines) and (_IMPORT.match(lines[split]) or not lines[split].strip()):
        split += 1
    option = f"option v = {{timeRangeStart: {start}, timeRangeStop: {stop}}}"
    return "\n".join([*lines[:split], option, *lines[split:]])


def parse_annotated_csv(text: str, query: str) -> dict[tuple[str, str], list[dict[str, str]]]:
    """Records of an annotated CSV answer by (result, table); an error table raises QueryRejected."""
    tables: dict[tuple[str, str], list[dict[str, str]]] = {}
    header: list[str] | None = None
    for row in csv.reader(io.StringIO(text)):
        if not row or not any(cell.strip() for cell in row):
            header = None  # a blank line ends a block; the next one has its own annotations and header
            continue
        if row[0].startswith("#"):
            header = None
            continue
        if header is None:
            header = row
            continue
        record = dict(zip(header[1:], row[1:]))
        if "error" in header and "reference" in header:
            # Flux reports a failure that happens mid-stream as a table with error and reference columns.
            raise errors.QueryRejected(f"InfluxDB: {record.get('error')}: {query}")
        tables.setdefault((record.get("result", ""), record.get("table", "")), []).append(record)
    return tables


def _number(text: str, query: str) -> float | None:
    if text == "":
        return None  # a null _value
    try:
        return float(text)
    except ValueError as error:
        raise errors.QueryRejected(f"InfluxDB: _value {text!r} is not a number: {query}") from error
