"""``kubectl canary wait``: exit 0 on promotion, 1 on rollback, 2 on timeout, with progress on stderr.

The test plays the controller by writing the Canary's ``/status``: this checks the
plugin's waiting logic on its own (``test_operations_with_the_operator`` runs ``wait``
against the real controller). Each wait is started while the status still describes the
previous release, so a plugin returning on a stale Succeeded fails here.
"""

import json

from plugin_world import metric, status


def test_promotion_exits_0_with_a_json_summary(world):
    world.set_status(status("Succeeded", step=2, canary_weight=100, release="v1"))
    waiter = world.start_plugin("wait", "web", "--timeout", "60s", "-o", "json")
    waiter.wait_for_stderr("Succeeded")  # the stale status was seen and not believed
    world.set_status(status("Progressing", step=1, canary_weight=50))
    waiter.wait_for_stderr("Progressing at step 2/3")
    world.set_status(status("Succeeded", step=2, canary_weight=100, lastVerdict="Successful",
                            metrics=[metric(99.9, "Successful")]))
    assert waiter.finish() == 0, waiter.stderr
    summary = json.loads("".join(waiter.stdout))
    assert summary["result"] == "succeeded" and summary["exitCode"] == 0
    assert summary["release"] == "v2" and summary["weights"] == {"stable": 0, "canary": 100}
    assert summary["lastVerdict"] == "Successful"


def test_rollback_exits_1(world):
    world.set_status(status("Progressing", step=1, canary_weight=50))
    waiter = world.start_plugin("wait", "web", "--timeout", "60s")
    waiter.wait_for_stderr("Progressing")
    world.set_status(status("RollingBack", canary_weight=0, result="failed",
                            message="analysis failed at weight 50%: success rate 80 < 99"))
    waiter.wait_for_stderr("RollingBack")
    world.set_status(status("Failed", canary_weight=0, result="failed"))
    assert waiter.finish() == 1
    assert "canary default/web release v2: failed after" in "".join(waiter.stdout)


def test_timeout_exits_2(world):
    world.set_status(status("Progressing", step=0, canary_weight=10))
    result = world.plugin("wait", "web", "--timeout", "1s", "-o", "json")
    assert result.returncode == 2
    summary = json.loads(result.stdout)
    assert summary["result"] == "timeout" and summary["phase"] == "Progressing" and summary["step"] == "1/3"
    assert "Progressing at step 1/3, canary 10% / stable 90%" in result.stderr


def test_missing_canary_is_an_error_not_a_wait(world):
    result = world.plugin("wait", "nope", "--timeout", "30s")
    assert result.returncode == 1
    assert "error: canary default/nope not found" in result.stderr
