"""HTTPRoute ``sessionPersistence`` served by the C event loop, byte for byte as the asyncio path serves it.

A table with session persistence stays on the C loop (when it was built with OpenSSL's headers).
Both proxies run in this process, so they sign with the same key (sessions.signing_key); tokens
are minted here with the served policy for a moment relative to now. The canary backend has
weight 0, so a new session lands on the stable one on both paths whatever their random draws,
and a token naming the canary is re-pinned. A response carries the current second in its token:
a case is compared again when the second changed while it ran. (tests/gateway_proxy/
http_features/test_session_persistence_over_sockets.py runs the behaviour tests on the C loop too.)
"""

from __future__ import annotations

import time

import pytest

import dataplane_support
from gw_harness import backend, path_match, route, rule
from test_loop_parity import RawBackend, serving_pair
from gateway_proxy import sessions

_CORS = {"type": "CORS", "cors": {"allowOrigins": ["https://www.foo.com"], "allowMethods": ["GET"]}}


def _sticky(prefix, persistence, kind="PathPrefix", filters=None):
    item = rule([backend("a", 1), backend("b", 0)], [path_match(prefix, kind)], filters=filters)
    item["sessionPersistence"] = persistence
    return item


_ROUTES = [route("sticky", [
    _sticky("/cookie", {"sessionName": "s"}),
    _sticky("/idle", {"sessionName": "s", "idleTimeout": "10m"}),
    _sticky("/absolute", {"sessionName": "s", "absoluteTimeout": "1h"}),
    _sticky("/permanent", {"sessionName": "s", "absoluteTimeout": "5m", "cookieConfig": {"lifetimeType": "Permanent"}}),
    _sticky("/header", {"type": "Header", "sessionName": "X-Session"}),
    _sticky("^/re/[a-z]+/x", {"sessionName": "s"}, kind="RegularExpression"),
    _sticky("/cors", {"sessionName": "s"}, filters=[_CORS]),
    _sticky("/", {}),  # no sessionName: the rule's own default name
])]


def _request(path, *fields):
    return (b"GET " + path + b" HTTP/1.1\r\nHost: example.com\r\n" + b"".join(f + b"\r\n" for f in fields)
            + b"Connection: close\r\n\r\n")


def _token(policy, index, began_ago=0, seen_ago=0, now=None):
    now = int(time.time()) if now is None else now
    return sessions.encode(policy, index, now - began_ago, now - seen_ago).encode()


