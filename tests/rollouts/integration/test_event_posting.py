"""Kubernetes Events about a Canary, posted by the controller's own client against the emulated API."""

from __future__ import annotations

import pytest

from operator_harness import CANARIES, canary
from rollouts import metrics, patching
from rollouts.event_posting import EventPoster


@pytest.fixture
async def poster(cluster):
    client = patching.Cluster(patching.Connection(server=cluster.url))
    events = EventPoster(client, workers=2, instance="test-replica")
    events.start()
    yield events
    await events.stop()
    await client.close()


def _events(cluster) -> list[dict]:
    return [e for e in cluster.objects("v1/events", "default") if e["involvedObject"].get("kind") == "Canary"]


async def test_events_name_the_canary_and_show_in_kubectl_describe(cluster, poster, kubectl):
    body = cluster.create(CANARIES, canary(), "default")
    poster.post(body, "Normal", "Progressing", "step 1 of 5: web-v2 at 5%")
    poster.post(body, "Warning", "RollbackStarted", "error rate 7.2% above 5%")
    assert await poster.flush(10.0)

    events = sorted(_events(cluster), key=lambda e: e["reason"])
    assert [(e["type"], e["reason"]) for e in events] == [("Normal", "Progressing"), ("Warning", "RollbackStarted")]
    ref = events[0]["involvedObject"]
    assert (ref["kind"], ref["name"], ref["namespace"], ref["uid"]) == ("Canary", "web", "default",
                                                                         body["metadata"]["uid"])
    assert events[0]["source"]["component"] == "routeshift-controller"
    assert events[0]["reportingInstance"] == "test-replica"
    described = kubectl("describe", "canaries.routeshift.dev", "web", "-n", "default")
    assert described.returncode == 0, described.stderr
    assert "RollbackStarted" in described.stdout and "error rate 7.2% above 5%" in described.stdout
    assert "routeshift-controller" in described.stdout  # the From column


async def test_a_refused_event_is_dropped_and_later_ones_still_go_out(cluster, poster):
    body = cluster.create(CANARIES, canary(), "default")
    cluster.faults.inject(method="POST", path=r"/events$", status=500, times=1)
    poster.post(body, "Normal", "First", "refused by the API")
    assert await poster.flush(10.0)
    poster.post(body, "Normal", "Second", "accepted")
    assert await poster.flush(10.0)

    assert [e["reason"] for e in _events(cluster)] == ["Second"]
    assert (poster.failed, poster.posted) == (1, 1)
    exported = metrics.Metrics()
    exported.follow_client(poster.cluster, events=poster)
    assert [exported.registry.get_sample_value("routeshift_events_total", {"result": result})
            for result in ("posted", "failed", "dropped")] == [1.0, 1.0, 0.0]
    assert exported.registry.get_sample_value("routeshift_events_queued") == 0.0


async def test_a_long_message_is_cut_to_what_the_api_accepts(cluster, poster):
    body = cluster.create(CANARIES, canary(), "default")
    poster.post(body, "Normal", "Progressing", "x" * 5000)
    assert await poster.flush(10.0)
    (event,) = _events(cluster)
    assert len(event["message"]) == 1000


def test_a_backlog_beyond_its_bound_drops_the_oldest_events():
    events = EventPoster(patching.Cluster(patching.Connection(server="http://127.0.0.1:9")), backlog=3)
    body = {"apiVersion": "routeshift.dev/v1alpha1", "kind": "Canary", "metadata": {"name": "web", "namespace": "a"}}
    for n in range(5):
        events.post(body, "Normal", f"Step{n}", "queued while the API server is away")
    assert events.dropped == 2
    assert [e["reason"] for e in events.queued] == ["Step2", "Step3", "Step4"]
    exported = metrics.Metrics()
    exported.follow_client(events.cluster, events=events)
    assert exported.registry.get_sample_value("routeshift_events_total", {"result": "dropped"}) == 2.0
    assert exported.registry.get_sample_value("routeshift_events_queued") == 3.0
