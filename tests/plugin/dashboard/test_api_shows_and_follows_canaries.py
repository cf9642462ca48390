"""The dashboard's JSON API and event stream, read as the page reads them, against the emulator."""

from __future__ import annotations

import plugin_world
from plugin_world import CANARIES, ROUTES, metric, status

from routeshift.testing.polling import until


def own_route(world, name: str, stable: int = 100, canary: int = 0) -> None:
    """An HTTPRoute ``name`` carrying web-v1/web-v2 at these weights, for one test's Canary alone."""
    route = plugin_world.route_manifest(stable, canary)
    route["metadata"]["name"] = name
    world.api.create(ROUTES, route, "default")


def test_api_shows_phase_weights_observed_split_metrics_and_decisions(shared_world, unique_canary, dashboard):
    own_route(shared_world, "split-90-10", 90, 10)
    name = unique_canary(routeRef={"name": "split-90-10"})
    shared_world.set_status(status("Progressing", canary_weight=10, metrics=[
        metric(97.25, "Inconclusive", samples=12, reason="insufficient traffic 12/50")]), name)
    running = dashboard()

    info = running.get("/api/v1/info").json()
    assert (info["namespace"], info["allNamespaces"], info["actionsAllowed"]) == ("default", False, False)

    until(lambda: running.view(name)["phase"] == "Progressing", 15, description="the status reaching the dashboard")
    listed = {v["name"]: v for v in running.get("/api/v1/canaries").json()["items"]}
    assert (listed[name]["namespace"], listed[name]["phase"]) == ("default", "Progressing")
    view = running.view(name)
    assert view == listed[name]
    assert view["weights"] == {"stable": 90, "canary": 10}
    assert view["step"]["label"] == "1/3" and view["step"]["plan"] == ["10%", "50%", "promote 100%"]
    [route] = view["routes"]
    assert (route["name"], route["splits"]) == ("split-90-10", [{"stable": 90, "canary": 10, "canaryPercent": 10.0}])
    [judged] = view["metrics"]
    assert (judged["metric"], judged["value"], judged["bound"], judged["verdict"]) == (
        "request-success-rate", 97.25, ">= 99", "Inconclusive")
    assert (judged["sampleSize"], judged["minSampleSize"]) == (12, 50)
    assert view["decisions"][0]["reason"] == "Progressing at canary 10%"
    assert view["decisions"][0]["metrics"][0]["value"] == 97.25
    assert "request-success-rate: Inconclusive: insufficient traffic 12/50" in view["holds"]
    assert view["operations"]["pause"]["applies"] is True
    assert view["operations"]["retry"] == {
        "applies": False, "reason": f"retry: canary default/{name} is Progressing: only a failed or aborted "
                                    "rollout can be retried"}

    missing = running.get("/api/v1/canaries/default/nope")
    assert missing.status_code == 404 and "default/nope" in missing.json()["error"]


def test_event_stream_pushes_status_route_and_deletion_changes(shared_world, unique_canary, dashboard, read_events):
    own_route(shared_world, "followed")
    name = unique_canary(routeRef={"name": "followed"})
    shared_world.set_status(status("Progressing", canary_weight=10), name)
    running = dashboard()
    events = read_events(running)
    assert events.response.headers["content-type"].startswith("text/event-stream")
    event, snapshot = events.next()
    assert event == "snapshot" and isinstance(snapshot["items"], list)

    shared_world.set_status(status("Paused", step=1, canary_weight=50), name)
    _, view = events.until(lambda e, d: e == "canary" and d["name"] == name and d["phase"] == "Paused")
    assert view["weights"] == {"stable": 50, "canary": 50} and view["step"]["label"] == "2/3"

    # The gateway side: the route's weights are the observed split, followed by their own watch.
    shared_world.api.patch(ROUTES, "default", "followed", plugin_world.route_manifest(50, 50))
    _, view = events.until(lambda e, d: e == "canary" and d["name"] == name
                           and d["routes"][0]["splits"][0]["canary"] == 50)
    assert view["routes"][0]["splits"][0]["canaryPercent"] == 50.0

    shared_world.api.delete(CANARIES, "default", name)
    _, gone = events.until(lambda e, d: e == "deleted")
    assert gone == {"namespace": "default", "name": name}
    assert name not in [v["name"] for v in running.get("/api/v1/canaries").json()["items"]]


def test_namespace_scope_and_all_namespaces(shared_world, unique_canary, dashboard):
    name = unique_canary()
    shared_world.api.create("v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": "team-b"}})
    other = plugin_world.canary_manifest("api")
    other["metadata"]["namespace"] = "team-b"
    shared_world.api.create(CANARIES, other, "team-b")

    scoped, everywhere = dashboard(), dashboard("-A")
    until(lambda: everywhere.get("/api/v1/canaries/team-b/api").status_code == 200, 15,
          description="the -A dashboard seeing team-b/api")
    assert ("team-b", "api") not in [(v["namespace"], v["name"]) for v in scoped.get("/api/v1/canaries").json()["items"]]
    assert scoped.get("/api/v1/canaries/team-b/api").status_code == 404
    keys = [(v["namespace"], v["name"]) for v in everywhere.get("/api/v1/canaries").json()["items"]]
    assert ("default", name) in keys and ("team-b", "api") in keys and keys == sorted(keys)
    assert everywhere.get("/api/v1/info").json()["allNamespaces"] is True
    # Its route "web" would be in team-b, where there is none: said so, not guessed.
    assert everywhere.view("api", "team-b")["routes"][0]["state"] == "missing"

    # Without -A, a route in another namespace is outside the watch.
    shared_world.api.patch(CANARIES, "default", name, {"spec": {"routeRef": {"name": "web", "namespace": "team-b"}}})
    until(lambda: scoped.view(name)["routes"][0]["note"] == "namespace team-b is not watched: run the dashboard "
                                                            "with -A", 15, description="the spec change followed")


def test_workload_canary_shows_its_revisions(shared_world, dashboard):
    shared_world.create_workload_canary("podinfo")
    shared_world.set_status(status("Progressing", release="7d9f", workload={
        "revision": "5c4b", "images": {"podinfo": "ghcr.io/stefanprodan/podinfo:6.5.0"},
        "canaryImages": {"podinfo": "ghcr.io/stefanprodan/podinfo:6.6.0"}}), "podinfo")
    running = dashboard()
    until(lambda: running.get("/api/v1/canaries/default/podinfo").status_code == 200
          and running.view("podinfo")["release"] == "7d9f", 15, description="the workload Canary's status")
    workload = running.view("podinfo")["workload"]
    assert (workload["target"], workload["primaryRevision"], workload["canaryRevision"], workload["canaryState"]) == (
        "podinfo", "5c4b", "7d9f", "rolling out")
    assert workload["canaryImages"] == {"podinfo": "ghcr.io/stefanprodan/podinfo:6.6.0"}
