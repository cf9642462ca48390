"""What each provider sends: the endpoint, parameters, auth and time frame its API documents."""

import datetime
import json
import re
from urllib.parse import parse_qs

import pytest

from analysis import errors, model, providers
from backend_shapes import CLOUDWATCH, DATADOG, GRAPHITE, INFLUXDB, NEW_RELIC, NOW, T, Shapes, cloudwatch_error
from backend_shapes import cloudwatch_results, influx_csv
from scripted_backend import Answer

MINUTE_AGO = NOW - datetime.timedelta(minutes=1)


def build(shapes: Shapes, url: str, secrets=None, **spec):
    known = {**shapes.secrets, **(secrets or {})}
    return providers.build(model.ProviderSpec.model_validate({**shapes.spec(url), **spec}),
                           lambda ref: known.get((ref.name, ref.key)), window="1m", backoff=0.001)


async def test_datadog_sends_both_keys_and_the_window_as_from_and_to(backend):
    backend.answer(DATADOG.series([(T - 5, 1.0)]))
    async with build(DATADOG, backend.url, window="5m") as provider:
        await provider.query("sum:web.errors{*}", at=NOW)
    [request] = backend.received
    assert (request.method, request.path) == ("GET", "/api/v1/query")
    assert request.query == {"from": [str(int(T) - 300)], "to": [str(int(T))], "query": ["sum:web.errors{*}"]}
    assert (request.headers["DD-API-KEY"], request.headers["DD-APPLICATION-KEY"]) == ("api-123", "app-456")


async def test_datadog_status_error_in_a_200_is_a_rejected_query(backend):
    backend.answer(Answer.json({"status": "error", "error": "Rule 'scope_expr' didn't match", "series": []}))
    async with build(DATADOG, backend.url) as provider:
        with pytest.raises(errors.QueryRejected, match="scope_expr"):
            await provider.query("sum:web.errors{", at=NOW)


async def test_newrelic_posts_nrql_to_nerdgraph_with_the_time_frame_appended(backend):
    backend.answer(NEW_RELIC.series([(T, 42.0)]), NEW_RELIC.range_series([(T - 60, 1.0), (T - 30, 2.0)]))
    async with build(NEW_RELIC, backend.url) as provider:
        assert await provider.query("SELECT count(*) FROM Transaction\n  WHERE appName = 'web'", at=NOW) == 42.0
        assert await provider.query_range("SELECT count(*) FROM Transaction", start=MINUTE_AGO, end=NOW,
                                          step=30) == [1.0, 2.0]
    instant, ranged = (json.loads(r.body) for r in backend.received)
    assert backend.received[0].path == "/graphql" and backend.received[0].headers["API-Key"] == "NRAK-KEY"
    assert re.search(r"actor \{ account\(id: \$account\) \{ nrql\(query: \$nrql\) \{ results", instant["query"])
    ms = int(T * 1000)
    assert instant["variables"] == {"account": 1234567, "nrql": "SELECT count(*) FROM Transaction WHERE appName = "
                                    f"'web' SINCE {ms - 60_000} UNTIL {ms}"}
    assert ranged["variables"]["nrql"].endswith(f"SINCE {ms - 60_000} UNTIL {ms} TIMESERIES 30 seconds")


async def test_newrelic_refuses_a_query_with_its_own_time_clause_without_sending_it(backend):
    async with build(NEW_RELIC, backend.url) as provider:
        with pytest.raises(errors.QueryRejected, match="leave out SINCE"):
            await provider.query("SELECT count(*) FROM Transaction SINCE 5 minutes ago", at=NOW)
    assert backend.received == []


async def test_newrelic_reads_a_nested_percentile_and_retries_a_graphql_timeout(backend):
    timeout = Answer.json({"data": {"actor": {"account": {"nrql": None}}}, "errors": [
        {"message": "NRDB query timed out", "extensions": {"errorClass": "TIMEOUT"}}]})
    backend.answer(timeout, Answer.json({"data": {"actor": {"account": {"nrql": {"results": [
        {"percentile.duration": {"99": 0.731}}]}}}}}))
    async with build(NEW_RELIC, backend.url) as provider:
        assert await provider.query("SELECT percentile(duration, 99) FROM Transaction", at=NOW) == 0.731
    assert len(backend.received) == 2


async def test_newrelic_account_id_must_be_a_number():
    with pytest.raises(providers.MissingCredentials, match="must be a number"):
        build(NEW_RELIC, "http://127.0.0.1:9", secrets={("nr", "newrelic_account_id"): "acme"})


CW_QUERY = json.dumps([
    {"Id": "errors", "MetricStat": {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "HTTPCode_Target_5XX_Count",
                                               "Dimensions": [{"Name": "TargetGroup", "Value": "tg/web-canary"}]},
                                    "Period": 60, "Stat": "Sum"}, "ReturnData": False},
    {"Id": "requests", "MetricStat": {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount",
                                                 "Dimensions": [{"Name": "TargetGroup", "Value": "tg/web-canary"}]},
                                      "Period": 60, "Stat": "Sum"}, "ReturnData": False},
    {"Id": "rate", "Expression": "100 * errors / requests", "Label": "error rate", "ReturnData": True},
])


