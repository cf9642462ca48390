"""``wait`` judges only a status that describes the current spec; anything older keeps it waiting.

Right after a release is applied the status still says Succeeded for the previous one;
after ``retry`` the Failed status is stale although the generation did not move. These
are the traps a pipeline falls into with a naive ``kubectl wait --for=jsonpath``.
"""

import pytest

from plugin_world import canary_manifest, gitops_conditions, status
from routeshift.plugin import canaries, waiting


def _canary(body, *, generation=1, annotations=None, **spec):
    raw = canary_manifest(**spec)
    raw["metadata"]["generation"] = generation
    if annotations:
        raw["metadata"]["annotations"] = annotations
    raw["status"] = body
    return canaries.Canary(raw)


@pytest.mark.parametrize("canary, expected", [
    pytest.param(_canary(status("Succeeded", canary_weight=100)), (0, "succeeded"), id="succeeded"),
    pytest.param(_canary(status("Failed", canary_weight=0, result="failed")), (1, "failed"), id="rolled-back"),
    pytest.param(_canary(status("Failed", canary_weight=0, result="aborted")), (1, "aborted"), id="aborted"),
    pytest.param(_canary(status("Failed", canary_weight=0, result="undone")), (1, "undone"), id="undone"),
    pytest.param(_canary(status("Terminating", canary_weight=0)), (1, "deleted"), id="terminating"),
    pytest.param(None, (1, "deleted"), id="deleted"),
    pytest.param(_canary(status("Initialized", canary_weight=0, release=None), release=None), (0, "idle"),
                 id="no-release-to-roll-out"),
    pytest.param(_canary(status("Initializing", canary_weight=0, conditions=gitops_conditions(
        status("Initializing"), problem=("InvalidSpec", "steps must increase")))), (1, "invalid"), id="invalid-spec"),
    pytest.param(_canary(status("Succeeded", canary_weight=100, release="v1", conditions=gitops_conditions(
        status("Succeeded", release="v1"), problem=("CanaryIsLive", "web-v2 serves live traffic")))),
        (1, "invalid"), id="canary-is-live"),
])
def test_decided(canary, expected):
    outcome = waiting.judge(canary)
    assert (outcome.exit_code, outcome.result) == expected


@pytest.mark.parametrize("canary", [
    pytest.param(_canary(status("Succeeded", canary_weight=100, release="v1")),
                 id="succeeded-for-the-previous-release"),
    pytest.param(_canary(status("Succeeded", canary_weight=100), generation=2), id="generation-not-yet-observed"),
    pytest.param(_canary(status("Failed", canary_weight=0), annotations={"routeshift.dev/retry": "123-abc"}),
                 id="retry-not-yet-handled"),
    pytest.param(_canary(status("Succeeded", canary_weight=100, handledOperations={"undo": "1-a"}),
                         annotations={"routeshift.dev/undo": "2-b"}), id="second-undo-not-yet-handled"),
    pytest.param(_canary(status("Progressing")), id="progressing"),
    pytest.param(_canary(status("RollingBack", canary_weight=0)), id="rolling-back-not-finished"),
    pytest.param(_canary({}), id="no-status"),
    pytest.param(_canary(status("Progressing", conditions=gitops_conditions(
        status("Progressing"), problem=("RouteNotFound", "HTTPRoute default/web not found")))),
        id="route-not-there-yet"),
])
def test_still_waiting(canary):
    assert waiting.judge(canary) is None


def test_a_handled_operation_no_longer_blocks():
    canary = _canary(status("Failed", canary_weight=0, result="aborted", handledOperations={"abort": "1-a"}),
                     annotations={"routeshift.dev/abort": "1-a"})
    assert waiting.judge(canary).result == "aborted"


def test_a_mistyped_flag_exits_1_so_it_never_looks_like_a_timeout(capsys):
    from routeshift.plugin import cli

    with pytest.raises(SystemExit) as exited:
        cli.main(["wait", "web", "--timout", "5m"])
    assert exited.value.code == 1 != waiting.EXIT_TIMEOUT
    assert "unrecognized arguments: --timout 5m" in capsys.readouterr().err


@pytest.mark.parametrize("text, seconds", [("30m", 1800), ("1h30m", 5400), ("90s", 90), ("2.5s", 2.5), ("45", 45),
                                           ("500ms", 0.5)])
def test_timeouts_read_like_kubectls(text, seconds):
    from routeshift.plugin import cli

    assert cli.parse_duration(text) == seconds


def test_a_bad_timeout_is_refused():
    from routeshift.plugin import cli, errors

    with pytest.raises(errors.UsageError):
        cli.parse_duration("5 minutes")


# Workload form: no spec.release; the release waited for is the target's revision when wait started.
PRIMARY_RUNS, SET_IMAGE = "5c1e9f0a7b", "0d9e8f7a6b"


def _workload(phase, release, **extra):
    raw = canary_manifest(release=None)
    raw["spec"] = {"routeRef": {"name": "web"}, "targetRef": {"name": "web"}, "service": {"port": 80}}
    raw["metadata"]["generation"] = 1
    raw["status"] = status(phase, canary_weight=0, release=release, **extra)
    return canaries.Canary(raw)


@pytest.mark.parametrize("canary, expected", [
    pytest.param(_workload("Succeeded", PRIMARY_RUNS), None, id="the-previous-rollout-succeeded"),
    pytest.param(_workload("Initialized", PRIMARY_RUNS), None, id="idle-before-the-controller-saw-the-change"),
    pytest.param(_workload("Progressing", SET_IMAGE), None, id="rolling-out-the-change"),
    pytest.param(_workload("Succeeded", SET_IMAGE), (0, "succeeded"), id="the-change-promoted"),
    pytest.param(_workload("Failed", SET_IMAGE, result="failed"), (1, "failed"), id="the-change-rolled-back"),
    pytest.param(_workload("Initialized", SET_IMAGE), (0, "idle"), id="changed-back-to-what-the-primary-runs"),
])
def test_workload_form_waits_for_the_targets_revision(canary, expected):
    outcome = waiting.judge(canary, expected_release=SET_IMAGE)
    assert (outcome and (outcome.exit_code, outcome.result)) == expected


def test_a_rolled_back_revision_is_reported_with_its_reason():
    why = "canary web did not become ready: 0/2 available (CrashLoopBackOff: container app (3 restarts))"
    canary = _workload("Failed", SET_IMAGE, result="failed", message="rolled back: web-primary serves all traffic",
                       workload={"revision": PRIMARY_RUNS, "failed": {"revision": SET_IMAGE, "reason": why}})
    outcome = waiting.judge(canary, expected_release=SET_IMAGE)
    assert (outcome.exit_code, outcome.message) == (1, f"rolled back: web-primary serves all traffic: {why}")