def _cases(policies):
    """(name, request bytes) for each case; tokens are minted now, so this runs per comparison."""
    cookie, idle, absolute, permanent, header, regex, cors, default = policies
    forged = _token(cookie, 0)[:-2] + b"AA"
    return [
        ("new-session", _request(b"/cookie/a")),
        ("valid-cookie-stands", _request(b"/cookie/a", b"Cookie: s=" + _token(cookie, 0))),
        ("weight-zero-backend-re-pinned", _request(b"/cookie/a", b"Cookie: s=" + _token(cookie, 1))),
        ("forged-weighed-afresh", _request(b"/cookie/a", b"Cookie: s=" + forged)),
        ("other-rules-token-refused", _request(b"/cookie/a", b"Cookie: s=" + _token(idle, 0))),
        ("first-valid-of-several", _request(b"/cookie/a", b"Cookie: x=1; s=" + forged + b";s=" + _token(cookie, 0))),
        ("quoted-and-spaced", _request(b"/cookie/a", b"Cookie: a=b,  s=\"" + _token(cookie, 0) + b"\" ")),
        ("two-cookie-lines", _request(b"/cookie/a", b"Cookie: x=1", b"Cookie: s=" + _token(cookie, 0))),
        ("name-is-case-sensitive", _request(b"/cookie/a", b"Cookie: S=" + _token(cookie, 0))),
        ("idle-refreshed", _request(b"/idle/a", b"Cookie: s=" + _token(idle, 0, 5000, 100))),
        ("idle-elapsed", _request(b"/idle/a", b"Cookie: s=" + _token(idle, 0, 5000, 700))),
        ("absolute-standing", _request(b"/absolute/a", b"Cookie: s=" + _token(absolute, 0, 3000))),
        ("absolute-elapsed", _request(b"/absolute/a", b"Cookie: s=" + _token(absolute, 0, 3700))),
        ("permanent-new", _request(b"/permanent/a")),
        ("permanent-re-pinned-starts-anew", _request(b"/permanent/a", b"Cookie: s=" + _token(permanent, 1, 100))),
        ("permanent-refreshed-expiry-left", _request(b"/permanent/a", b"Cookie: s=" + _token(permanent, 0, 100))),
        ("header-new", _request(b"/header/a")),
        ("header-valid", _request(b"/header/a", b"X-Session:  " + _token(header, 0))),
        ("header-twice-refused", _request(b"/header/a", b"X-Session: " + _token(header, 0),
                                          b"x-session: " + _token(header, 0))),
        ("header-cookie-ignored", _request(b"/header/a", b"Cookie: X-Session=" + _token(header, 0))),
        ("regex-path", _request(b"/re/abc/x")),
        ("with-cors-fields", _request(b"/cors/a", b"Origin: https://www.foo.com")),
        ("default-name", _request(b"/other")),
        ("default-name-valid", _request(b"/other", b"Cookie: " + default.name.encode() + b"=" + _token(default, 0))),
        ("head", _request(b"/cookie/a").replace(b"GET", b"HEAD", 1)),
        ("no-content", _request(b"/204")),
        ("keep-alive-twice", _request(b"/cookie/a").replace(b"Connection: close\r\n", b"") + _request(b"/cookie/b")),
    ]


_CASE_IDS = ["new-session", "valid-cookie-stands", "weight-zero-backend-re-pinned", "forged-weighed-afresh",
             "other-rules-token-refused", "first-valid-of-several", "quoted-and-spaced", "two-cookie-lines",
             "name-is-case-sensitive", "idle-refreshed", "idle-elapsed", "absolute-standing", "absolute-elapsed",
             "permanent-new", "permanent-re-pinned-starts-anew", "permanent-refreshed-expiry-left", "header-new", "header-valid",
             "header-twice-refused", "header-cookie-ignored", "regex-path", "with-cors-fields", "default-name",
             "default-name-valid", "head", "no-content", "keep-alive-twice"]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Both data paths serving _ROUTES, and the served policies in rule order."""
    dataplane_support.compiled("loop_sessions")  # built only with OpenSSL's headers (libssl-dev)
    with serving_pair(tmp_path_factory, "sessions", {"a": RawBackend("a"), "b": RawBackend("b")},
                      _ROUTES) as running:
        yield running


def _policies(proxy):
    """The served sessions.Policy of each rule of _ROUTES, in rule order."""
    by_scope = {item.session.scope: item.session for item in proxy.runtime.compiled.rules if item.session is not None}
    return [by_scope[sessions.scope_of("default", "sticky", index)] for index in range(len(by_scope))]


@pytest.mark.parametrize("case", _CASE_IDS)
def test_session_answers_are_the_asyncio_paths_bytes(pair, case):
    plane = pair.candidate.runtime.plane
    assert plane.serving_c is True, plane.reason  # session persistence no longer sends the table to asyncio
    served_by_c = plane.loop.stats[1]
    for _ in range(5):
        second = int(time.time())
        cases = dict(_cases(_policies(pair.reference)))
        assert list(cases) == _CASE_IDS  # every case is compared
        data = cases[case]
        (reference, reference_seen), (candidate, candidate_seen) = pair.both(data, half_close=False)
        if int(time.time()) == second:
            break  # both answered within the second their tokens carry
    assert candidate == reference
    assert candidate_seen == reference_seen
    assert plane.loop.stats[1] > served_by_c
