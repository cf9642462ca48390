"""Hook metadata → a bounded load spec, and the allow-list that says where load may go."""

import pytest

from routeshift.loadtester import allowlist, errors, spec

LIMITS = spec.Limits(max_rate=50, max_concurrency=20, max_duration=120, max_timeout=10, max_body_bytes=100)
URL = "http://127.0.0.1:8080/api"


def test_defaults_fill_in_everything_but_the_url():
    load = spec.parse({"url": URL}, LIMITS)
    assert load == spec.LoadSpec(url=URL, rate=10, duration=60, concurrency=10, method="GET", headers=(), body="",
                                 timeout=5, mode=spec.Mode.BACKGROUND, max_error_rate=None)
    assert load.planned == 600 and load.host == "127.0.0.1"


def test_every_key_as_a_canary_writes_it():
    load = spec.parse({"url": URL, "rate": "25.5", "duration": "30s", "concurrency": "4", "method": "post",
                       "headers": "Host: web.example.com\n\nContent-Type: application/json\n", "body": '{"a":1}',
                       "timeout": "500ms", "mode": "blocking", "maxErrorRate": "1.5"}, LIMITS)
    assert load == spec.LoadSpec(
        url=URL, rate=25.5, duration=30, concurrency=4, method="POST",
        headers=(("Host", "web.example.com"), ("Content-Type", "application/json")), body='{"a":1}', timeout=0.5,
        mode=spec.Mode.BLOCKING, max_error_rate=1.5)


def test_a_blocking_smoke_test_tolerates_no_failure_unless_told():
    assert spec.parse({"url": URL, "mode": "blocking"}, LIMITS).max_error_rate == 0.0
    assert spec.parse({"url": URL, "mode": "blocking", "maxErrorRate": "5"}, LIMITS).max_error_rate == 5.0


@pytest.mark.parametrize(("metadata", "complaint"), [
    pytest.param({}, "'url' is required", id="no-url"),
    pytest.param({"url": "ftp://127.0.0.1/x"}, "must be http(s)", id="scheme"),
    pytest.param({"url": "http:///nohost"}, "must be http(s)", id="no-host"),
    pytest.param({"url": "http://127.0.0.1:99999/"}, "out of range", id="port"),
    pytest.param({"url": "http://u:p@127.0.0.1/"}, "credentials", id="credentials"),
    pytest.param({"url": URL, "rate": "fast"}, "rate 'fast' is not a number", id="rate-nan"),
    pytest.param({"url": URL, "rate": "0"}, "rate '0' must be above 0", id="rate-zero"),
    pytest.param({"url": URL, "rate": "inf"}, "must be above 0", id="rate-infinite"),
    pytest.param({"url": URL, "rate": "51"}, "rate 51 exceeds this loadtester's bound --max-rate 50", id="rate-bound"),
    pytest.param({"url": URL, "duration": "1h"}, "duration 1h exceeds this loadtester's bound --max-duration 2m",
                 id="duration-bound"),
    pytest.param({"url": URL, "duration": "soon"}, "invalid duration 'soon'", id="duration-format"),
    pytest.param({"url": URL, "concurrency": "0"}, "at least 1", id="concurrency-zero"),
    pytest.param({"url": URL, "concurrency": "2.5"}, "whole number", id="concurrency-fraction"),
    pytest.param({"url": URL, "concurrency": "21"}, "--max-concurrency 20", id="concurrency-bound"),
    pytest.param({"url": URL, "timeout": "1m"}, "--max-request-timeout 10s", id="timeout-bound"),
    pytest.param({"url": URL, "method": "BREW"}, "method 'BREW' is not one of", id="method"),
    pytest.param({"url": URL, "headers": "no colon here"}, "is not 'Name: value'", id="header-line"),
    pytest.param({"url": URL, "headers": "Bad Name: x"}, "is not 'Name: value'", id="header-name"),
    pytest.param({"url": URL, "headers": "X-Who: Zoë"}, "must be printable ASCII", id="header-value"),
    pytest.param({"url": URL, "body": "x" * 101}, "body of 101 bytes exceeds 100", id="body-bound"),
    pytest.param({"url": URL, "mode": "async"}, "mode 'async' is not one of", id="mode"),
    pytest.param({"url": URL, "maxErrorRate": "101"}, "maxErrorRate 101 must be at most 100", id="error-rate-over-100"),
    pytest.param({"url": URL, "maxErrorRate": "-1"}, "must be at least 0", id="error-rate-negative"),
    pytest.param({"url": URL, "rps": "10"}, "unknown metadata key(s) ['rps']", id="typo"),
    pytest.param({"cmd": "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/"},
                 "'cmd' is flagger-loadtester's", id="flagger-cmd"),
])
def test_bad_metadata_is_refused_with_the_reason(metadata, complaint):
    with pytest.raises(errors.BadRequest) as refused:
        spec.parse(metadata, LIMITS)
    assert complaint in str(refused.value)
    assert refused.value.status == 400


def test_the_dedup_key_is_the_canary_and_the_load():
    one = spec.parse({"url": URL, "rate": "5"}, LIMITS)
    assert one.key("shop/web") == spec.parse({"rate": "5.0", "url": URL}, LIMITS).key("shop/web")
    assert one.key("shop/web") != one.key("shop/cart")
    assert one.key("shop/web") != spec.parse({"url": URL, "rate": "6"}, LIMITS).key("shop/web")


ALLOW = allowlist.AllowList.parse(["127.0.0.1/32", "10.96.0.0/12", "fd00::/8", "web.shop", "*.svc.cluster.local"])


@pytest.mark.parametrize(("host", "permitted"), [
    ("127.0.0.1", True),
    ("127.0.0.2", False),
    ("10.96.4.1", True),
    ("10.112.0.1", False),
    ("[fd00::1]", True),
    ("::1", False),
    ("web.shop", True),
    ("WEB.SHOP.", True),
    ("api.web.shop", False),
    ("web-canary.shop.svc.cluster.local", True),
    ("svc.cluster.local", False),
    ("evilsvc.cluster.local", False),
    ("localhost", False),
    ("example.com", False),
    ("", False),
])
def test_allow_list(host, permitted):
    assert ALLOW.permits(host) is permitted


@pytest.mark.parametrize("entry", ["*", "*.", "10.0.0.0/33", "bad name", "http://x"])
def test_allow_list_entries_that_mean_nothing_are_refused(entry):
    with pytest.raises(ValueError, match="neither a CIDR"):
        allowlist.AllowList.parse([entry])
