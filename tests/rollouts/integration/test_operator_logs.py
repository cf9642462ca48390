"""What the controller's log says during a rollout: its decisions, not kopf's line per watch event."""

from __future__ import annotations

import logging

from operator_harness import CANARIES, ScriptedAnalysis, canary, phase
from routeshift.testing.polling import until


def test_a_rollout_logs_its_decisions_and_no_line_per_watch_event(cluster, gateway, start, caplog):
    caplog.set_level(logging.INFO)
    start(ScriptedAnalysis(gateway=gateway))
    cluster.create(CANARIES, canary(), "default")
    until(lambda: phase(cluster) == "Succeeded", timeout=20, description="rollout succeeded")

    messages = [record.getMessage() for record in caplog.records]
    # Every status write comes back as a watch event that runs the wake handler: kopf would log
    # "Handler 'wake' succeeded." for each of them, several per step.
    assert not [m for m in messages if "'wake' succeeded" in m]
    decisions = [m for m in messages if m.startswith("canary default/web: ")]
    assert any("Succeeded" in m for m in decisions), decisions
    assert len(decisions) >= 6  # started, a line per weight step, promoted
