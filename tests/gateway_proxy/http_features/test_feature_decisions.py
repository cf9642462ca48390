"""The pure decisions behind retries, CORS and session persistence, as tables (no sockets).

Each row is a sentence of the spec: which origins match, which fields a preflight gets, when an
attempt may be repeated and how long to wait, what a session token survives.
"""

from __future__ import annotations

import pytest

from gateway_proxy import cors, resources as r, retries, sessions


def _cors(**fields) -> cors.Policy:
    spec = r.CorsFilter(**fields)
    assert cors.problem((spec,)) == ""
    return cors.policy((spec,))


@pytest.mark.parametrize("allowed, origin, expected", [
    pytest.param(("https://www.foo.com",), "https://www.foo.com", True, id="exact"),
    pytest.param(("https://www.foo.com",), "https://WWW.FOO.COM", True, id="host-case-insensitive"),
    pytest.param(("https://www.foo.com",), "https://www.foo.com:443", True, id="https-default-port"),
    pytest.param(("http://www.foo.com",), "http://www.foo.com:80", True, id="http-default-port"),
    pytest.param(("https://www.foo.com",), "https://www.foo.com:8443", False, id="other-port"),
    pytest.param(("https://www.foo.com",), "http://www.foo.com", False, id="other-scheme"),
    pytest.param(("https://*.bar.com",), "https://www.bar.com", True, id="wildcard-one-label"),
    pytest.param(("https://*.bar.com",), "https://a.b.bar.com", True, id="wildcard-greedy-to-the-left"),
    pytest.param(("https://*.bar.com",), "https://bar.com", False, id="wildcard-needs-something"),
    pytest.param(("https://*.bar.com",), "https://foobar.com", False, id="wildcard-keeps-the-dot"),
    pytest.param(("https://*.bar.com:8443",), "https://x.bar.com:8443", True, id="wildcard-with-port"),
    pytest.param(("https://*",), "https://anything.example", True, id="host-wildcard-alone"),
    pytest.param(("https://*",), "http://anything.example", False, id="host-wildcard-keeps-scheme"),
    pytest.param(("*",), "https://foobar.com:12345", True, id="star-matches-all"),
    pytest.param(("https://www.foo.com",), "null", False, id="opaque-origin"),
    pytest.param(("https://www.foo.com",), "https://www.foo.com/path", False, id="not-an-origin"),
])
def test_origin_matching(allowed, origin, expected):
    assert cors.origin_allowed(_cors(allow_origins=allowed), origin) is expected


