"""What the Deployment controller decides, as pure functions of the objects it reads.

The arithmetic is kube-controller-manager's (``pkg/controller/deployment``): the pod-template
hash that names a ReplicaSet, the new ReplicaSet found by template equality, revisions,
``maxSurge`` rounded up and ``maxUnavailable`` rounded down (both 1 at worst), one scaling
step at a time (the new ReplicaSet up first, then old ones down, unhealthy replicas first),
Recreate, history cleanup, and the status with its ``Available`` and ``Progressing``
conditions including the progress deadline. The I/O around it is
:mod:`routeshift.emulator.workloads.deployments`; tests drive this module with tables.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from routeshift.emulator import jsondata
from routeshift.emulator.workloads import objects

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
DEFAULT_DEADLINE = 600
DEFAULT_HISTORY = 10
# rand.SafeEncodeString's alphabet: no vowels, no 0/1/3, so a hash never spells a word.
_SAFE = "bcdfghjklmnpqrstvwxz2456789"

AVAILABLE, PROGRESSING = "Available", "Progressing"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_CREATED = "NewReplicaSetCreated"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED, RESUMED = "DeploymentPaused", "DeploymentResumed"

RS = dict[str, Any]


# ---------------------------------------------------------------- identity


def template_hash(template: dict[str, Any], collision_count: int = 0) -> str:
    """A stable 10-character name suffix for a pod template (``controller.ComputeHash``)."""
    canonical = json.dumps(_without_hash(template), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(f"{canonical}/{collision_count}".encode()).digest()
    number = f"{int.from_bytes(digest[:4], 'big'):010d}"
    return "".join(_SAFE[ord(char) % len(_SAFE)] for char in number)


def _without_hash(template: dict[str, Any]) -> dict[str, Any]:
    stripped = jsondata.copy(template or {})
    labels = (stripped.get("metadata") or {}).get("labels")
    if labels is not None:
        labels.pop(HASH_LABEL, None)
        if not labels:
            stripped["metadata"].pop("labels")
    if stripped.get("metadata") == {}:
        stripped.pop("metadata")
    return stripped


def same_template(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """``EqualIgnoreHash``: pod templates equal once the hash label is set aside."""
    return _without_hash(a) == _without_hash(b)


def replicas(obj: dict[str, Any]) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def status_count(obj: dict[str, Any], field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


def revision(obj: dict[str, Any]) -> int:
    try:
        return int(objects.annotations(obj).get(REVISION, "0"))
    except ValueError:
        return 0


def find_new(deployment: dict[str, Any], owned: Sequence[RS]) -> RS | None:
    """The oldest owned ReplicaSet whose template is the Deployment's (``FindNewReplicaSet``)."""
    template = (deployment.get("spec") or {}).get("template") or {}
    matching = [rs for rs in owned if same_template((rs.get("spec") or {}).get("template") or {}, template)]
    return min(matching, key=_age_key) if matching else None


def _age_key(rs: RS) -> tuple[str, str]:
    meta = objects.meta(rs)
    return (meta.get("creationTimestamp") or "", meta.get("name") or "")


def new_replica_set(deployment: dict[str, Any], pod_hash: str, new_revision: int, count: int) -> RS:
    """The ReplicaSet body for the Deployment's current template (``getNewReplicaSet``)."""
    spec = deployment.get("spec") or {}
    template = jsondata.copy(spec.get("template") or {})
    template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
    selector = jsondata.copy(spec.get("selector") or {})
    selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
    name = objects.meta(deployment)["name"]
    rs_spec: dict[str, Any] = {"replicas": count, "selector": selector, "template": template}
    if spec.get("minReadySeconds"):
        rs_spec["minReadySeconds"] = spec["minReadySeconds"]
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": f"{name}-{pod_hash}",
            "namespace": objects.meta(deployment).get("namespace"),
            "labels": dict(template["metadata"]["labels"]),
            "annotations": {**_replica_annotations(deployment), REVISION: str(new_revision)},
            "ownerReferences": [objects.controller_reference(deployment, "apps/v1", "Deployment")],
        },
        "spec": rs_spec,
    }