async def test_cloudwatch_posts_a_signed_get_metric_data_in_the_query_protocol(backend):
    backend.answer(cloudwatch_results([("rate", [(T - 120, 0.5), (T - 60, 0.25)])]))
    async with build(CLOUDWATCH, backend.url, secrets={("aws", "aws_session_token"): "FQoGZXIvYXdzE"}) as provider:
        assert await provider.query(CW_QUERY, at=NOW) == 0.25
    [request] = backend.received
    form = {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
    assert form["Action"] == "GetMetricData" and form["Version"] == "2010-08-01"
    assert (form["StartTime"], form["EndTime"]) == ("2026-01-01T11:59:00.000000Z", "2026-01-01T12:00:00.000000Z")
    assert form["MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Value"] == "tg/web-canary"
    assert form["MetricDataQueries.member.1.ReturnData"] == "false"
    assert form["MetricDataQueries.member.3.Expression"] == "100 * errors / requests"
    auth = request.headers["Authorization"]
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d")
    assert re.fullmatch(rf"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{today}/eu-west-1/monitoring/aws4_request, "
                        r"SignedHeaders=[a-z0-9;-]*host;[a-z0-9;-]*, Signature=[0-9a-f]{64}", auth)
    assert "x-amz-date" in auth and request.headers["x-amz-security-token"] == "FQoGZXIvYXdzE"


async def test_cloudwatch_follows_next_token_pages(backend):
    backend.answer(cloudwatch_results([("rate", [(T - 120, 0.5)])], token="page-2"),
                   cloudwatch_results([("rate", [(T - 60, 0.75)])]))
    async with build(CLOUDWATCH, backend.url) as provider:
        assert await provider.query(CW_QUERY, at=NOW) == 0.75
    assert parse_qs(backend.received[1].body.decode())["NextToken"] == ["page-2"]


async def test_cloudwatch_refuses_a_query_that_is_not_metric_data_queries_json(backend):
    async with build(CLOUDWATCH, backend.url) as provider:
        with pytest.raises(errors.QueryRejected, match="MetricDataQueries JSON"):
            await provider.query("SELECT SUM(RequestCount) FROM SCHEMA(\"AWS/ApplicationELB\")", at=NOW)
    assert backend.received == []


async def test_cloudwatch_expired_token_is_not_retried(backend):
    backend.answer(cloudwatch_error(400, "ExpiredToken", "The security token included in the request is expired"))
    async with build(CLOUDWATCH, backend.url) as provider:
        with pytest.raises(errors.QueryRejected, match="ExpiredToken"):
            await provider.query(CW_QUERY, at=NOW)
    assert len(backend.received) == 1


async def test_graphite_renders_the_target_as_json_over_the_window_with_basic_auth(backend):
    backend.answer(GRAPHITE.series([(T - 10, 3.0)]))
    async with build(GRAPHITE, backend.url, basicAuthSecretName="graphite",
                     secrets={("graphite", "username"): "u", ("graphite", "password"): "p"}) as provider:
        await provider.query("summarize(web.errors,\n  \"1min\", \"sum\", true)", at=NOW)
    [request] = backend.received
    assert request.path == "/render"
    assert request.query == {"from": [str(int(T) - 60)], "until": [str(int(T))],
                             "target": ['summarize(web.errors, "1min", "sum", true)'], "format": ["json"]}
    assert request.headers["Authorization"] == "Basic dTpw"


async def test_graphite_reads_flaggers_query_string_form_keeping_its_from(backend):
    backend.answer(GRAPHITE.series([(T - 10, 3.0)]))
    async with build(GRAPHITE, backend.url) as provider:
        await provider.query("target=sumSeries(web.*.errors)&from=-5min", at=NOW)
    assert backend.received[0].query == {"until": [str(int(T))], "target": ["sumSeries(web.*.errors)"],
                                         "from": ["-5min"], "format": ["json"]}


async def test_influxdb_posts_flux_with_the_time_frame_as_v_after_the_imports(backend):
    backend.answer(influx_csv([[(T - 30, 1.5), (T - 10, 2.5)]]))
    flux = 'import "math"\n\nfrom(bucket: "web") |> range(start: v.timeRangeStart, stop: v.timeRangeStop)'
    async with build(INFLUXDB, backend.url) as provider:
        assert await provider.query(flux, at=NOW) == 2.5
    [request] = backend.received
    body = json.loads(request.body)
    assert (request.path, request.query) == ("/api/v2/query", {"org": ["shop"]})
    assert request.headers["Authorization"] == "Token tok-789"
    assert body["query"].splitlines() == [
        'import "math"', "",
        "option v = {timeRangeStart: 2026-01-01T11:59:00.000000Z, timeRangeStop: 2026-01-01T12:00:00.000000Z}",
        'from(bucket: "web") |> range(start: v.timeRangeStart, stop: v.timeRangeStop)']
    assert body["type"] == "flux" and body["now"] == "2026-01-01T12:00:00.000000Z"
    assert body["dialect"]["annotations"] == ["datatype", "group", "default"]


async def test_influxdb_error_table_in_the_csv_is_a_rejected_query(backend):
    error_table = ("#datatype,string,string\r\n#group,true,true\r\n#default,,\r\n,error,reference\r\n"
                   ',"runtime error @3:6-3:40: filter: type conflict: string != int",897\r\n\r\n')
    backend.answer(Answer(200, error_table, "text/csv"))
    async with build(INFLUXDB, backend.url) as provider:
        with pytest.raises(errors.QueryRejected, match="type conflict"):
            await provider.query('from(bucket: "web") |> range(start: -1m)', at=NOW)
