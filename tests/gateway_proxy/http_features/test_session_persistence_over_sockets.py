"""``rules[].sessionPersistence`` over real sockets, in both builds and on the C data plane: a
client stays on the backend it was first weighted to, until that backend stops serving the rule
(weight 0 on rollback). (tests/gateway_proxy/dataplane/test_loop_sessions.py compares the C
loop's answers with the asyncio path's byte for byte.)

The GEP-1619 conformance outline is followed where Routeshift does not deliberately differ: the
first response sets the cookie, later requests with it reach the same backend whatever the
weights, a session cookie has no expiry and a permanent one has, and rules never share sessions.
Timeouts are shown with tokens minted for a past moment by the proxy's own key (no waiting).
"""

from __future__ import annotations

import collections
import http.cookies
import time

import pytest

from features_harness import deploy
from features_harness import served_by as proxy_of
from gateway_proxy import sessions
from gw_harness import backend, path_match, route, rule


@pytest.fixture(params=["pure", "compiled", "c-loop"])
def gw(request, proxies, c_loop):
    """The conftest's proxy of each hot-path build, then the C data plane's."""
    return proxy_of(request.param, proxies, c_loop)


def sticky_rule(backends, prefix="/", **persistence):
    item = rule(backends, [path_match(prefix)])
    item["sessionPersistence"] = persistence
    return item


def cookie_of(headers: dict) -> http.cookies.Morsel:
    jar = http.cookies.SimpleCookie()
    jar.load(headers["set-cookie"])
    (morsel,) = jar.values()
    return morsel


def served_by(gw, path="/", cookie=None, headers=None):
    fields = dict(headers or {})
    if cookie:
        fields["Cookie"] = cookie
    status, response_headers, _ = gw.request(path=path, headers=fields)
    assert status == 200
    return response_headers["x-backend"], response_headers


def deploy_split(gw, echo_factory, weights=(1, 1), **persistence):
    echoes = {"stable": echo_factory("stable"), "canary": echo_factory("canary")}
    deploy(gw, echoes, [route("r", [sticky_rule([backend("stable", weights[0]), backend("canary", weights[1])],
                                                **persistence)])])
    return echoes


def test_first_response_sets_a_session_cookie_and_the_client_stays(gw, echo_factory):
    deploy_split(gw, echo_factory, sessionName="app-session")
    first, headers = served_by(gw)
    morsel = cookie_of(headers)
    assert morsel.key == "app-session"
    assert (morsel["path"], morsel["httponly"], morsel["samesite"]) == ("/", True, "Lax")
    assert not morsel["expires"] and not morsel["max-age"]  # a session cookie (lifetimeType Session)
    assert "stable" not in morsel.value and "127.0.0.1" not in morsel.value  # opaque
    cookie = f"app-session={morsel.value}"
    for _ in range(30):
        backend_name, later = served_by(gw, cookie=cookie)
        assert backend_name == first
        assert "set-cookie" not in later  # the token stands; nothing to re-issue


def test_new_clients_are_still_split_by_weight(gw, echo_factory):
    deploy_split(gw, echo_factory, weights=(1, 1))
    counts = collections.Counter(served_by(gw)[0] for _ in range(20))
    assert set(counts) == {"stable", "canary"}  # 20 fresh clients all on one side: 2**-19


def test_a_pinned_client_is_moved_when_its_backend_gets_weight_zero(gw, echo_factory):
    echoes = deploy_split(gw, echo_factory, weights=(0, 1))
    name, headers = served_by(gw)
    assert name == "canary"
    cookie = "{}={}".format(*next((m.key, m.value) for m in [cookie_of(headers)]))
    # Rollback: the controller sets the canary's weight to 0 and the stable's back.
    deploy(gw, echoes, [route("r", [sticky_rule([backend("stable", 1), backend("canary", 0)])])])
    name, headers = served_by(gw, cookie=cookie)
    assert name == "stable"
    moved = cookie_of(headers)
    assert served_by(gw, cookie=f"{moved.key}={moved.value}")[0] == "stable"


