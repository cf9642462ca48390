"""Which revision a workload-form Canary is about to roll out, computed as the controller computes it.

``kubectl canary wait`` after ``kubectl set image`` must not take the previous rollout's
Succeeded for the new one's: in the workload form the spec names no release, the revision
of the target's pod template (and, with ``trackConfigs``, of the ConfigMaps and Secrets it
reads) is the release. So ``wait`` reads the target as it is now and waits for the status
to be about that revision, using the very functions the controller uses
(``rollouts.workloads.release_of``), so the two can never disagree on a hash.
"""

from __future__ import annotations

from typing import Any

from rollouts import config_tracking, workloads
from routeshift.plugin import canaries, errors
from routeshift.plugin.cluster import Cluster


def expected(cluster: Cluster, canary: canaries.Canary) -> str | None:
    """The revision the target asks for now; None in the Service form or without a readable target."""
    if not canary.target:
        return None
    target, _ = cluster.deployment(canary.namespace, canary.target)
    if target is None:
        return None  # the controller reports a missing target itself (TargetNotFound)
    return workloads.release_of(target, _tracked(cluster, canary, target))


def _tracked(cluster: Cluster, canary: canaries.Canary, target: dict[str, Any]) -> dict:
    if not canary.spec.get("trackConfigs"):
        return {}
    found = {}
    for ref in config_tracking.references(workloads.template(target)):
        obj, problem = cluster.core_object(canary.namespace, ref.plural, ref.name)
        if obj is None and problem != "not found":
            # Without every tracked object the revision cannot be known: waiting would never end.
            raise errors.ClusterError(f"cannot tell which revision of {canary.target} to wait for: "
                                      f"{ref.label} is {problem}")
        found[ref] = obj
    return config_tracking.tracked(found)
