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

    def decisions() -> list[str]:
        return [m for m in messages() if m.startswith("canary default/web: ")]

    def messages() -> list[str]:
        return [record.getMessage() for record in list(caplog.records)]

    # A decision is logged once its status write is answered, a moment after the API holds it.
    until(lambda: any("Succeeded" in m for m in decisions()), timeout=5, description="the promotion logged")
    # Every status write comes back as a watch event: kopf would log "Handler 'wake'
    # succeeded." for each one it hands to the wake handler, several per step.
    assert not [m for m in messages() if "'wake' succeeded" in m]
    assert len(decisions()) >= 6  # started, a line per weight step, promoted