def test_a_forged_token_is_weighted_afresh(gw, echo_factory):
    deploy_split(gw, echo_factory, weights=(1, 1), sessionName="s")
    first, headers = served_by(gw)
    token = cookie_of(headers).value
    tag, began, seen, mac = token.split(".")
    other = "canary" if first == "stable" else "stable"
    other_tag = sessions.backend_tag(sessions.signing_key(), sessions.scope_of("default", "r", 0), "default", other)
    forged = ".".join((other_tag, began, seen, mac))  # claims the other backend under the first one's signature
    for _ in range(5):
        name, headers = served_by(gw, cookie=f"s={forged}")
        assert "set-cookie" in headers  # refused: a new session, wherever the weights sent it
        issued = sessions.decode(_policy(gw), cookie_of(headers).value, time.time())
        assert issued.index == ("stable", "canary").index(name)


def test_rules_do_not_share_sessions(gw, echo_factory):
    echoes = {"stable": echo_factory("stable"), "canary": echo_factory("canary")}
    deploy(gw, echoes, [route("r", [sticky_rule([backend("stable")], "/a", sessionName="s"),
                                    sticky_rule([backend("canary")], "/b", sessionName="s")])])
    _, headers = served_by(gw, "/a")
    morsel = cookie_of(headers)
    assert morsel["path"] == "/a"
    name, headers = served_by(gw, "/b", cookie=f"s={morsel.value}")
    assert name == "canary"
    assert cookie_of(headers)["path"] == "/b"  # its own session, not /a's


def _policy(gw):
    (compiled_rule,) = [item for item in gw.runtime.compiled.rules if item.session is not None]
    return compiled_rule.session


@pytest.mark.parametrize("persistence, began_ago, seen_ago, kept", [
    pytest.param({"absoluteTimeout": "1h"}, 3500, 0, True, id="absolute-not-reached"),  # a loaded run takes seconds
    pytest.param({"absoluteTimeout": "1h"}, 3700, 0, False, id="absolute-elapsed"),
    pytest.param({"idleTimeout": "10m"}, 5000, 500, True, id="idle-not-reached"),
    pytest.param({"idleTimeout": "10m"}, 5000, 700, False, id="idle-elapsed"),
])
def test_timeouts_end_a_session(gw, echo_factory, persistence, began_ago, seen_ago, kept):
    deploy_split(gw, echo_factory, weights=(1, 1), sessionName="s", **persistence)
    policy = _policy(gw)
    now = int(time.time())
    pinned_to = {}
    for index in (0, 1):
        token = sessions.encode(policy, index, now - began_ago, now - seen_ago)
        names = {served_by(gw, cookie=f"s={token}")[0] for _ in range(12)}
        pinned_to[index] = names
    if kept:
        assert pinned_to == {0: {"stable"}, 1: {"canary"}}
    else:
        assert pinned_to[0] | pinned_to[1] == {"stable", "canary"}  # weighted afresh: 24 draws, both seen


def test_idle_timeout_refreshes_the_last_seen_time(gw, echo_factory):
    deploy_split(gw, echo_factory, weights=(1, 1), sessionName="s", idleTimeout="10m")
    policy = _policy(gw)
    now = int(time.time())
    token = sessions.encode(policy, 1, now - 100, now - 100)
    name, headers = served_by(gw, cookie=f"s={token}")
    assert name == "canary"
    refreshed = sessions.decode(policy, cookie_of(headers).value, time.time())
    assert (refreshed.index, refreshed.began) == (1, now - 100) and refreshed.seen >= now


def test_permanent_cookie_carries_its_expiry(gw, echo_factory):
    deploy_split(gw, echo_factory, sessionName="s", absoluteTimeout="5m",
                 cookieConfig={"lifetimeType": "Permanent"})
    morsel = cookie_of(served_by(gw)[1])
    assert morsel["max-age"] == "300"
    assert morsel["expires"].endswith("GMT")


def test_header_sessions_carry_the_token_in_a_header(gw, echo_factory):
    deploy_split(gw, echo_factory, type="Header", sessionName="X-Session")
    first, headers = served_by(gw)
    token = headers["x-session"]
    assert "set-cookie" not in headers
    for _ in range(20):
        assert served_by(gw, headers={"X-Session": token})[0] == first
