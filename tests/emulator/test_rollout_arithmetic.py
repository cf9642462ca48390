"""The Deployment controller's decisions (``workloads.rollout``), checked against upstream's arithmetic."""

import datetime

import pytest

from routeshift.emulator.workloads import rollout

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
STAMP = "2026-01-01T12:00:00Z"


def deployment(replicas=2, *, surge=None, unavailable=None, strategy="RollingUpdate", generation=1, status=None,
               **spec):
    rolling = {k: v for k, v in (("maxSurge", surge), ("maxUnavailable", unavailable)) if v is not None}
    body = {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": strategy, **({"rollingUpdate": rolling} if rolling else {})},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a", "image": "x"}]}},
            **spec}
    return {"metadata": {"name": "web", "namespace": "default", "uid": "d-uid", "generation": generation},
            "spec": body, "status": status or {}}


def rs(name, replicas, available=None, *, actual=None, ready=None, created="2026-01-01T00:00:00Z", revision=1):
    available = replicas if available is None else available
    return {"metadata": {"name": name, "creationTimestamp": created,
                         "annotations": {rollout.REVISION: str(revision)}},
            "spec": {"replicas": replicas},
            "status": {"replicas": replicas if actual is None else actual, "availableReplicas": available,
                       "readyReplicas": available if ready is None else ready}}


@pytest.mark.parametrize(("replicas", "surge", "unavailable", "expected"), [
    pytest.param(10, None, None, (3, 2), id="25%-of-10-surge-up-unavailable-down"),
    pytest.param(4, None, None, (1, 1), id="25%-of-4-exact"),
    pytest.param(1, None, None, (1, 0), id="one-replica"),
    pytest.param(3, "50%", "30%", (2, 0), id="percentages"),
    pytest.param(5, 2, 1, (2, 1), id="integers"),
    pytest.param(5, 0, 0, (0, 1), id="never-both-zero"),
    pytest.param(0, None, None, (0, 1), id="scaled-to-zero"),
])
def test_fenceposts_round_as_kubernetes(replicas, surge, unavailable, expected):
    assert rollout.fenceposts(deployment(replicas, surge=surge, unavailable=unavailable)) == expected


@pytest.mark.parametrize(("spec", "new", "old", "expected"), [
    pytest.param(deployment(2), rs("new", 0, 0), [rs("old", 2)], {"new": 1}, id="surge-one-new-pod"),
    pytest.param(deployment(2), rs("new", 1, 0), [rs("old", 2)], {}, id="wait-for-the-new-pod"),
    pytest.param(deployment(2), rs("new", 1, 1), [rs("old", 2)], {"old": 1}, id="then-one-old-down"),
    pytest.param(deployment(2), rs("new", 1, 1), [rs("old", 1)], {"new": 2}, id="then-the-second-new-up"),
    pytest.param(deployment(2), rs("new", 2, 2), [rs("old", 1)], {"old": 0}, id="last-old-down"),
    pytest.param(deployment(2), rs("new", 2, 2), [rs("old", 0)], {}, id="done"),
    pytest.param(deployment(4, surge=1, unavailable=1), rs("new", 1, 0), [rs("old", 4, 2)], {"old": 3},
                 id="unhealthy-old-replicas-go-first"),
    pytest.param(deployment(4, surge=0, unavailable=2), rs("new", 0, 0), [rs("old", 4)], {"old": 2},
                 id="no-surge-scales-old-down-first"),
    pytest.param(deployment(2), rs("new", 3, 3), [], {"new": 2}, id="new-above-desired-scales-down"),
    pytest.param(deployment(0), rs("new", 2, 2), [], {"new": 0}, id="scale-to-zero"),
    pytest.param(deployment(0), rs("new", 0, 0), [rs("old", 2)], {"old": 0}, id="scale-to-zero-mid-rollout"),
    pytest.param(deployment(10), rs("new", 0, 0), [rs("old", 10)], {"new": 3}, id="ten-replicas-surge-three"),
    pytest.param(deployment(10), rs("new", 3, 3), [rs("older", 5, created="2025-01-01T00:00:00Z"), rs("old", 5)],
                 {"older": 0}, id="oldest-old-first"),
])
def test_rolling_update_takes_one_step_at_a_time(spec, new, old, expected):
    assert rollout.rolling_step(spec, new, old) == expected


@pytest.mark.parametrize(("new", "old", "running", "expected"), [
    pytest.param(None, [rs("old", 2)], True, {"old": 0}, id="old-scaled-to-zero-first"),
    pytest.param(None, [rs("old", 0)], True, {}, id="waits-for-old-pods"),
    pytest.param(rs("new", 0, 0), [rs("old", 0)], False, {"new": 3}, id="then-new-all-at-once"),
    pytest.param(rs("new", 3), [rs("old", 0)], False, {}, id="done"),
])
def test_recreate(new, old, running, expected):
    assert rollout.recreate_step(deployment(3, strategy="Recreate"), new, old, running) == expected


@pytest.mark.parametrize(("spec", "new", "old", "expected"), [
    pytest.param(deployment(3), rs("new", 2), [rs("old", 0)], {"new": 3}, id="one-active-follows"),
    pytest.param(deployment(3), None, [rs("old", 2)], {"old": 3}, id="template-changed-while-paused"),
    pytest.param(deployment(3), rs("new", 1), [rs("old", 1)], {}, id="mid-rollout-left-alone"),
])
def test_a_paused_deployment_still_scales(spec, new, old, expected):
    assert rollout.scale_step(spec, new, old) == expected


def _conditions(status):
    return {c["type"]: (c["status"], c["reason"]) for c in status.get("conditions", [])}


