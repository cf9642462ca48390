"""Answers in each API's documented response shapes, one table row per provider.

Every provider test module uses these, so a shape is written once: a single series of
points, two series, no data, and the documented error answers (auth failure, rejected
query, rate limit). Timestamps are unix seconds around ``NOW``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

from scripted_backend import Answer

NOW = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.timezone.utc)
T = NOW.timestamp()
Points = list[tuple[float, float | None]]


@dataclasses.dataclass(frozen=True)
class Shapes:
    name: str
    spec: Callable[[str], dict[str, Any]]  # backend URL -> ProviderSpec body
    secrets: dict[tuple[str, str], str]
    value_query: str  # uses web_errors_percent and {{ canary }}
    sample_query: str  # uses web_requests_total and {{ canary }}
    series: Callable[[Points], Answer]
    range_series: Callable[[Points], Answer]
    two_series: Answer
    no_data: Answer
    auth_failure: Answer
    bad_query: Answer
    rate_limited: Answer
    unavailable: Answer


# Datadog: GET /api/v1/query -> {"status": "ok", "series": [{"pointlist": [[ms, value], ...]}]}
def _datadog_series(points: Points, scopes=("service:web-canary",)) -> Answer:
    return Answer.json({
        "status": "ok", "res_type": "time_series", "resp_version": 1, "query": "q", "message": "", "group_by": [],
        "from_date": int((T - 60) * 1000), "to_date": int(T * 1000),
        "series": [{"metric": "web.errors", "display_name": "web.errors", "unit": None, "aggr": "sum",
                    "scope": scope, "expression": "q", "tag_set": [], "interval": 10, "length": len(points),
                    "pointlist": [[stamp * 1000, value] for stamp, value in points]} for scope in scopes]})


DATADOG = Shapes(
    name="datadog",
    spec=lambda url: {"type": "datadog", "address": url, "secretName": "dd", "retries": 1},
    secrets={("dd", "datadog_api_key"): "api-123", ("dd", "datadog_application_key"): "app-456"},
    value_query="cumsum(sum:web_errors_percent{service:{{ canary }}})",
    sample_query="cumsum(sum:web_requests_total{service:{{ canary }}}.as_count())",
    series=_datadog_series,
    range_series=_datadog_series,
    two_series=_datadog_series([(T - 10, 1.0)], scopes=("service:a", "service:b")),
    no_data=_datadog_series([], scopes=()),
    auth_failure=Answer.json({"errors": ["Forbidden"]}, 403),
    bad_query=Answer.json({"errors": ["Error parsing query: unable to parse cumsum(sum:: Rule 'scope_expr' didn't match"]},
                          400),
    rate_limited=Answer.json({"errors": ["Rate limit exceeded"]}, 429, **{
        "X-RateLimit-Limit": "300", "X-RateLimit-Period": "3600", "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "1"}),
    unavailable=Answer.json({"errors": ["Service Unavailable"]}, 503),
)


# New Relic NerdGraph: {"data": {"actor": {"account": {"nrql": {"results": [...]}}}}}
def _nerdgraph(results: list[dict[str, Any]]) -> Answer:
    return Answer.json({"data": {"actor": {"account": {"nrql": {"results": results}}}}})


def _nerdgraph_latest(points: Points) -> Answer:
    known = [value for _, value in sorted(points) if value is not None]
    return _nerdgraph([{"result": known[-1] if known else None}])


def _nerdgraph_timeseries(points: Points) -> Answer:
    return _nerdgraph([{"beginTimeSeconds": stamp, "endTimeSeconds": stamp + 30, "result": value}
                       for stamp, value in points])


def _nerdgraph_error(message: str, error_class: str) -> Answer:
    return Answer.json({"data": {"actor": {"account": {"nrql": None}}}, "errors": [
        {"message": message, "path": ["actor", "account", "nrql"], "extensions": {"errorClass": error_class}}]})


NEW_RELIC = Shapes(
    name="newrelic",
    spec=lambda url: {"type": "newrelic", "address": url + "/graphql", "secretName": "nr", "retries": 1},
    secrets={("nr", "newrelic_api_key"): "NRAK-KEY", ("nr", "newrelic_account_id"): "1234567"},
    value_query="SELECT average(web_errors_percent) AS result FROM Metric WHERE service = '{{ canary }}'",
    sample_query="SELECT sum(web_requests_total) AS result FROM Metric WHERE service = '{{ canary }}'",
    series=_nerdgraph_latest,
    range_series=_nerdgraph_timeseries,
    two_series=_nerdgraph([{"facet": "a", "service": "a", "result": 1.0}, {"facet": "b", "service": "b", "result": 2.0}]),
    no_data=_nerdgraph([{"result": None}]),
    auth_failure=Answer.json({"errors": [{"message": "Unauthorized"}]}, 401),
    bad_query=_nerdgraph_error("NRQL Syntax Error: Error at line 1 position 8, unexpected 'FORM'", "INVALID_INPUT"),
    rate_limited=Answer.json({"errors": [{"message": "Too many requests"}]}, 429),
    unavailable=Answer(503, "Service Unavailable", "text/plain"),
)


# CloudWatch query protocol: XML GetMetricDataResponse; errors as ErrorResponse.
_CW = "http://monitoring.amazonaws.com/doc/2010-08-01/"


def _iso(stamp: float) -> str:
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cloudwatch_results(results: list[tuple[str, Points]], token: str = "") -> Answer:
    members = "".join(
        "<member>"
        f"<Timestamps>{''.join(f'<member>{_iso(s)}</member>' for s, v in points if v is not None)}</Timestamps>"
        f"<Values>{''.join(f'<member>{v}</member>' for _, v in points if v is not None)}</Values>"
        f"<Label>{escape(ident)}</Label><Id>{escape(ident)}</Id><StatusCode>Complete</StatusCode>"
        "</member>" for ident, points in results)
    next_token = f"<NextToken>{token}</NextToken>" if token else ""
    body = (f'<GetMetricDataResponse xmlns="{_CW}"><GetMetricDataResult><MetricDataResults>{members}'
            f"</MetricDataResults>{next_token}<Messages/></GetMetricDataResult>"
            "<ResponseMetadata><RequestId>5d1c3b1f-0000-4000-8000-000000000000</RequestId></ResponseMetadata>"
            "</GetMetricDataResponse>")
    return Answer(200, body, "text/xml")


def cloudwatch_error(status: int, code: str, message: str) -> Answer:
    body = (f'<ErrorResponse xmlns="{_CW}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>req-1</RequestId></ErrorResponse>")
    return Answer(status, body, "text/xml")


def _cloudwatch_query(metric: str) -> str:
    return json.dumps([{"Id": "result", "MetricStat": {"Metric": {
        "Namespace": "Routeshift", "MetricName": metric,
        "Dimensions": [{"Name": "Service", "Value": "{{ canary }}"}]}, "Period": 60, "Stat": "Sum"},
        "ReturnData": True}])


CLOUDWATCH = Shapes(
    name="cloudwatch",
    spec=lambda url: {"type": "cloudwatch", "address": url, "region": "eu-west-1", "secretName": "aws", "retries": 1},
    secrets={("aws", "aws_access_key_id"): "AKIDEXAMPLE", ("aws", "aws_secret_access_key"): "wJalrXUtnFEMI/K7MDENG"},
    value_query=_cloudwatch_query("web_errors_percent"),
    sample_query=_cloudwatch_query("web_requests_total"),
    series=lambda points: cloudwatch_results([("result", points)]),
    range_series=lambda points: cloudwatch_results([("result", points)]),
    two_series=cloudwatch_results([("a", [(T - 10, 1.0)]), ("b", [(T - 10, 2.0)])]),
    no_data=cloudwatch_results([("result", [])]),
    auth_failure=cloudwatch_error(403, "InvalidClientTokenId", "The security token included in the request is invalid."),
    bad_query=cloudwatch_error(400, "ValidationError", "The value result! for parameter MetricDataQueries.member.1.Id "
                                                       "is invalid."),
    rate_limited=cloudwatch_error(400, "Throttling", "Rate exceeded"),
    unavailable=cloudwatch_error(503, "ServiceUnavailable", "Service is unavailable"),
)


# Graphite render API: [{"target": ..., "tags": {...}, "datapoints": [[value, seconds], ...]}]
def _graphite(points: Points, targets=("web_errors_percent",)) -> Answer:
    return Answer.json([{"target": target, "tags": {"name": target},
                         "datapoints": [[value, int(stamp)] for stamp, value in points]} for target in targets])


GRAPHITE = Shapes(
    name="graphite",
    spec=lambda url: {"type": "graphite", "address": url, "retries": 1},
    secrets={},
    value_query="integral(web_errors_percent.{{ canary }})",
    sample_query="integral(web_requests_total.{{ canary }})",
    series=_graphite,
    range_series=_graphite,
    two_series=_graphite([(T - 10, 1.0)], targets=("a", "b")),
    no_data=Answer.json([]),
    auth_failure=Answer(401, "Unauthorized", "text/plain"),
    bad_query=Answer(400, "Invalid function: 'integrall'", "text/plain"),
    rate_limited=Answer(429, "Too Many Requests", "text/plain"),
    unavailable=Answer(502, "<html><body>Bad Gateway</body></html>", "text/html"),
)


# InfluxDB v2: annotated CSV, one table per group key; errors as {"code", "message"}.
def influx_csv(tables: list[Points]) -> Answer:
    lines = ["#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string",
             "#group,false,false,true,true,false,false,true,true",
             "#default,_result,,,,,,,",
             ",result,table,_start,_stop,_time,_value,_field,_measurement"]
    for index, points in enumerate(tables):
        for stamp, value in points:
            shown = "" if value is None else repr(value)
            lines.append(f",,{index},{_iso(T - 60)},{_iso(T)},{_iso(stamp)},{shown},value,web_{index}")
    return Answer(200, "\r\n".join(lines) + "\r\n\r\n", "text/csv")


INFLUXDB = Shapes(
    name="influxdb",
    spec=lambda url: {"type": "influxdb", "address": url, "secretName": "influx", "retries": 1},
    secrets={("influx", "token"): "tok-789", ("influx", "org"): "shop"},
    value_query='from(bucket: "web")\n  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)\n'
                '  |> filter(fn: (r) => r._measurement == "web_errors_percent" and r.service == "{{ canary }}")',
    sample_query='from(bucket: "web")\n  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)\n'
                 '  |> filter(fn: (r) => r._measurement == "web_requests_total" and r.service == "{{ canary }}")\n'
                 '  |> sum()',
    series=lambda points: influx_csv([points]),
    range_series=lambda points: influx_csv([points]),
    two_series=influx_csv([[(T - 10, 1.0)], [(T - 10, 2.0)]]),
    no_data=Answer(200, "\r\n", "text/csv"),
    auth_failure=Answer.json({"code": "unauthorized", "message": "unauthorized access"}, 401),
    bad_query=Answer.json({"code": "invalid", "message": "compilation failed: error at @1:1-1:5: undefined identifier frum"},
                          400),
    rate_limited=Answer.json({"code": "too many requests", "message": "org shop has exceeded limited_query plan limit"},
                             429, **{"Retry-After": "1"}),
    unavailable=Answer.json({"code": "internal error", "message": "unavailable"}, 503),
)

ALL = [DATADOG, NEW_RELIC, CLOUDWATCH, GRAPHITE, INFLUXDB]
