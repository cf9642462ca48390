"""The plugin never sends an operation the controller would reject, and refuses no useful one.

For a range of statuses, every operation is planned by the plugin and fed, as its
annotation, to the real ``rollouts.machine.decide``. Whenever the state machine answers
``OperationRejected``, the plugin must have refused first (with a reason, writing
nothing). The plugin is stricter only where the controller would accept a no-op: resuming
a rollout that is not held (it would only log "continuing"), pausing a paused one,
promoting fully while already promoting.
"""

import datetime

import pytest

from plugin_world import canary_manifest, status
from rollouts import actions, machine, model
from rollouts.observations import Acceptance, Observations, RouteObservation
from routeshift.plugin import canaries, errors, requesting

Op = requesting.Operation
NOW = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.timezone.utc)
BACKENDS = {"previousBackend": {"name": "web-v1", "port": 80}, "liveBackend": {"name": "web-v2", "port": 80}}


def _finished(minutes_ago):
    return (NOW - datetime.timedelta(minutes=minutes_ago)).isoformat()


STATUSES = {
    "initialized": status("Initialized", canary_weight=0, liveBackend={"name": "web-v1", "port": 80}),
    "progressing": status("Progressing", step=0, canary_weight=10),
    "progressing-held": status("Progressing", step=0, canary_weight=30, weightOverride=30),
    "paused": status("Paused", step=1, canary_weight=50, manualPause=True),
    "waiting-promotion": status("WaitingPromotion", step=2, canary_weight=50),
    "promoting": status("Promoting", step=2, canary_weight=100),
    "rolling-back": status("RollingBack", step=1, canary_weight=0, result="failed"),
    "failed": status("Failed", canary_weight=0, result="failed"),
    "succeeded": status("Succeeded", step=2, canary_weight=100, finishedAt=_finished(5), **BACKENDS),
    "succeeded-long-ago": status("Succeeded", step=2, canary_weight=100, finishedAt=_finished(120), **BACKENDS),
}
# Refused by the plugin although the controller would take them: they would change nothing.
NO_OPS = {("resume", "progressing"), ("resume", "waiting-promotion"), ("resume", "promoting"), ("pause", "paused"),
          ("promote-full", "promoting")}


def _controller_rejects(operation, body) -> bool:
    spec = model.parse_spec(canary_manifest()["spec"])
    weight = body["weights"]["canary"]
    route = RouteObservation(namespace="default", name="web", generation=1, rules=((100 - weight, weight),),
                             acceptance=Acceptance.ACCEPTED)
    value = "30@v" if operation == Op.SET_WEIGHT else "v"
    observed = Observations(generation=1, routes=(route,), annotations={operation.annotation: value})
    decided = machine.decide(spec, model.parse_status(body), observed, now=NOW)
    return any(isinstance(a, actions.RecordEvent) and a.reason == "OperationRejected" for a in decided.actions)


def _plugin_refuses(operation, body) -> bool:
    raw = canary_manifest()
    raw["metadata"]["generation"] = 1
    raw["status"] = body
    try:
        change = requesting.plan(operation, canaries.Canary(raw), value="v", weight=30, now=NOW)
    except errors.NotApplicable:
        return True
    return change.patch is None


@pytest.mark.parametrize("name", list(STATUSES))
@pytest.mark.parametrize("operation", list(Op), ids=lambda op: op.value)
def test_plugin_and_controller_agree(operation, name):
    body = STATUSES[name]
    rejected, refused = _controller_rejects(operation, body), _plugin_refuses(operation, body)
    if rejected:
        assert refused, f"the plugin would send {operation.value} in {name}, which the controller rejects"
    elif refused:
        assert (operation.value, name) in NO_OPS, f"the plugin refuses {operation.value} in {name}"