@pytest.mark.parametrize("fields, request_headers, expected", [
    pytest.param(dict(allow_origins=("https://a.com",), allow_methods=("GET", "OPTIONS"), allow_headers=("x-1",),
                      expose_headers=("x-3",), allow_credentials=True, max_age=3600),
                 {"origin": "https://a.com", "access-control-request-method": "GET"},
                 [("access-control-allow-origin", "https://a.com"), ("access-control-allow-credentials", "true"),
                  ("access-control-allow-methods", "GET, OPTIONS"), ("access-control-allow-headers", "x-1"),
                  ("access-control-expose-headers", "x-3"), ("access-control-max-age", "3600"),
                  ("vary", "Origin")], id="configured-lists"),
    pytest.param(dict(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",)),
                 {"origin": "https://a.com", "access-control-request-method": "PUT",
                  "access-control-request-headers": "x-a, x-b"},
                 [("access-control-allow-origin", "https://a.com"), ("access-control-allow-methods", "PUT"),
                  ("access-control-allow-headers", "x-a, x-b"), ("access-control-max-age", "5"),
                  ("vary", "Origin")], id="wildcards-echo-and-default-max-age"),
    pytest.param(dict(allow_origins=("*",), allow_headers=("*",), expose_headers=("*",), allow_credentials=True),
                 {"origin": "https://a.com", "access-control-request-method": "PUT"},
                 [("access-control-allow-origin", "https://a.com"), ("access-control-allow-credentials", "true"),
                  ("access-control-max-age", "5"), ("vary", "Origin")],
                 id="credentials-omit-what-was-not-requested-and-never-star"),
    pytest.param(dict(allow_origins=("*",), expose_headers=("*",)),
                 {"origin": "https://a.com", "access-control-request-method": "GET"},
                 [("access-control-allow-origin", "https://a.com"), ("access-control-expose-headers", "*"),
                  ("access-control-max-age", "5"), ("vary", "Origin")], id="expose-star-without-credentials"),
    pytest.param(dict(allow_origins=("https://a.com",)), {"origin": "https://b.com",
                                                           "access-control-request-method": "GET"},
                 None, id="origin-not-allowed"),
])
def test_preflight_fields(fields, request_headers, expected):
    assert cors.preflight_fields(_cors(**fields), request_headers) == expected


@pytest.mark.parametrize("method, headers, expected", [
    ("OPTIONS", {"origin": "https://a.com", "access-control-request-method": "GET"}, True),
    ("OPTIONS", {"origin": "https://a.com"}, False),
    ("OPTIONS", {"access-control-request-method": "GET"}, False),
    ("GET", {"origin": "https://a.com", "access-control-request-method": "GET"}, False),
])
def test_what_is_a_preflight(method, headers, expected):
    assert cors.is_preflight(method, headers) is expected


def test_actual_response_fields_with_credentials_list_the_response_names_for_star():
    policy = _cors(allow_origins=("*",), expose_headers=("*",), allow_credentials=True)
    raw = [(b"Content-Type", b"text/plain"), (b"X-Trace", b"1"), (b"Access-Control-Allow-Origin", b"*")]
    kept, added = cors.response_fields(policy, "https://a.com", raw)
    assert kept == raw[:2]
    assert added == (b"access-control-allow-origin: https://a.com\r\naccess-control-allow-credentials: true\r\n"
                     b"access-control-expose-headers: Content-Type, X-Trace\r\nvary: Origin\r\n")


@pytest.mark.parametrize("fields, message", [
    pytest.param(dict(allow_origins=("*", "https://a.com")), "allowOrigins cannot contain '*'", id="star-and-more"),
    pytest.param(dict(allow_origins=("ftp://a.com",)), "is not <scheme>://<host>", id="bad-scheme"),
    pytest.param(dict(allow_origins=("https://a.com/",)), "is not <scheme>://<host>", id="trailing-slash"),
    pytest.param(dict(allow_origins=("https://a.*.com",)), "is not <scheme>://<host>", id="inner-wildcard"),
    pytest.param(dict(allow_methods=("FETCH",)), "is not an HTTP method", id="unknown-method"),
    pytest.param(dict(allow_methods=("*", "GET")), "allowMethods cannot contain '*'", id="method-star-and-more"),
    pytest.param(dict(allow_headers=("bad header",)), "is not a header name", id="bad-header"),
    pytest.param(dict(max_age=0), "maxAge 0 must be at least 1", id="max-age-zero"),
])
def test_cors_values_that_are_refused(fields, message):
    assert message in cors.problem((r.CorsFilter(**fields),))


def test_a_repeated_cors_filter_is_refused():
    assert cors.problem((r.CorsFilter(), r.CorsFilter())) == "the CORS filter cannot be repeated"


# retries ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("retry, expected", [
    pytest.param(r.Retry(codes=(500,)), retries.Policy(frozenset({500}), 1, 0.025), id="defaults"),
    pytest.param(r.Retry(codes=(503,), attempts=3, backoff=0.1), retries.Policy(frozenset({503}), 3, 0.1),
                 id="as-written"),
    pytest.param(r.Retry(codes=(500,), attempts=0), None, id="explicit-zero-disables"),
    pytest.param(r.Retry(attempts=2, backoff=0.0), retries.Policy(frozenset(), 2, 0.0), id="connection-errors-only"),
])
def test_retry_policy(retry, expected):
    assert retries.problem(retry) == ""
    assert retries.policy(retry) == expected


@pytest.mark.parametrize("retry, message", [
    pytest.param(r.Retry(codes=(399,)), "outside 400-599", id="below-400"),
    pytest.param(r.Retry(codes=(500, 600)), "outside 400-599", id="above-599"),
    pytest.param(r.Retry(attempts=-1), "negative", id="negative-attempts"),
])
def test_retry_values_that_are_refused(retry, message):
    assert message in retries.problem(retry)


