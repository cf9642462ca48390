"""The CloudWatch provider: ``GetMetricData`` over the query protocol, signed with SigV4.

The query is the ``MetricDataQueries`` JSON list a Flagger user already writes (metric
stats, metric math, Metrics Insights; intermediate entries with ``"ReturnData": false``).
It is sent as AWS documents the CloudWatch API: a POST of ``Action=GetMetricData`` form
parameters, lists flattened to ``.member.N``, answered in XML. Exactly one returned
result is expected; its most recent value is the value (a ``Period`` equal to the window
makes that one datapoint cover it). Requests are signed by httpx-auth's ``AWS4Auth``
(service ``monitoring``); no signing code lives here. Throttling comes back as HTTP 400
with code ``Throttling`` and is retried like any other transient error.
"""

from __future__ import annotations

import datetime
import json
import xml.etree.ElementTree as ElementTree
from typing import Any

import httpx
import httpx_auth

from analysis import errors
from analysis.prometheus import PrometheusConfig
from analysis.providers import series, transport
from analysis.providers.framed import FramedProvider

_NS = {"cw": "http://monitoring.amazonaws.com/doc/2010-08-01/"}
_TRANSIENT_CODES = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
                    "ServiceUnavailable", "InternalFailure", "InternalServiceError", "RequestTimeout"}
_MAX_PAGES = 10  # NextToken pages followed for one query; one number never needs more


def default_address(region: str) -> str:
    return f"https://monitoring.{region}.amazonaws.com"


class CloudWatchProvider(FramedProvider):
    """Queries CloudWatch in one region with one set of AWS credentials."""

    service = "CloudWatch"

    def __init__(self, config: PrometheusConfig, *, region: str, access_key_id: str, secret_access_key: str,
                 session_token: str | None, window: float):
        signer = httpx_auth.AWS4Auth(access_id=access_key_id, secret_key=secret_access_key, region=region,
                                     service="monitoring", security_token=session_token)
        super().__init__(transport.Client(config, service="CloudWatch", auth=signer), window=window)

    async def _points(self, query: str, frame: series.TimeFrame) -> list[series.Point]:
        form = {"Action": "GetMetricData", "Version": "2010-08-01", "ScanBy": "TimestampAscending"}
        form["StartTime"], form["EndTime"] = frame.iso()
        flatten("MetricDataQueries", metric_data_queries(query), form)
        results: dict[str, dict[str, Any]] = {}
        for _ in range(_MAX_PAGES):
            page, token = await self._http.call("POST", "/", data=form, read=lambda r: self._read(r, query))
            for one in page:
                found = results.setdefault(one["id"], {**one, "points": []})
                found["points"] += one["points"]
            if not token:
                break
            form["NextToken"] = token
        chosen = series.single(list(results.values()),
                               ({"id": one["id"], "label": one["label"]} for one in results.values()), query)
        return chosen["points"]

    def _read(self, response: httpx.Response, query: str) -> tuple[list[dict[str, Any]], str | None]:
        try:
            root = ElementTree.fromstring(response.content)
        except ElementTree.ParseError as error:
            if response.status_code >= 400:
                self._http.check_status(response, response.text[:200], query)
            raise errors.ProviderError(f"CloudWatch: response is not XML: {response.text[:200]!r}") from error
        if response.status_code >= 400:
            code = _text(root, ".//cw:Error/cw:Code") or _text(root, ".//Error/Code")
            message = _text(root, ".//cw:Error/cw:Message") or _text(root, ".//Error/Message")
            if code in _TRANSIENT_CODES:
                raise errors.ProviderUnavailable(f"CloudWatch: HTTP {response.status_code}: {code}: {message}")
            self._http.check_status(response, f"{code}: {message}", query)
        if root.tag != f"{{{_NS['cw']}}}GetMetricDataResponse":
            # Another document (a proxy's page, another API) would otherwise read as "no data".
            raise errors.ProviderError(f"CloudWatch: expected a GetMetricDataResponse, got <{root.tag}>")
        results = []
        for member in root.findall(".//cw:MetricDataResults/cw:member", _NS):
            status = _text(member, "cw:StatusCode")
            if status == "InternalError":
                raise errors.ProviderUnavailable(f"CloudWatch: result {_text(member, 'cw:Id')} failed: InternalError")
            if status == "Forbidden":
                raise errors.QueryRejected(f"CloudWatch: result {_text(member, 'cw:Id')} is Forbidden: {query}")
            stamps = [_unix(node.text or "") for node in member.findall("cw:Timestamps/cw:member", _NS)]
            values = [float(node.text or "nan") for node in member.findall("cw:Values/cw:member", _NS)]
            results.append({"id": _text(member, "cw:Id"), "label": _text(member, "cw:Label"),
                            "points": list(zip(stamps, values))})
        return results, _text(root, ".//cw:GetMetricDataResult/cw:NextToken") or None


def metric_data_queries(query: str) -> list[Any]:
    """The template's MetricDataQueries JSON list; anything else is a rejected query."""
    try:
        parsed = json.loads(query)
    except ValueError as error:
        raise errors.QueryRejected(f"CloudWatch: the query must be a MetricDataQueries JSON list: {error}") from error
    if not isinstance(parsed, list) or not parsed or not all(isinstance(one, dict) for one in parsed):
        raise errors.QueryRejected(
            f"CloudWatch: the query must be a non-empty JSON list of MetricDataQuery objects: {query}")
    return parsed


def flatten(prefix: str, value: Any, form: dict[str, str]) -> None:
    """Query-protocol serialisation: objects become ``.Key``, lists ``.member.N`` (from 1)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            flatten(f"{prefix}.{key}", inner, form)
    elif isinstance(value, list):
        for index, inner in enumerate(value, start=1):
            flatten(f"{prefix}.member.{index}", inner, form)
    elif isinstance(value, bool):
        form[prefix] = "true" if value else "false"
    elif value is not None:
        form[prefix] = str(value)


def _text(node: ElementTree.Element, path: str) -> str:
    found = node.find(path, _NS)
    return (found.text or "").strip() if found is not None else ""


def _unix(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp.strip().replace("Z", "+00:00")).timestamp()