def progressing(reason, status="True", updated="2026-01-01T11:59:00Z"):
    return {"type": "Progressing", "status": status, "reason": reason, "message": "m",
            "lastUpdateTime": updated, "lastTransitionTime": updated}


@pytest.mark.parametrize(("spec", "new", "others", "created", "counts", "conditions"), [
    pytest.param(deployment(2), rs("new", 2), [], False,
                 {"replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2},
                 {"Available": ("True", "MinimumReplicasAvailable"), "Progressing": ("True", "NewReplicaSetAvailable")},
                 id="complete"),
    pytest.param(deployment(2), rs("new", 1, 0, ready=0), [rs("old", 2)], True,
                 {"replicas": 3, "updatedReplicas": 1, "readyReplicas": 2, "availableReplicas": 2,
                  "unavailableReplicas": 1},
                 {"Available": ("True", "MinimumReplicasAvailable"), "Progressing": ("True", "NewReplicaSetCreated")},
                 id="new-replica-set-created"),
    pytest.param(deployment(2, status={"updatedReplicas": 1, "replicas": 3,
                                       "conditions": [progressing("NewReplicaSetCreated")]}),
                 rs("new", 2, 0, ready=0), [rs("old", 1)], False,
                 {"replicas": 3, "updatedReplicas": 2, "availableReplicas": 1, "readyReplicas": 1,
                  "unavailableReplicas": 2},
                 {"Available": ("False", "MinimumReplicasUnavailable"), "Progressing": ("True", "ReplicaSetUpdated")},
                 id="progress"),
    pytest.param(deployment(2, progressDeadlineSeconds=30,
                            status={"updatedReplicas": 2, "replicas": 2,
                                    "conditions": [progressing("ReplicaSetUpdated", updated="2026-01-01T11:59:00Z")]}),
                 rs("new", 2, 0, ready=0), [], False,
                 {"replicas": 2, "updatedReplicas": 2, "unavailableReplicas": 2},
                 {"Available": ("False", "MinimumReplicasUnavailable"),
                  "Progressing": ("False", "ProgressDeadlineExceeded")},
                 id="deadline-exceeded"),
    pytest.param(deployment(2, status={"updatedReplicas": 2, "replicas": 2,
                                       "conditions": [progressing("ReplicaSetUpdated", updated="2026-01-01T11:59:50Z")]}),
                 rs("new", 2, 0, ready=0), [], False,
                 {"replicas": 2, "updatedReplicas": 2, "unavailableReplicas": 2},
                 {"Available": ("False", "MinimumReplicasUnavailable"), "Progressing": ("True", "ReplicaSetUpdated")},
                 id="within-the-default-deadline"),
    pytest.param(deployment(2, paused=True), rs("new", 2), [], False,
                 {"replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2},
                 {"Available": ("True", "MinimumReplicasAvailable"), "Progressing": ("Unknown", "DeploymentPaused")},
                 id="paused"),
    pytest.param(deployment(0), rs("new", 0), [], False, {},
                 {"Available": ("True", "MinimumReplicasAvailable"), "Progressing": ("True", "NewReplicaSetAvailable")},
                 id="scaled-to-zero-omits-zero-counts"),
])
def test_status(spec, new, others, created, counts, conditions):
    status = rollout.status(spec, new, [new, *others], now=NOW, created=created)
    assert {k: v for k, v in status.items() if k not in ("conditions", "observedGeneration")} == counts
    assert status["observedGeneration"] == 1
    assert _conditions(status) == conditions


def test_a_timed_out_rollout_is_looked_at_again_when_its_deadline_passes():
    spec = deployment(2, progressDeadlineSeconds=30,
                      status={"conditions": [progressing("ReplicaSetUpdated", updated="2026-01-01T11:59:50Z")]})
    assert rollout.seconds_to_deadline(spec, spec["status"], NOW) == pytest.approx(21)
    done = {"conditions": [progressing("NewReplicaSetAvailable")]}
    assert rollout.seconds_to_deadline(spec, done, NOW) is None


def test_template_hash_is_stable_ten_characters_and_ignores_its_own_label():
    template = deployment()["spec"]["template"]
    first = rollout.template_hash(template)
    assert len(first) == 10 and first == rollout.template_hash(template)
    labelled = {**template, "metadata": {"labels": {"app": "web", rollout.HASH_LABEL: first}}}
    assert rollout.template_hash(labelled) == first
    assert rollout.template_hash(template, collision_count=1) != first
    other = {**template, "spec": {"containers": [{"name": "a", "image": "y"}]}}
    assert rollout.template_hash(other) != first


def test_new_replica_set_carries_the_hash_owner_and_revision():
    body = rollout.new_replica_set(deployment(3), "abcde12345", 4, 1)
    assert body["metadata"]["name"] == "web-abcde12345"
    assert body["spec"]["selector"]["matchLabels"] == {"app": "web", rollout.HASH_LABEL: "abcde12345"}
    assert body["spec"]["template"]["metadata"]["labels"][rollout.HASH_LABEL] == "abcde12345"
    assert body["metadata"]["annotations"][rollout.REVISION] == "4"
    owner = body["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("Deployment", "d-uid", True)


def test_history_beyond_the_limit_goes_lowest_revision_first():
    old = [rs(f"r{n}", 0, revision=n) for n in (3, 1, 2)] + [rs("busy", 1, revision=0)]
    assert rollout.history_to_delete(deployment(revisionHistoryLimit=1), old) == ["r1", "r2"]
    assert rollout.history_to_delete(deployment(), old) == []
