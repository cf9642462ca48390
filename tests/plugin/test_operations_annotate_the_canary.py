"""Every manual operation, run as ``kubectl canary OP web`` through the real kubectl.

Each is one merge patch on the Canary's metadata/spec (never ``/status``), sets the
operation's annotation to a fresh value the controller has not handled, says what it
changed, and leaves the status exactly as the controller wrote it.
"""

import json
import re

import pytest

from plugin_world import metric, status

NONCE = r"\d+-[0-9a-f]{6}"


@pytest.mark.parametrize("args, annotation, value", [
    pytest.param(["promote", "web"], "promote", NONCE, id="promote"),
    pytest.param(["promote", "web", "--full"], "promote-full", NONCE, id="promote-full"),
    pytest.param(["abort", "web"], "abort", NONCE, id="abort"),
    pytest.param(["pause", "web"], "pause", NONCE, id="pause"),
    pytest.param(["set-weight", "web", "30"], "set-weight", "30@" + NONCE, id="set-weight"),
    pytest.param(["skip-step", "web"], "skip-step", NONCE, id="skip-step"),
])
def test_operation_on_a_progressing_rollout_sets_its_annotation(world, args, annotation, value):
    world.set_status(status("Progressing", metrics=[metric(99.5, "Successful")]))
    before = world.canary()
    result = world.plugin(*args)
    assert result.returncode == 0, result.stderr
    after = world.canary()
    written = world.annotations()
    assert list(written) == [f"routeshift.dev/{annotation}"]
    assert re.fullmatch(value, written[f"routeshift.dev/{annotation}"])
    assert after["status"] == before["status"]
    assert after["spec"] == before["spec"]
    assert "canary.routeshift.dev/web patched" in result.stdout
    key = f"routeshift.dev/{annotation}"
    assert f'metadata.annotations["{key}"]: (unset) -> "{written[key]}"' in result.stdout
    patches = world.plugin_patches()
    assert len(patches) == 1 and "/status" not in patches[0][1] and patches[0][2] == 200


def test_resume_of_a_paused_rollout_annotates_and_clears_spec_paused(world):
    world.api.patch("routeshift.dev/v1alpha1/canaries", "default", "web", {"spec": {"paused": True}})
    world.set_status(status("Paused", generation=2))
    result = world.plugin("resume", "web")
    assert result.returncode == 0, result.stderr
    canary = world.canary()
    assert canary["spec"]["paused"] is False
    assert "routeshift.dev/resume" in world.annotations()
    assert "spec.paused: true -> false" in result.stdout


def test_retry_after_a_failure_and_undo_after_a_success(world):
    world.set_status(status("Failed", canary_weight=0, result="failed"))
    assert world.plugin("retry", "web").returncode == 0
    assert "routeshift.dev/retry" in world.annotations()
    world.set_status(status("Succeeded", step=2, canary_weight=100, result="succeeded",
                            finishedAt=_now(), previousBackend={"name": "web-v1", "port": 80},
                            liveBackend={"name": "web-v2", "port": 80}))
    result = world.plugin("undo", "web", "-o", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["operation"] == "undo" and report["changed"] is True
    sent = report["patch"]["metadata"]["annotations"]["routeshift.dev/undo"]
    assert sent == world.annotations()["routeshift.dev/undo"]
    assert "web-v1" in report["expectation"]


def test_pause_of_an_already_paused_rollout_changes_nothing(world):
    world.set_status(status("Paused", manualPause=True))
    result = world.plugin("pause", "web")
    assert result.returncode == 0
    assert "unchanged: already paused" in result.stdout
    assert world.annotations() == {} and world.plugin_patches() == []


def _now() -> str:
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
