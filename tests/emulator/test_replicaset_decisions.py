"""The ReplicaSet controller's decisions (``workloads.replicas``): which Pods to add, which to remove first."""

import datetime

import pytest

from routeshift.emulator.workloads import replicas

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
RS = {"metadata": {"name": "web-abc", "namespace": "default", "uid": "rs-uid", "generation": 3},
      "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
               "template": {"metadata": {"labels": {"app": "web", "tier": "front"}},
                            "spec": {"containers": [{"name": "a", "image": "x"}]}}}}


def pod(name, *, phase="Running", ready=True, node="n", ready_since="2026-01-01T11:00:00Z", restarts=0,
        created="2026-01-01T10:00:00Z", labels=None, owner="rs-uid", deleting=False):
    meta = {"name": name, "creationTimestamp": created, "labels": labels or {"app": "web", "tier": "front"},
            "ownerReferences": [{"uid": owner, "controller": True, "kind": "ReplicaSet", "name": "web-abc"}]}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T12:00:30Z"
    return {"metadata": meta, "spec": {"nodeName": node} if node else {},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                                       "lastTransitionTime": ready_since}],
                       "containerStatuses": [{"name": "a", "restartCount": restarts}]}}


@pytest.mark.parametrize(("pods", "count", "first"), [
    pytest.param([pod("scheduled"), pod("unscheduled", node=None, ready=False, phase="Pending")], 1, ["unscheduled"],
                 id="unscheduled-first"),
    pytest.param([pod("running"), pod("pending", phase="Pending", ready=False)], 1, ["pending"], id="pending-first"),
    pytest.param([pod("ready"), pod("not-ready", ready=False)], 1, ["not-ready"], id="not-ready-first"),
    pytest.param([pod("long", ready_since="2026-01-01T09:00:00Z"), pod("recent", ready_since="2026-01-01T11:59:00Z")],
                 1, ["recent"], id="recently-ready-first"),
    pytest.param([pod("stable"), pod("flaky", restarts=4)], 1, ["flaky"], id="more-restarts-first"),
    pytest.param([pod("old"), pod("new", created="2026-01-01T11:00:00Z")], 1, ["new"], id="newer-first"),
    pytest.param([pod("a"), pod("b")], 0, [], id="none"),
])
def test_scale_down_removes_the_cheapest_pods_first(pods, count, first):
    assert [p["metadata"]["name"] for p in replicas.pods_to_delete(pods, count)] == first


def test_only_active_controlled_pods_count():
    pods = [pod("mine"), pod("theirs", owner="other"), pod("done", phase="Succeeded"), pod("going", deleting=True),
            pod("relabelled", labels={"app": "other"})]
    controlled = replicas.controlled_pods(RS, pods)
    assert [p["metadata"]["name"] for p in controlled] == ["mine", "done", "going"]
    assert replicas.diff(RS, replicas.active(controlled)) == 1


def test_status_counts_ready_available_and_fully_labeled_pods():
    spec = {**RS, "spec": {**RS["spec"], "minReadySeconds": 60}}
    pods = [pod("long"), pod("recent", ready_since="2026-01-01T11:59:30Z"), pod("starting", ready=False),
            pod("partial", labels={"app": "web"}), pod("going", deleting=True)]
    status = replicas.status(spec, pods, now=NOW)
    assert status == {"replicas": 4, "fullyLabeledReplicas": 3, "readyReplicas": 3, "availableReplicas": 2,
                      "terminatingReplicas": 1, "observedGeneration": 3}
    assert replicas.seconds_to_availability(spec, pods, NOW) == pytest.approx(30)


def test_a_new_pod_comes_from_the_template_with_a_controller_reference():
    new = replicas.pod_for(RS)
    assert new["metadata"]["generateName"] == "web-abc-"
    assert new["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert new["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc",
                                                   "uid": "rs-uid", "controller": True, "blockOwnerDeletion": True}]
    assert new["spec"] == RS["spec"]["template"]["spec"]