def _replica_annotations(deployment: dict[str, Any]) -> dict[str, str]:
    want = replicas(deployment)
    surge, _ = fenceposts(deployment) if _rolling(deployment) else (0, 0)
    return {DESIRED_REPLICAS: str(want), MAX_REPLICAS: str(want + surge)}


def annotations_for(deployment: dict[str, Any], rs: RS, new_revision: int | None) -> dict[str, str]:
    """The ReplicaSet's annotations as the controller keeps them (revision, desired/max replicas)."""
    annotations = dict(objects.annotations(rs))
    annotations.update(_replica_annotations(deployment))
    if new_revision is not None:
        annotations[REVISION] = str(new_revision)
    return annotations


# ---------------------------------------------------------------- strategy


def _rolling(deployment: dict[str, Any]) -> bool:
    strategy = (deployment.get("spec") or {}).get("strategy") or {}
    return strategy.get("type", "RollingUpdate") == "RollingUpdate"


def fenceposts(deployment: dict[str, Any]) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) in Pods: surge rounds up, unavailable down, never both 0."""
    rolling = ((deployment.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    want = replicas(deployment)
    surge = objects.scaled(rolling.get("maxSurge"), want, round_up=True)
    unavailable = objects.scaled(rolling.get("maxUnavailable"), want, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # else a rollout could never start
    return surge, unavailable


def max_unavailable(deployment: dict[str, Any]) -> int:
    if not _rolling(deployment) or replicas(deployment) == 0:
        return 0
    return min(fenceposts(deployment)[1], replicas(deployment))


def new_rs_replicas(deployment: dict[str, Any], all_rs: Sequence[RS], new_rs: RS | None) -> int:
    """How many replicas the new ReplicaSet may have now (``NewRSNewReplicas``)."""
    want = replicas(deployment)
    current_new = replicas(new_rs) if new_rs is not None else 0
    if not _rolling(deployment):
        return want
    if current_new == want:
        return current_new
    surge, _ = fenceposts(deployment)
    total = sum(replicas(rs) for rs in all_rs)
    if total >= want + surge:
        return current_new
    return current_new + max(0, min(want + surge - total, want - current_new))


def rolling_step(deployment: dict[str, Any], new_rs: RS, old_rs: Sequence[RS]) -> dict[str, int]:
    """One step of a rolling update: ReplicaSet name → new replicas (empty when nothing moves).

    As ``rolloutRolling``: scale the new ReplicaSet up (or down to the target) first; if that
    changed nothing, scale old ones down, first their unhealthy replicas (``cleanupUnhealthy
    Replicas``), then as many as the availability budget allows, oldest first.
    """
    want = replicas(deployment)
    all_rs = [new_rs, *old_rs]
    current_new = replicas(new_rs)
    name = objects.meta(new_rs)["name"]
    if current_new > want:
        return {name: want}
    if current_new < want:
        target = new_rs_replicas(deployment, all_rs, new_rs)
        if target != current_new:
            return {name: target}
    active_old = [rs for rs in sorted(old_rs, key=_age_key) if replicas(rs) > 0]
    if not active_old:
        return {}
    _, unavailable = fenceposts(deployment)
    min_available = want - unavailable
    new_unavailable = replicas(new_rs) - status_count(new_rs, "availableReplicas")
    max_scaled_down = sum(replicas(rs) for rs in all_rs) - min_available - new_unavailable
    if max_scaled_down <= 0:
        return {}
    changes: dict[str, int] = {}
    cleaned = 0
    for rs in active_old:  # unhealthy replicas cost no availability
        if cleaned >= max_scaled_down:
            break
        unhealthy = replicas(rs) - status_count(rs, "availableReplicas")
        if unhealthy <= 0:
            continue
        count = min(max_scaled_down - cleaned, unhealthy)
        changes[objects.meta(rs)["name"]] = replicas(rs) - count
        cleaned += count
    available = sum(status_count(rs, "availableReplicas") for rs in all_rs)
    budget = available - min_available
    scaled = 0
    for rs in active_old:
        if scaled >= budget:
            break
        rs_name = objects.meta(rs)["name"]
        current = changes.get(rs_name, replicas(rs))
        if current == 0:
            continue
        count = min(current, budget - scaled)
        changes[rs_name] = current - count
        scaled += count
    before = {objects.meta(rs)["name"]: replicas(rs) for rs in active_old}
    return {rs_name: count for rs_name, count in changes.items() if count != before[rs_name]}


def recreate_step(deployment: dict[str, Any], new_rs: RS | None, old_rs: Sequence[RS],
                  old_pods_running: bool) -> dict[str, int]:
    """Recreate: every old ReplicaSet to 0, and the new one up only once no old Pod runs."""
    down = {objects.meta(rs)["name"]: 0 for rs in old_rs if replicas(rs) > 0}
    if down:
        return down
    if old_pods_running or new_rs is None:
        return {}
    want = replicas(deployment)
    return {objects.meta(new_rs)["name"]: want} if replicas(new_rs) != want else {}


def scale_step(deployment: dict[str, Any], new_rs: RS | None, old_rs: Sequence[RS]) -> dict[str, int]:
    """A paused Deployment still scales: its one active ReplicaSet (or the new one when none is
    active) follows ``spec.replicas``. Upstream spreads a change over several active
    ReplicaSets proportionally; here they are left alone until the rollout resumes."""
    active = [rs for rs in [*old_rs, *([new_rs] if new_rs is not None else [])] if replicas(rs) > 0]
    if len(active) == 1:
        target = active[0]
    elif not active and new_rs is not None:
        target = new_rs
    else:
        return {}
    if replicas(target) == replicas(deployment):
        return {}
    return {objects.meta(target)["name"]: replicas(deployment)}


def history_to_delete(deployment: dict[str, Any], old_rs: Sequence[RS]) -> list[str]:
    """Old, empty ReplicaSets beyond ``revisionHistoryLimit``, lowest revision first."""
    limit = (deployment.get("spec") or {}).get("revisionHistoryLimit")
    limit = DEFAULT_HISTORY if limit is None else int(limit)
    empty = [rs for rs in old_rs
             if replicas(rs) == 0 and status_count(rs, "replicas") == 0 and not objects.deleting(rs)]
    excess = len(empty) - limit
    if excess <= 0:
        return []
    ranked = sorted(empty, key=lambda rs: (revision(rs), _age_key(rs)))
    return [objects.meta(rs)["name"] for rs in ranked[:excess]]


# ---------------------------------------------------------------- status


def status(deployment: dict[str, Any], new_rs: RS | None, all_rs: Sequence[RS], *, now: datetime.datetime,
           created: bool = False) -> dict[str, Any]:
    """The Deployment's status after a sync (``calculateStatus`` + ``syncRolloutStatus``)."""
    stamp = objects.rfc3339(now)
    previous = deployment.get("status") or {}
    spec = deployment.get("spec") or {}
    want = replicas(deployment)
    available = sum(status_count(rs, "availableReplicas") for rs in all_rs)
    counts = {
        "replicas": sum(status_count(rs, "replicas") for rs in all_rs),
        "updatedReplicas": status_count(new_rs, "replicas") if new_rs is not None else 0,
        "readyReplicas": sum(status_count(rs, "readyReplicas") for rs in all_rs),
        "availableReplicas": available,
        "unavailableReplicas": max(0, sum(replicas(rs) for rs in all_rs) - available),
    }
    new: dict[str, Any] = {"observedGeneration": objects.meta(deployment).get("generation", 1)}
    new.update({field: value for field, value in counts.items() if value})  # omitempty, as served
    if previous.get("collisionCount"):
        new["collisionCount"] = previous["collisionCount"]
    conditions = list(previous.get("conditions") or [])
    if available >= want - max_unavailable(deployment):
        ok = {"type": AVAILABLE, "status": "True", "reason": "MinimumReplicasAvailable",
              "message": "Deployment has minimum availability."}
    else:
        ok = {"type": AVAILABLE, "status": "False", "reason": "MinimumReplicasUnavailable",
              "message": "Deployment does not have minimum availability."}
    conditions = objects.set_condition(conditions, ok, stamp, compare=("status", "reason"), update_time=True)
    conditions = _progressing(deployment, new, conditions, new_rs, stamp, now, created=created,
                              paused=bool(spec.get("paused")))
    if conditions:
        new["conditions"] = conditions
    return new


