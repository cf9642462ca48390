"""An operation that cannot apply in the Canary's phase is refused with a reason, and nothing is written.

The table runs the plugin's check directly (it is pure: a Canary dict in, a patch or a
refusal out); one case goes through the real kubectl to prove the exit code, the message
on stderr and that no PATCH reached the API. ``test_phase_sets_match_the_controller``
keeps the plugin's phase sets equal to the state machine's.
"""

import datetime

import pytest

from plugin_world import canary_manifest, status
from routeshift.plugin import canaries, errors, requesting

Op = requesting.Operation
NOW = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.timezone.utc)


def _canary(body=None, **spec):
    raw = canary_manifest(**spec)
    raw["metadata"]["generation"] = 1
    if body is not None:
        raw["status"] = body
    return canaries.Canary(raw)


def _succeeded(minutes_ago: float, **extra):
    finished = (NOW - datetime.timedelta(minutes=minutes_ago)).isoformat()
    backends = {"previousBackend": {"name": "web-v1", "port": 80}, "liveBackend": {"name": "web-v2", "port": 80}}
    return status("Succeeded", step=2, canary_weight=100, finishedAt=finished, **(backends | extra))


@pytest.mark.parametrize("operation, body, message", [
    pytest.param(Op.PROMOTE, None, "has not processed", id="no-status-yet"),
    pytest.param(Op.ABORT, status("Succeeded", step=2, canary_weight=100), "use undo", id="abort-after-success"),
    pytest.param(Op.ABORT, status("Failed", canary_weight=0), "no rollout in progress", id="abort-after-failure"),
    pytest.param(Op.PAUSE, status("Initialized", canary_weight=0), "set spec.paused", id="pause-when-idle"),
    pytest.param(Op.RESUME, status("Progressing"), "nothing is paused", id="resume-when-running"),
    pytest.param(Op.RETRY, status("Progressing"), "only a failed or aborted rollout", id="retry-while-running"),
    pytest.param(Op.RETRY, status("Succeeded", step=2, canary_weight=100), "only a failed", id="retry-after-success"),
    pytest.param(Op.UNDO, status("Progressing"), "use abort", id="undo-while-running"),
    pytest.param(Op.UNDO, _succeeded(61), "undo window of 3600s closed", id="undo-window-closed"),
    pytest.param(Op.UNDO, _succeeded(1, previousBackend=None), "nothing to flip back", id="undo-without-previous"),
    pytest.param(Op.SKIP_STEP, status("Promoting", step=2, canary_weight=100), "already at the promotion",
                 id="skip-at-promotion"),
    pytest.param(Op.PROMOTE, status("Promoting", step=2, canary_weight=100), "already promoting",
                 id="promote-at-promotion"),
    pytest.param(Op.PROMOTE_FULL, status("Promoting", step=2, canary_weight=100), "already promoting",
                 id="promote-full-while-promoting"),
    pytest.param(Op.SET_WEIGHT, status("Succeeded", step=2, canary_weight=100), "only applies to a rollout",
                 id="set-weight-when-done"),
])
def test_refused(operation, body, message):
    with pytest.raises(errors.NotApplicable, match=message):
        requesting.plan(operation, _canary(body), value="v", weight=30, now=NOW)


@pytest.mark.parametrize("operation, body", [
    pytest.param(Op.ABORT, status("Paused"), id="abort-paused"),
    pytest.param(Op.ABORT, status("WaitingPromotion", step=2), id="abort-waiting-promotion"),
    pytest.param(Op.PROMOTE, status("Progressing", step=2, weightOverride=30), id="promote-ends-set-weight-hold"),
    pytest.param(Op.RESUME, status("Progressing", weightOverride=30), id="resume-set-weight-hold"),
    pytest.param(Op.RESUME, status("Progressing", manualPause=True), id="resume-manual-pause"),
    pytest.param(Op.UNDO, _succeeded(59), id="undo-inside-window"),
    pytest.param(Op.RETRY, status("Failed", canary_weight=0, result="aborted"), id="retry-after-abort"),
])
def test_allowed(operation, body):
    change = requesting.plan(operation, _canary(body), value="v", weight=30, now=NOW)
    assert change.patch == {"metadata": {"annotations": {operation.annotation: "v"}}}


def test_set_weight_carries_its_argument_before_the_value():
    change = requesting.plan(Op.SET_WEIGHT, _canary(status("Progressing")), value="123-abc", weight=30, now=NOW)
    assert change.patch["metadata"]["annotations"]["routeshift.dev/set-weight"] == "30@123-abc"
    with pytest.raises(errors.UsageError):
        requesting.plan(Op.SET_WEIGHT, _canary(status("Progressing")), value="v", weight=101, now=NOW)


def test_resume_outside_a_rollout_only_clears_spec_paused():
    change = requesting.plan(Op.RESUME, _canary(status("Succeeded", step=2), paused=True), value="v", now=NOW)
    assert change.patch == {"spec": {"paused": False}}


def test_nonces_never_repeat():
    assert len({requesting.nonce(0) for _ in range(50)}) == 50


def test_refusal_through_kubectl_exits_1_and_writes_nothing(world):
    world.set_status(status("Succeeded", step=2, canary_weight=100))
    result = world.plugin("abort", "web")
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: abort: canary default/web is Succeeded: no rollout in progress to abort; "
                                     "use undo to flip traffic back after a success")
    assert result.stdout == ""
    assert world.annotations() == {} and world.plugin_patches() == []
