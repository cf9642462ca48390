"""The ReplicaSet controller: as many Pods as ``spec.replicas``, and a status that counts them.

Each sync reads one ReplicaSet and the Pods it controls from the cache (an index by
controller uid), creates or deletes Pods as :mod:`replicas` decides, and writes the status.
Pods it creates are named by the API server (``generateName: <rs>-``). It is woken by
changes to the ReplicaSet and to its Pods, and again when a ready Pod passes
``minReadySeconds`` and so becomes available.
"""

from __future__ import annotations

import datetime

from routeshift.emulator.workloads import informers, objects, owning, replicas

REPLICASET_KIND = "ReplicaSet"


class ReplicaSetController(owning.OwnerKeyedController):
    owner, owned, owner_kind = informers.REPLICASETS, informers.PODS, REPLICASET_KIND

    def sync(self, key: tuple[str, str]) -> float | None:
        rs = self.cache.get(informers.REPLICASETS, *key)
        if rs is None or objects.deleting(rs):
            return None
        now = datetime.datetime.now(tz=datetime.UTC)
        controlled = replicas.controlled_pods(rs, self.cache.controlled_by(informers.PODS, objects.uid(rs)))
        live = replicas.active(controlled)
        missing = replicas.diff(rs, live)
        if missing > 0:
            for _ in range(missing):
                self.writer.create(informers.PODS, replicas.pod_for(rs))
        elif missing < 0:
            for pod in replicas.pods_to_delete(live, -missing):
                self.writer.delete(informers.PODS, pod)
        # Counted from what was there before this sync's writes: their events bring the next sync.
        self.writer.update_status(informers.REPLICASETS, rs, replicas.status(rs, controlled, now=now))
        return replicas.seconds_to_availability(rs, controlled, now)
