"""The numbers a load run reports: classes, error rate, percentiles, judgement and summary."""

import pytest

from routeshift.loadtester import stats


@pytest.mark.parametrize(("status", "cls"), [(200, "2xx"), (204, "2xx"), (301, "3xx"), (404, "4xx"), (503, "5xx"),
                                             (101, "1xx"), (99, "other"), (600, "other")])
def test_status_class(status, cls):
    assert stats.status_class(status) == cls


@pytest.mark.parametrize(("values", "percent", "expected"), [
    pytest.param([], 50, None, id="empty"),
    pytest.param([7.0], 99, 7.0, id="one-value-is-every-percentile"),
    pytest.param([1.0, 2.0, 3.0, 4.0], 50, 2.0, id="median-of-four-is-the-second"),
    pytest.param([float(v) for v in range(1, 101)], 90, 90.0, id="p90-of-1..100"),
    pytest.param([float(v) for v in range(1, 101)], 99, 99.0, id="p99-of-1..100"),
    pytest.param([float(v) for v in range(1, 11)], 99, 10.0, id="p99-of-ten-is-the-largest"),
    pytest.param([1.0, 2.0], 100, 2.0, id="p100-is-the-maximum"),
])
def test_nearest_rank_percentile(values, percent, expected):
    assert stats.percentile(values, percent) == expected


@pytest.mark.parametrize(("responses", "errors", "rate"), [
    pytest.param({}, {}, None, id="nothing-completed"),
    pytest.param({"2xx": 99, "5xx": 1}, {}, 1.0, id="one-5xx-in-a-hundred"),
    pytest.param({"2xx": 90, "3xx": 5, "4xx": 5}, {}, 5.0, id="redirects-succeed-4xx-fail"),
    pytest.param({"2xx": 3}, {"connect": 1}, 25.0, id="errors-count-as-failed"),
    pytest.param({}, {"timeout": 4}, 100.0, id="all-timeouts"),
])
def test_error_rate(responses, errors, rate):
    assert stats.error_rate(responses, errors) == rate


def _tally(**counts) -> stats.Tally:
    tally = stats.Tally()
    for status, (count, seconds) in counts.items():
        for _ in range(count):
            tally.sent += 1
            if status in stats.ERROR_KINDS:
                tally.failed(status)
            else:
                tally.answered(int(status[1:]), seconds)
    return tally


def test_results_count_what_happened():
    tally = _tally(s200=(97, 0.002), s503=(2, 0.050), connect=(1, 0.0))
    tally.sent += 3  # still in flight
    tally.dropped = 4
    result = stats.results(tally, planned=107, elapsed=10.0)
    assert result.as_json() == {
        "planned": 107, "sent": 103, "dropped": 4, "inFlight": 3,
        "responses": {"2xx": 97, "5xx": 2}, "errors": {"connect": 1},
        "elapsedSeconds": 10.0, "achievedRate": 10.3,
        "latencyMs": {"p50": 2.0, "p90": 2.0, "p99": 50.0},
        "errorRate": 3.0,
    }


def test_results_before_any_request():
    result = stats.results(stats.Tally(), planned=10, elapsed=0.0)
    assert (result.achieved_rate, result.error_rate, result.latency_ms["p99"]) == (0.0, None, None)
    assert stats.summary(result) == "0/10 sent; no answers; 0.0 req/s"


@pytest.mark.parametrize(("counts", "bound", "passed", "why"), [
    pytest.param({"s200": (100, 0.01)}, None, True, "no maxErrorRate set", id="no-bound"),
    pytest.param({}, 0.0, True, "no request completed yet", id="nothing-completed"),
    pytest.param({"s200": (99, 0.01), "s500": (1, 0.01)}, 1.0, True, "error rate 1.0% <= maxErrorRate 1%",
                 id="at-the-bound-passes"),
    pytest.param({"s200": (98, 0.01), "s500": (2, 0.01)}, 1.0, False, "error rate 2.0% > maxErrorRate 1%",
                 id="over-the-bound-fails"),
    pytest.param({"s200": (9, 0.01), "timeout": (1, 0)}, 0.0, False, "error rate 10.0% > maxErrorRate 0%",
                 id="smoke-test-tolerates-nothing"),
])
def test_judge(counts, bound, passed, why):
    result = stats.results(_tally(**counts), planned=100, elapsed=1.0)
    assert stats.judge(result, bound) == (passed, why)


def test_summary_is_one_readable_line():
    tally = _tally(s200=(50, 0.0021), s500=(2, 0.150), timeout=(1, 0))
    tally.dropped = 3
    result = stats.results(tally, planned=60, elapsed=5.0)
    assert stats.summary(result) == ("53/60 sent (3 dropped); 2xx 50, 5xx 2, errors: timeout 1; 10.6 req/s; "
                                     "p50/p90/p99 2.1/2.1/150 ms; error rate 5.7%")


def test_an_unknown_error_kind_is_a_bug():
    with pytest.raises(ValueError):
        stats.Tally().failed("dns")