def _progressing(deployment: dict[str, Any], new: dict[str, Any], conditions: list[dict[str, Any]],
                 new_rs: RS | None, stamp: str, now: datetime.datetime, *, created: bool,
                 paused: bool) -> list[dict[str, Any]]:
    def put(status_value: str, reason: str, message: str, *, force: bool = False) -> list[dict[str, Any]]:
        return objects.set_condition(conditions, {"type": PROGRESSING, "status": status_value, "reason": reason,
                                                  "message": message}, stamp, compare=("status", "reason"),
                                     update_time=True, force=force)
    current = objects.condition({"conditions": conditions}, PROGRESSING)
    if paused:
        return put("Unknown", PAUSED, "Deployment is paused")
    if current is not None and current.get("reason") == PAUSED:
        conditions = put("Unknown", RESUMED, "Deployment is resumed")
        current = objects.condition({"conditions": conditions}, PROGRESSING)
    rs_name = objects.meta(new_rs).get("name", "") if new_rs is not None else ""
    if created and new_rs is not None:
        return put("True", NEW_RS_CREATED, f'Created new replica set "{rs_name}"', force=True)
    complete_already = (new.get("replicas", 0) == new.get("updatedReplicas", 0) and current is not None
                        and current.get("reason") == NEW_RS_AVAILABLE)
    if complete_already or new_rs is None:
        return conditions
    if complete(deployment, new):
        return put("True", NEW_RS_AVAILABLE, f'ReplicaSet "{rs_name}" has successfully progressed.')
    if progressed(deployment.get("status") or {}, new):
        # Forced: the same reason again still moves lastUpdateTime, which the deadline counts from.
        return put("True", RS_UPDATED, f'ReplicaSet "{rs_name}" is progressing.', force=True)
    if timed_out(deployment, {"conditions": conditions}, now):
        return put("False", TIMED_OUT, f'ReplicaSet "{rs_name}" has timed out progressing.')
    return conditions


