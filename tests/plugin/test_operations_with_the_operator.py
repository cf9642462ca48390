"""Every operation through kubectl, with the real controller running: the route weights follow.

The kopf operator from ``rollouts.operator`` drives the Canary against the emulator, an
accepting Gateway stand-in accepts each route generation, and a scripted analysis holds
the rollout (Inconclusive) or lets it pass, so each operation meets the rollout in the
phase the test wants. The assertions are on the HTTPRoute's backend weights, which are
what users' traffic follows, and on the phase the controller reports.
"""

import pytest

from plugin_world import FAST_ANALYSIS, ScriptedAnalysis
from routeshift.testing.controller import AcceptingGateway, start_controller
from routeshift.testing.polling import until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def rollout(bare_world, kopf_runner):
    analysis = ScriptedAnalysis("Inconclusive")
    with AcceptingGateway(bare_world.api, "default", "web", stable="web-v1", canary="web-v2", period=0.1):
        start_controller(bare_world.api, kopf_runner, analysis, poll_interval=0.5)
        bare_world.create_canary(analysis=FAST_ANALYSIS, acceptanceTimeoutSeconds=2, progressDeadlineSeconds=120)
        bare_world.analysis = analysis
        yield bare_world


def _phase(world):
    return (world.canary().get("status") or {}).get("phase")


def _reaches(world, weights, phase=None, timeout=15):
    until(lambda: world.route_weights() == weights and (phase is None or _phase(world) == phase), timeout,
          description=f"route at {weights}" + (f" in {phase}" if phase else ""))


def _ok(result):
    assert result.returncode == 0, result.stderr
    return result


def test_set_weight_pause_resume_skip_undo_retry_promote_full(rollout):
    world = rollout
    _reaches(world, (90, 10), "Progressing")  # holding at the first step: analysis is inconclusive

    _ok(world.plugin("set-weight", "web", "30"))
    _reaches(world, (70, 30))

    _ok(world.plugin("pause", "web"))
    until(lambda: _phase(world) == "Paused", 15, description="paused")
    assert world.route_weights() == (70, 30)

    _ok(world.plugin("resume", "web"))  # ends the set-weight hold without lowering: next step at or above 30
    _reaches(world, (50, 50), "Progressing")

    _ok(world.plugin("skip-step", "web"))  # 50% skipped: the promotion
    _reaches(world, (0, 100), "Succeeded")

    _ok(world.plugin("undo", "web"))
    _reaches(world, (100, 0), "Failed")
    assert world.canary()["status"]["result"] == "undone"

    _ok(world.plugin("retry", "web"))
    _reaches(world, (90, 10), "Progressing")

    _ok(world.plugin("promote", "web", "--full"))
    _reaches(world, (0, 100), "Succeeded")


def test_promote_then_abort_and_wait_reports_the_abort(rollout):
    world = rollout
    _reaches(world, (90, 10), "Progressing")

    promoted = _ok(world.plugin("promote", "web"))
    assert "moving to step 2/3 (50%)" in promoted.stdout
    _reaches(world, (50, 50))

    _ok(world.plugin("abort", "web"))
    _reaches(world, (100, 0), "Failed")

    waited = world.plugin("wait", "web", "--timeout", "30s")
    assert waited.returncode == 1, waited.stderr
    assert "aborted" in waited.stdout

    def shown_with_the_event():
        # The controller's own Events and decision log. Events are posted after the status
        # write that records the decision, so the view may briefly show the phase before them.
        shown = _ok(world.plugin("get", "web"))
        lines = [line.split() for line in shown.stdout.splitlines()]
        return shown if any(words[2:4] == ["RollingBack", "aborted"] for words in lines if len(words) > 4) else None

    shown = until(shown_with_the_event, timeout=20, interval=0.2, description="the RollingBack Event in kubectl canary get")
    assert "Phase:     Failed" in shown.stdout
    assert "stable  web-v1  ██████████████████████████████  100%" in shown.stdout


def test_wait_follows_a_new_release_to_success_not_the_stale_one(rollout):
    world = rollout
    world.analysis.verdict = "Successful"
    first = world.plugin("wait", "web", "--timeout", "30s")
    assert first.returncode == 0, first.stderr
    assert world.route_weights() == (0, 100)

    # The next release: web-v2 is live now, so it becomes stable and web-v1 gets the new build.
    world.analysis.verdict = "Inconclusive"
    world.api.patch("routeshift.dev/v1alpha1/canaries", "default", "web", {"spec": {
        "release": "v3", "stable": {"name": "web-v2", "port": 80}, "canary": {"name": "web-v1", "port": 80}}})
    waiter = world.start_plugin("wait", "web", "--timeout", "30s")
    waiter.wait_for_stderr("release v3 Progressing")  # the v2 Succeeded did not end the wait
    world.analysis.verdict = "Successful"
    assert waiter.finish() == 0, waiter.stderr
    assert "release v3: succeeded" in "".join(waiter.stdout)
    assert world.route_weights() == (100, 0)  # web-v1 (the v3 canary) carries everything