def test_attempts_count_retries_in_addition_to_the_first_request():
    policy = retries.Policy(frozenset({500}), 2, 0.01)
    assert [retries.may_retry(policy, made) for made in (1, 2, 3)] == [True, True, False]


@pytest.mark.parametrize("base, retry_number, fraction, expected", [
    pytest.param(0.1, 1, 0.0, 0.1, id="first-retry-waits-the-base"),
    pytest.param(0.1, 1, 0.999, 0.1 * 1.4995, id="jitter-adds-up-to-half"),
    pytest.param(0.1, 3, 0.0, 0.4, id="exponential"),
    pytest.param(0.1, 20, 0.5, 10.0, id="capped-at-ten-seconds"),
    pytest.param(30.0, 4, 0.9, 30.0, id="a-longer-base-is-its-own-cap"),
])
def test_backoff(base, retry_number, fraction, expected):
    policy = retries.Policy(frozenset(), 5, base)
    delay = retries.backoff(policy, retry_number, fraction)
    assert delay == pytest.approx(expected)
    assert delay >= base  # never retried before the base interval


# session tokens -----------------------------------------------------------------------------------

class _Backend:
    def __init__(self, weight=1, status=0, count=1):
        self.weight, self.status, self.count = weight, status, count


def _session_policy(**fields) -> sessions.Policy:
    spec = r.SessionPersistence(**fields)
    assert sessions.problem(spec) == ""
    return sessions.policy(spec, sessions.scope_of("ns", "r", 0), [("ns", "stable"), ("ns", "canary")], False,
                           b"k" * 32)


def test_a_token_round_trips_and_names_no_backend():
    policy = _session_policy(name="s")
    token = sessions.encode(policy, 1, 1000, 1000)
    assert "canary" not in token and "stable" not in token
    assert sessions.decode(policy, token, 1001) == sessions.Affinity(1, 1000, 1000)


@pytest.mark.parametrize("mutate", [
    pytest.param(lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), id="mac"),
    pytest.param(lambda t: t.replace(".3e8.", ".3e9.", 1), id="timestamp"),
    pytest.param(lambda t: "x" + t, id="tag"),
    pytest.param(lambda t: t + ".extra", id="shape"),
])
def test_a_tampered_token_is_refused(mutate):
    policy = _session_policy(name="s")
    assert sessions.decode(policy, mutate(sessions.encode(policy, 0, 1000, 1000)), 1001) is None


def test_a_token_of_another_rule_or_key_is_refused():
    policy = _session_policy(name="s")
    token = sessions.encode(policy, 0, 1000, 1000)
    other_rule = sessions.policy(r.SessionPersistence(name="s"), sessions.scope_of("ns", "r", 1),
                                 [("ns", "stable"), ("ns", "canary")], False, b"k" * 32)
    other_key = sessions.policy(r.SessionPersistence(name="s"), sessions.scope_of("ns", "r", 0),
                                [("ns", "stable"), ("ns", "canary")], False, b"j" * 32)
    assert sessions.decode(other_rule, token, 1001) is None
    assert sessions.decode(other_key, token, 1001) is None


@pytest.mark.parametrize("fields, began, seen, now, valid", [
    pytest.param({}, 0, 0, 10 ** 9, True, id="no-timeouts-never-expire"),
    pytest.param({"absolute_timeout": 60.0}, 1000, 1059, 1060, True, id="absolute-at-the-limit"),
    pytest.param({"absolute_timeout": 60.0}, 1000, 1059, 1061, False, id="absolute-past"),
    pytest.param({"idle_timeout": 30.0}, 0, 1000, 1030, True, id="idle-at-the-limit"),
    pytest.param({"idle_timeout": 30.0}, 0, 1000, 1031, False, id="idle-past"),
])
def test_expiry(fields, began, seen, now, valid):
    policy = _session_policy(name="s", **fields)
    assert (sessions.decode(policy, sessions.encode(policy, 0, began, seen), now) is not None) is valid