def complete(deployment: dict[str, Any], new: dict[str, Any]) -> bool:
    """``DeploymentComplete``: every replica updated and available, and this generation seen."""
    want = replicas(deployment)
    return (new.get("updatedReplicas", 0) == want and new.get("replicas", 0) == want
            and new.get("availableReplicas", 0) == want
            and new.get("observedGeneration", 0) >= objects.meta(deployment).get("generation", 1))


def progressed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """``DeploymentProgressing``: more updated, ready or available replicas, or fewer old ones."""
    def get(status_value: dict[str, Any], field: str) -> int:
        return int(status_value.get(field) or 0)
    old_old = get(old, "replicas") - get(old, "updatedReplicas")
    new_old = get(new, "replicas") - get(new, "updatedReplicas")
    return (get(new, "updatedReplicas") > get(old, "updatedReplicas") or new_old < old_old
            or get(new, "readyReplicas") > get(old, "readyReplicas")
            or get(new, "availableReplicas") > get(old, "availableReplicas"))


def deadline(deployment: dict[str, Any]) -> int:
    value = (deployment.get("spec") or {}).get("progressDeadlineSeconds")
    return DEFAULT_DEADLINE if value is None else int(value)


def timed_out(deployment: dict[str, Any], new_status: dict[str, Any], now: datetime.datetime) -> bool:
    current = objects.condition(new_status, PROGRESSING)
    if current is None or current.get("reason") == NEW_RS_AVAILABLE:
        return False
    if current.get("reason") == TIMED_OUT:
        return True
    since = objects.parse_time(current.get("lastUpdateTime"))
    return since is not None and since + datetime.timedelta(seconds=deadline(deployment)) < now


def seconds_to_deadline(deployment: dict[str, Any], new_status: dict[str, Any],
                        now: datetime.datetime) -> float | None:
    """When a stuck rollout must be looked at again to be declared timed out (``requeueStuckDeployment``)."""
    current = objects.condition(new_status, PROGRESSING)
    if (current is None or current.get("reason") in (NEW_RS_AVAILABLE, TIMED_OUT, PAUSED)
            or complete(deployment, new_status)):
        return None
    since = objects.parse_time(current.get("lastUpdateTime"))
    if since is None:
        return None
    # +1 s: lastUpdateTime has second precision and the comparison is strict.
    return max(0.0, (since + datetime.timedelta(seconds=deadline(deployment) + 1) - now).total_seconds())
