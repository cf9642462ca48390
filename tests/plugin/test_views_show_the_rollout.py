"""``get``, ``list``, ``status`` and ``history`` show what a person needs to follow a rollout.

Run through the real kubectl with stdout piped (no terminal): the views print plainly,
without colour codes or padding, so they also serve logs and scripts.
"""

import json

import yaml

from plugin_world import metric, status

EVENT = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.1", "namespace": "default"},
         "involvedObject": {"apiVersion": "routeshift.dev/v1alpha1", "kind": "Canary", "name": "web",
                            "namespace": "default"},
         "type": "Warning", "reason": "Waiting", "message": "insufficient traffic 12/50",
         "lastTimestamp": "2026-01-01T00:00:00Z", "source": {"component": "routeshift"}}


def test_get_shows_phase_step_weights_metrics_holds_and_events(world):
    world.api.create("v1/events", EVENT, "default")
    world.api.patch("gateway.networking.k8s.io/v1/httproutes", "default", "web",
                    {"spec": {"rules": [{"backendRefs": [{"name": "web-v1", "port": 80, "weight": 90},
                                                         {"name": "web-v2", "port": 80, "weight": 10}]}]}})
    world.set_status(status("Progressing", step=0, canary_weight=10, lastVerdict="Inconclusive",
                            metrics=[metric(97.25, "Inconclusive", samples=12, reason="insufficient traffic 12/50")],
                            conditions=[{"type": "RouteAccepted", "status": "Unknown", "reason": "Pending",
                                         "message": "gw has not accepted generation 2"}]))
    result = world.plugin("get", "web")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "\x1b[" not in out and not any(line.endswith(" ") for line in out.splitlines())
    assert "Phase:     Progressing   step 1/3" in out
    assert "Strategy:  Progressive  10% → 50% → promote 100%" in out
    assert "stable  web-v1  ███████████████████████████░░░   90%" in out
    assert "canary  web-v2  ███░░░░░░░░░░░░░░░░░░░░░░░░░░░   10%" in out
    assert "HTTPRoute default/web: web-v1=90 web-v2=10" in out
    assert "request-success-rate   97.25   >= 99   12/50     Inconclusive   insufficient traffic 12/50" in out
    assert "  - RouteAccepted=Unknown Pending: gw has not accepted generation 2" in out
    assert "Warning   Waiting   insufficient traffic 12/50" in out


def test_list_status_and_history(world):
    world.create_canary("api", release="v7")
    world.set_status(status("Progressing", step=1, canary_weight=50, lastVerdict="Successful",
                            metrics=[metric(99.9, "Successful", samples=800)]))
    listing = world.plugin("list", "-A", "-o", "wide")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "PHASE", "STEP", "WEIGHT", "RELEASE", "VERDICT", "AGE", "STABLE",
                                "CANARY", "MESSAGE"]
    assert lines[1].split()[:5] == ["default", "api", "Pending", "-", "-"]
    assert lines[2].split()[:7] == ["default", "web", "Progressing", "2/3", "50%", "v2", "Successful"]

    summary = world.plugin("status", "web")
    assert summary.stdout.splitlines()[0] == ("web: release v2 Progressing at step 2/3, canary 50% / stable 50%: "
                                              "Progressing at canary 50%")
    assert "Ready=False Progressing; Reconciling=True Progressing; Stalled=False Progressing" in summary.stdout
    assert "holding: Stalled" not in summary.stdout, "a rollout under way is not a hold"

    history = world.plugin("history", "web", "-o", "yaml")
    decisions = yaml.safe_load(history.stdout)
    assert decisions[0]["metrics"][0]["value"] == 99.9 and decisions[0]["weight"] == 50


def test_get_json_is_the_object_and_a_missing_canary_is_a_clear_error(world):
    result = world.plugin("get", "web", "-o", "json")
    assert json.loads(result.stdout)["spec"]["release"] == "v2"
    missing = world.plugin("get", "nope")
    assert missing.returncode == 1 and missing.stderr.strip() == "error: canary default/nope not found"


HOLD_EXPIRED = ("weight 10%: paused for a person, the hold deadline passed without enough evidence: "
                "hold deadline 10m passed: insufficient traffic 12/50")


def test_status_and_get_say_why_an_expired_analysis_hold_paused_the_rollout(world):
    """Not "paused by the pause operation": the controller recorded the real reason."""
    world.set_status(status(
        "Paused", manualPause=True, pausedReason="AnalysisHoldExpired", pausedMessage=HOLD_EXPIRED,
        message=HOLD_EXPIRED,
        conditions=[{"type": "Ready", "status": "False", "reason": "Paused", "message": HOLD_EXPIRED},
                    {"type": "Reconciling", "status": "True", "reason": "Paused", "message": HOLD_EXPIRED},
                    {"type": "Stalled", "status": "False", "reason": "Paused", "message": HOLD_EXPIRED},
                    {"type": "Paused", "status": "True", "reason": "AnalysisHoldExpired", "message": HOLD_EXPIRED}]))
    summary = world.plugin("status", "web")
    assert summary.returncode == 0, summary.stderr
    assert summary.stdout.splitlines()[0].endswith(HOLD_EXPIRED)
    assert "Paused=True AnalysisHoldExpired" in summary.stdout
    assert "pause operation" not in summary.stdout
    detail = world.plugin("get", "web")
    assert "paused (AnalysisHoldExpired)" in detail.stdout
    assert "pause operation" not in detail.stdout
    again = world.plugin("pause", "web")
    assert again.returncode == 0 and "already paused (AnalysisHoldExpired)" in again.stdout


def test_a_status_from_an_older_controller_still_reads_as_the_pause_operation(world):
    world.set_status(status("Paused", manualPause=True, message="paused by the pause operation"))
    detail = world.plugin("get", "web")
    assert "paused (PauseOperation)" in detail.stdout


def test_events_of_the_same_second_show_in_the_order_they_were_posted(world):
    # The API server keeps Event times to the second and a reconciliation posts several in one
    # (RollingBack, then RolledBack): the view orders them as posted, whatever their names.
    for n, reason in enumerate(["StepCompleted", "Promoting", "Finalising", "Succeeded", "RolloutStarted",
                                "RollingBack", "RolledBack"]):
        world.api.create("v1/events", {**EVENT, "metadata": {"name": f"web.{9 - n}", "namespace": "default"},
                                       "reason": reason, "message": f"event {n}"}, "default")
    out = world.plugin("get", "web").stdout
    events = out.split("Events", 1)[1].splitlines()[3:]
    assert [line.split()[2] for line in events if line.strip()] == [
        "Finalising", "Succeeded", "RolloutStarted", "RollingBack", "RolledBack"], out