@pytest.mark.parametrize("pinned, expected", [
    pytest.param(_Backend(), 1, id="serving"),
    pytest.param(_Backend(weight=0), None, id="weight-zero-moves-the-client"),
    pytest.param(_Backend(status=503), None, id="no-ready-endpoints"),
    pytest.param(_Backend(count=0), None, id="no-endpoints"),
])
def test_resume_only_on_a_backend_that_still_serves(pinned, expected):
    policy = _session_policy(name="s")
    headers = {"cookie": f"other=1; s=garbage; s={sessions.encode(policy, 1, 1000, 1000)}"}
    affinity = sessions.resume(policy, [_Backend(), pinned], headers, 1001)
    assert (affinity.index if affinity else None) == expected


@pytest.mark.parametrize("fields, affinity, index, now, expected", [
    pytest.param({}, sessions.Affinity(0, 1000, 1000), 0, 5000, b"", id="standing-token-not-re-sent"),
    pytest.param({"idle_timeout": 60.0}, sessions.Affinity(0, 1000, 1000), 0, 1000, b"", id="same-second"),
    pytest.param({"idle_timeout": 60.0}, sessions.Affinity(0, 1000, 1000), 0, 1001, "refresh", id="idle-refresh"),
    pytest.param({}, sessions.Affinity(0, 1000, 1000), 1, 5000, "new", id="re-pinned"),
    pytest.param({}, None, 0, 5000, "new", id="first-request"),
])
def test_when_a_cookie_is_sent(fields, affinity, index, now, expected):
    policy = _session_policy(name="s", **fields)
    line = sessions.response_field(policy, affinity, index, now, "/app")
    if expected == b"":
        assert line == b""
        return
    assert line.startswith(b"set-cookie: s=") and line.endswith(b"; Path=/app; HttpOnly; SameSite=Lax\r\n")
    token = line[len(b"set-cookie: s="):].split(b";")[0].decode()
    decoded = sessions.decode(policy, token, now)
    assert decoded == sessions.Affinity(index, 1000 if expected == "refresh" else now, now)


def test_permanent_cookies_expire_with_the_absolute_timeout_and_secure_on_https():
    spec = r.SessionPersistence(name="s", absolute_timeout=300.0, idle_timeout=600.0, lifetime="Permanent")
    policy = sessions.policy(spec, b"scope", [("ns", "a")], True, b"k" * 32)
    new = sessions.response_field(policy, None, 0, 1100, "/").decode()
    assert "Max-Age=300" in new and "Expires=Thu, 01 Jan 1970 00:23:20 GMT" in new and new.endswith("; Secure\r\n")
    refreshed = sessions.response_field(policy, sessions.Affinity(0, 1000, 1000), 0, 1100, "/").decode()
    assert "Max-Age=200" in refreshed  # what is left of the absolute timeout


@pytest.mark.parametrize("regex, value, expected", [
    (False, "/", "/"), (False, "/app", "/app"), (True, "/p1/p2/.*/p3", "/p1/p2"), (True, "^/api/v[0-9]+", "/api"),
    (True, ".*", "/"),
])
def test_cookie_path_from_the_matched_route_path(regex, value, expected):
    assert sessions.cookie_path(regex, value) == expected


@pytest.mark.parametrize("fields, message", [
    pytest.param({"kind": "Query"}, "is not Cookie or Header", id="unknown-type"),
    pytest.param({"lifetime": "Forever"}, "is not Session or Permanent", id="unknown-lifetime"),
    pytest.param({"lifetime": "Permanent"}, "absoluteTimeout must be specified", id="permanent-needs-absolute"),
    pytest.param({"kind": "Header", "lifetime": "Permanent", "absolute_timeout": 5.0}, "type Cookie only",
                 id="permanent-header"),
    pytest.param({"name": "bad name"}, "is not a valid cookie name", id="bad-name"),
    pytest.param({"name": "x" * 129}, "is not a valid cookie name", id="name-too-long"),
    pytest.param({"idle_timeout": 0.0}, "idleTimeout must be longer than 0s", id="zero-idle"),
])
def test_session_values_that_are_refused(fields, message):
    assert message in sessions.problem(r.SessionPersistence(**fields))


def test_an_unnamed_session_gets_a_name_unique_to_its_rule():
    first = sessions.policy(r.SessionPersistence(), sessions.scope_of("ns", "r", 0), [], False, b"k")
    second = sessions.policy(r.SessionPersistence(), sessions.scope_of("ns", "r", 1), [], False, b"k")
    assert first.name.startswith("routeshift-session-") and first.name != second.name
