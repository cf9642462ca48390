"""The Deployment controller: ReplicaSets per pod template, rolled as the strategy says.

Each sync reads one Deployment and the ReplicaSets it controls from the cache, lets
:mod:`rollout` decide, and writes: the new ReplicaSet (``<deployment>-<pod-template-hash>``)
when the template has none yet, revision annotations, one scaling step, the cleanup of
history beyond ``revisionHistoryLimit``, and the status. It is woken by changes to the
Deployment and to its ReplicaSets (whose status follows their Pods), and again when a
stuck rollout's progress deadline passes.
"""

from __future__ import annotations

import datetime
from typing import Any

from routeshift.emulator import jsondata
from routeshift.emulator.workloads import informers, objects, owning, rollout

DEPLOYMENT_KIND = "Deployment"


class DeploymentController(owning.OwnerKeyedController):
    owner, owned, owner_kind = informers.DEPLOYMENTS, informers.REPLICASETS, DEPLOYMENT_KIND

    def sync(self, key: tuple[str, str]) -> float | None:
        deployment = self.cache.get(informers.DEPLOYMENTS, *key)
        if deployment is None or objects.deleting(deployment):
            return None
        spec = deployment.get("spec") or {}
        if not (spec.get("selector") or {}).get("matchLabels") and not (spec.get("selector") or {}).get(
                "matchExpressions"):
            return None  # an empty selector would select every Pod: upstream refuses to act too
        now = datetime.datetime.now(tz=datetime.UTC)
        owned = [rs for rs in self.cache.controlled_by(informers.REPLICASETS, objects.uid(deployment))
                 if not objects.deleting(rs)]
        new_rs = rollout.find_new(deployment, owned)
        old_rs = [rs for rs in owned if rs is not new_rs]
        paused = bool(spec.get("paused"))
        recreate = ((spec.get("strategy") or {}).get("type") == "Recreate")
        created = False

        if new_rs is None and not paused and (not recreate or self._recreate_may_start(old_rs)):
            new_rs = self._create_new(deployment, owned)
            if new_rs is None:
                return 0.0  # a hash collision was recorded: look again with the next hash
            created = True
        elif new_rs is not None:
            new_rs = self._sync_revision(deployment, new_rs, old_rs)
        deployment = self._sync_deployment_revision(deployment, new_rs)

        if paused:
            step = rollout.scale_step(deployment, new_rs, old_rs)
        elif recreate:
            step = rollout.recreate_step(deployment, new_rs, old_rs, self._old_pods_running(old_rs))
        else:
            step = rollout.rolling_step(deployment, new_rs, old_rs) if new_rs is not None else {}
        by_name = {objects.meta(rs)["name"]: rs for rs in [*old_rs, *([new_rs] if new_rs else [])]}
        for name, count in step.items():
            by_name[name] = self._scale(deployment, by_name[name], count)
        new_rs = by_name.get(objects.meta(new_rs)["name"]) if new_rs is not None else None
        old_rs = [rs for name, rs in by_name.items() if new_rs is None or name != objects.meta(new_rs)["name"]]

        current = rollout.status(deployment, new_rs, list(by_name.values()), now=now, created=created)
        if not step and (paused or rollout.complete(deployment, current)):
            for name in rollout.history_to_delete(deployment, old_rs):
                self.writer.delete(informers.REPLICASETS, by_name[name])
        self.writer.update_status(informers.DEPLOYMENTS, deployment, current)
        return rollout.seconds_to_deadline(deployment, current, now)

    # ---------------------------------------------------------------- steps

    def _recreate_may_start(self, old_rs: list[dict[str, Any]]) -> bool:
        return all(rollout.replicas(rs) == 0 for rs in old_rs) and not self._old_pods_running(old_rs)

    def _old_pods_running(self, old_rs: list[dict[str, Any]]) -> bool:
        """Recreate waits for old Pods to be gone, terminating ones included."""
        return any((pod.get("status") or {}).get("phase") not in objects.TERMINAL_PHASES
                   for rs in old_rs for pod in self.cache.controlled_by(informers.PODS, objects.uid(rs)))

    def _create_new(self, deployment: dict[str, Any], owned: list[dict[str, Any]]) -> dict[str, Any] | None:
        collisions = int((deployment.get("status") or {}).get("collisionCount") or 0)
        pod_hash = rollout.template_hash((deployment.get("spec") or {}).get("template") or {}, collisions)
        revision = max((rollout.revision(rs) for rs in owned), default=0) + 1
        count = 0 if (deployment.get("spec") or {}).get("strategy", {}).get("type") == "Recreate" \
            else rollout.new_rs_replicas(deployment, owned, None)
        body = rollout.new_replica_set(deployment, pod_hash, revision, count)
        namespace = objects.meta(deployment).get("namespace")
        taken = self.cache.get(informers.REPLICASETS, namespace, body["metadata"]["name"])
        if taken is not None:  # another template (or owner) already has this name
            status = jsondata.copy(deployment.get("status") or {})
            status["collisionCount"] = collisions + 1
            self.writer.update_status(informers.DEPLOYMENTS, deployment, status)
            return None
        return self.writer.create(informers.REPLICASETS, body)

    def _sync_revision(self, deployment: dict[str, Any], new_rs: dict[str, Any],
                       old_rs: list[dict[str, Any]]) -> dict[str, Any]:
        """The new ReplicaSet has the highest revision (a rollback to an old template bumps it)."""
        highest_old = max((rollout.revision(rs) for rs in old_rs), default=0)
        revision = rollout.revision(new_rs)
        wanted = rollout.annotations_for(deployment, new_rs, highest_old + 1 if revision <= highest_old else None)
        if wanted == objects.annotations(new_rs):
            return new_rs
        body = jsondata.copy(new_rs)
        body["metadata"]["annotations"] = wanted
        return self.writer.update(informers.REPLICASETS, body)

    def _sync_deployment_revision(self, deployment: dict[str, Any], new_rs: dict[str, Any] | None) -> dict[str, Any]:
        if new_rs is None:
            return deployment
        revision = objects.annotations(new_rs).get(rollout.REVISION)
        if revision is None or objects.annotations(deployment).get(rollout.REVISION) == revision:
            return deployment
        body = jsondata.copy(deployment)
        body["metadata"].setdefault("annotations", {})[rollout.REVISION] = revision
        return self.writer.update(informers.DEPLOYMENTS, body)

    def _scale(self, deployment: dict[str, Any], rs: dict[str, Any], count: int) -> dict[str, Any]:
        body = jsondata.copy(rs)
        body["spec"]["replicas"] = count
        body["metadata"]["annotations"] = rollout.annotations_for(deployment, rs, None)
        return self.writer.update(informers.REPLICASETS, body)
