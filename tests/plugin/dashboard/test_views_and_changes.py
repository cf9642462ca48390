"""What a page is sent: the view of a Canary, and only the views that changed (no I/O)."""

from __future__ import annotations

import pytest
from plugin_world import canary_manifest, route_manifest, status, workload_canary_manifest

from routeshift.plugin.dashboard import board, guard, views

ROUTE_KEY = ("default", "web")


def served(manifest: dict, status_body: dict | None = None) -> dict:
    obj = {**manifest, "metadata": {**manifest["metadata"], "generation": 1, "creationTimestamp": "2026-01-01T00:00:00Z"}}
    return obj | ({"status": status_body} if status_body else {})


def test_workload_view_shows_both_revisions_and_the_last_rollback():
    obj = served(workload_canary_manifest(), status(
        "Progressing", release="7d9f", workload={
            "revision": "5c4b", "images": {"podinfo": "ghcr.io/stefanprodan/podinfo:6.5.0"},
            "canaryImages": {"podinfo": "ghcr.io/stefanprodan/podinfo:6.6.0"},
            "failed": {"revision": "1a2b", "images": {"podinfo": "ghcr.io/stefanprodan/podinfo:6.5.9"},
                       "reason": "request-success-rate 80 below 99", "time": "2026-01-01T00:00:00Z"}}))
    view = views.canary_view(obj, {}, views.RouteScope("default", listed=True))
    assert view["release"] == "7d9f"
    assert view["backends"] == {"stable": "podinfo-primary", "canary": "podinfo-canary"}
    assert view["workload"] == {
        "target": "podinfo", "primary": "podinfo-primary", "canaryService": "podinfo-canary",
        "primaryRevision": "5c4b", "primaryImages": {"podinfo": "ghcr.io/stefanprodan/podinfo:6.5.0"},
        "canaryRevision": "7d9f", "canaryImages": {"podinfo": "ghcr.io/stefanprodan/podinfo:6.6.0"},
        "canaryState": "rolling out",
        "failed": {"revision": "1a2b", "images": {"podinfo": "ghcr.io/stefanprodan/podinfo:6.5.9"},
                   "reason": "request-success-rate 80 below 99", "time": "2026-01-01T00:00:00Z"}}
    assert views.canary_view(served(canary_manifest()), {}, views.RouteScope("default"))["workload"] is None


@pytest.mark.parametrize("scope, routes, expected", [
    pytest.param(views.RouteScope("default"), {}, ("unknown", "not listed yet"), id="before-the-first-list"),
    pytest.param(views.RouteScope("default", listed=True), {}, ("missing", "HTTPRoute not found"), id="missing"),
    pytest.param(views.RouteScope("default", listed=True, problem="cannot watch HTTPRoutes: access denied (403)"),
                 {ROUTE_KEY: route_manifest(90, 10)}, ("unknown", "cannot watch HTTPRoutes: access denied (403)"),
                 id="not-watchable"),
    pytest.param(views.RouteScope("other", listed=True), {}, ("unknown", "namespace default is not watched: run the "
                                                                         "dashboard with -A"), id="outside-scope"),
    pytest.param(views.RouteScope(None, listed=True), {ROUTE_KEY: route_manifest(80, 20)}, ("found", ""),
                 id="watched"),
])
def test_observed_split_says_why_it_is_unknown(scope, routes, expected):
    [route] = views.canary_view(served(canary_manifest()), routes, scope)["routes"]
    assert (route["state"], route["note"]) == expected
    if route["state"] == "found":
        assert route["splits"] == [{"stable": 80, "canary": 20, "canaryPercent": 20.0}]


def test_board_reports_only_what_changed():
    shown = board.Board(namespace="default")
    web, api = served(canary_manifest("web")), served(canary_manifest("api"))
    first = shown.replace_canaries({("default", "web"): web, ("default", "api"): api})
    assert [v["name"] for v in first.updated] == ["api", "web"] and first.deleted == ()
    assert not shown.replace_canaries({("default", "web"): web, ("default", "api"): api})

    # A route write changes the observed split of the Canaries that reference it, and nothing else.
    changed = shown.replace_routes({ROUTE_KEY: route_manifest(50, 50)})
    assert sorted(v["name"] for v in changed.updated) == ["api", "web"]
    assert not shown.replace_routes({ROUTE_KEY: route_manifest(50, 50)})

    paused = served(canary_manifest("web"), status("Paused"))
    changed = shown.replace_canaries({("default", "web"): paused})
    assert [v["phase"] for v in changed.updated] == ["Paused"] and changed.deleted == (("default", "api"),)
    assert [v["name"] for v in shown.items()] == ["web"]


@pytest.mark.parametrize("token, headers, refused", [
    pytest.param(None, {"Host": "127.0.0.1:3100", guard.TOKEN_HEADER: "t"}, 403, id="read-only"),
    pytest.param("t", {"Host": "127.0.0.1:3100", guard.TOKEN_HEADER: "t"}, None, id="token-no-browser-headers"),
    pytest.param("t", {"Host": "localhost:3100", guard.TOKEN_HEADER: "t", "Origin": "http://localhost:3100",
                       "Sec-Fetch-Site": "same-origin"}, None, id="same-origin-page"),
    pytest.param("t", {"Host": "127.0.0.1:3100", guard.TOKEN_HEADER: "t", "Origin": "http://127.0.0.1:8080"},
                 403, id="other-local-port"),
    pytest.param("t", {"Host": "127.0.0.1:3100", guard.TOKEN_HEADER: "t", "Origin": "null"}, 403, id="sandboxed-frame"),
    pytest.param("t", {"Host": "127.0.0.1:3100", guard.TOKEN_HEADER: "t", "Sec-Fetch-Site": "same-site"}, 403,
                 id="same-site-other-port"),
    pytest.param("t", {"Host": "127.0.0.1:3101", guard.TOKEN_HEADER: "t"}, 421, id="wrong-port-host"),
    pytest.param("t", {"Host": "127.0.0.1:3100", guard.TOKEN_HEADER: "T"}, 403, id="token-case-matters"),
])
def test_guard_decides_operations(token, headers, refused):
    decision = guard.Guard(port=3100, token=token).check_action(headers)
    assert (decision.status if decision else None) == refused
