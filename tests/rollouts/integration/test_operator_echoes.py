"""The echoes of the controller's own status writes are spared to kopf; nothing else is.

A status write comes back through kopf's watch of Canaries. The controller hands those
events to kopf as bookmarks (``echoes.as_bookmark``), so this test runs two releases through
the real operator and checks that the echoes were skipped, that the Canary still reacted to
the change someone else made (a new release) and that what it decided is recorded as before.
"""

from __future__ import annotations

from operator_harness import CANARIES, ScriptedAnalysis, canary, phase
from routeshift.testing.polling import until


def skipped(controller) -> float:
    return controller.metrics.registry.get_sample_value("routeshift_status_echoes_skipped_total") or 0.0


def status_writes(controller) -> int:
    return sum(n for (verb, resource), n in controller.cluster.requests.items()
               if verb == "PATCH" and resource == "canaries/status")


def test_own_status_echoes_are_skipped_and_every_other_change_is_seen(cluster, gateway, start):
    controller, _ = start(ScriptedAnalysis(gateway=gateway))
    cluster.create(CANARIES, canary(strategy={"progressive": {"steps": [20, 50]}}), "default")
    until(lambda: phase(cluster) == "Succeeded", timeout=20, description="release v2 promoted")
    assert gateway.seen == [(100, 0), (80, 20), (50, 50), (0, 100)]
    until(lambda: skipped(controller) > 0, timeout=5, description="echoes skipped")
    assert skipped(controller) <= status_writes(controller)

    # Someone else's change: a watch event kopf must still see.
    cluster.patch(CANARIES, "default", "web", {"spec": {"release": "v3", "stable": {"name": "web-v2", "port": 80},
                                                        "canary": {"name": "web-v1", "port": 80}}})
    until(lambda: (cluster.get(CANARIES, "default", "web")["status"] or {}).get("release") == "v3",
          timeout=15, description="release v3 detected")
    until(lambda: phase(cluster) == "Succeeded", timeout=20, description="release v3 promoted")
    assert gateway.seen[-1] == (100, 0), "web-v1, the canary of v3, carries all traffic"
    decided = [d["reason"] for d in cluster.get(CANARIES, "default", "web")["status"]["decisions"]]
    assert any("release v3 promoted" in reason for reason in decided), decided
    assert skipped(controller) <= status_writes(controller)
