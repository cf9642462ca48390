"""The Argo CD health check the chart ships, run by a real Lua 5.1 (Argo CD's gopher-lua speaks 5.1).

Argo CD evaluates ``resource.customizations.health.routeshift.dev_Canary`` with the live
object as ``obj``. The check reads the kstatus conditions (docs/gitops-health.md). The
objects it gets here are what the controller writes: in the table, a status in every phase
and situation with the conditions of the controller's own table (``rollouts.health``),
serialised by its model (``rollouts.model.dump_status``, the merge patch it sends); along
the rollouts, the status after each decision of the real state machine.
"""

from __future__ import annotations

import copy
import datetime
import shutil
import subprocess

import pytest

from canary_builders import FAILURE, Driver, spec
from rollouts import health, model
from rollouts.model import ConditionStatus as C, Phase
from routeshift.testing.helm import REPO_ROOT
from workload_world import CRASHING, WorkloadDriver

SCRIPT = REPO_ROOT / "charts" / "routeshift" / "files" / "argocd" / "canary-health.lua"
LUA = shutil.which("lua5.1")
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def lua_literal(value) -> str:
    """A Python value (as JSON decodes) as a Lua table constructor; null fields are left out."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else
                          "".join(f"\\{byte}" for byte in c.encode()) for c in value)
        return f'"{escaped}"'
    if isinstance(value, list):
        return "{" + ", ".join(lua_literal(item) for item in value if item is not None) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua_literal(k)}] = {lua_literal(v)}" for k, v in value.items()
                               if v is not None) + "}"
    raise TypeError(type(value))


def healths(objs: list[dict]) -> list[tuple[str, str]]:
    """(hs.status, hs.message) for each object, as Argo CD would read them, in one Lua process."""
    assert LUA is not None, "lua5.1 missing: `make test` installs the Debian package lua5.1"
    program = (f"local objects = {lua_literal(objs)}\n"
               f"local check = assert(loadfile({lua_literal(str(SCRIPT))}))\n"
               "for _, each in ipairs(objects) do\n"
               "  obj = each\n"
               "  local hs = check()\n"
               "  io.write(hs.status, '\\t', string.gsub(hs.message or '', '\\n', ' '), '\\n')\n"
               "end\n")
    result = subprocess.run([LUA, "-"], input=program, capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(objs)
    return [tuple(line.split("\t", 1)) for line in lines]


def health_of(obj: dict) -> tuple[str, str]:
    (verdict,) = healths([obj])
    return verdict


def manifest(status: model.CanaryStatus | None, *, generation: int = 1) -> dict:
    obj = {"apiVersion": f"{model.GROUP}/{model.VERSION}", "kind": model.KIND,
           "metadata": {"name": "podinfo", "namespace": "shop", "generation": generation},
           "spec": {"routeRef": {"name": "podinfo"}, "targetRef": {"name": "podinfo"}, "service": {"port": 80}}}
    if status is not None:
        obj["status"] = model.dump_status(status)
    return obj


def canary(phase: Phase | None, *, generation: int = 1, observed: int | None = 1, extra_conditions=(),
           wanted_release: str | None = None, problem: tuple[str, str] | None = None, **fields) -> dict:
    """A Canary in ``phase`` with the Ready/Reconciling/Stalled the controller's table gives it."""
    if phase is None:
        return manifest(None, generation=generation)
    status = model.CanaryStatus(phase=phase, observed_generation=observed, release="5c1e9f0a7b",
                                message=f"{phase.value} message", **fields)
    verdict = health.assess(status, wanted_release=wanted_release, problem=problem)
    status.conditions = [model.Condition(type=type_, status=state, reason=verdict.reason, message=verdict.message,
                                         observed_generation=observed) for type_, state in verdict.conditions()]
    status.conditions += list(extra_conditions)
    return manifest(status, generation=generation)


FAILED_REVISION = model.WorkloadStatus(revision="7f6d5c4b3a", failed=model.FailedRevision(
    revision="5c1e9f0a7b", reason="request-success-rate: 92.59 below min 99", time=NOW))
REVERTED = model.WorkloadStatus(revision="5c1e9f0a7b", failed=model.FailedRevision(revision="0a1b2c3d4e", time=NOW))
ROLLED_BACK = [model.DecisionRecord(time=NOW, phase=Phase.ROLLING_BACK, step=1, weight=0,
                                    reason="analysis failed at weight 10%: success rate 80 < 99")]


CASES = [
    pytest.param(canary(None), ("Progressing", "Waiting for the Routeshift controller"), id="no-status-yet"),
    pytest.param(canary(Phase.SUCCEEDED, generation=2), ("Progressing", "Waiting for the controller to observe "
                                                                         "generation 2"), id="spec-not-yet-observed"),
    pytest.param(canary(Phase.INITIALIZING), ("Progressing", "Initializing: Initializing message"), id="initializing"),
    pytest.param(canary(Phase.INITIALIZED), ("Healthy", "Initialized: Initialized message"), id="initialized"),
    pytest.param(canary(Phase.PROGRESSING), ("Progressing", "Progressing: Progressing message"), id="progressing"),
    pytest.param(canary(Phase.PAUSED), ("Suspended", "Paused: Paused message"), id="paused"),
    pytest.param(canary(Phase.WAITING_PROMOTION), ("Suspended", "WaitingPromotion: WaitingPromotion message"),
                 id="waiting-promotion"),
    pytest.param(canary(Phase.PROMOTING), ("Progressing", "Promoting: Promoting message"), id="promoting"),
    pytest.param(canary(Phase.FINALISING), ("Progressing", "Finalising: Finalising message"), id="finalising"),
    pytest.param(canary(Phase.SUCCEEDED), ("Healthy", "Succeeded: Succeeded message"), id="succeeded"),
    pytest.param(canary(Phase.SUCCEEDED, wanted_release="9f8e7d6c5b"),
                 ("Progressing", "ReleasePending: release 9f8e7d6c5b is next: Succeeded message"),
                 id="succeeded-but-the-next-release-is-due"),
    pytest.param(canary(Phase.ROLLING_BACK, result="failed"), ("Progressing", "RollingBack: RollingBack message"),
                 id="rolling-back"),
    pytest.param(canary(Phase.FAILED, result="failed", decisions=ROLLED_BACK),
                 ("Degraded", "RolledBack: release 5c1e9f0a7b rolled back: analysis failed at weight 10%: "
                  "success rate 80 < 99"), id="failed"),
    pytest.param(canary(Phase.FAILED, result="failed", workload=FAILED_REVISION),
                 ("Degraded", "RolledBack: release 5c1e9f0a7b rolled back: request-success-rate: 92.59 below min 99"),
                 id="failed-revision-names-why"),
    pytest.param(canary(Phase.FAILED, result="aborted"), ("Degraded", "Aborted: release 5c1e9f0a7b rolled back: "
                                                                      "Failed message"), id="aborted"),
    pytest.param(canary(Phase.FAILED, result="undone"), ("Degraded", "Undone: release 5c1e9f0a7b rolled back: "
                                                                     "Failed message"), id="undone"),
    pytest.param(canary(Phase.FAILED, result="failed", workload=REVERTED), ("Healthy", "Reverted: Failed message"),
                 id="workload-changed-back-to-what-runs"),
    pytest.param(canary(Phase.TERMINATING), ("Progressing", "Terminating: Terminating message"), id="terminating"),
    pytest.param(canary(Phase.TERMINATED), ("Progressing", "Terminated: Terminated message"), id="terminated"),
    pytest.param(canary(Phase.INITIALIZING, problem=("TargetNotFound", "Deployment shop/podinfo (targetRef) not "
                                                                       "found")),
                 ("Degraded", "TargetNotFound: Deployment shop/podinfo (targetRef) not found"), id="bad-input"),
    pytest.param(canary(Phase.SUCCEEDED, problem=("InvalidSpec", "steps must be strictly increasing")),
                 ("Degraded", "InvalidSpec: steps must be strictly increasing"), id="invalid-spec-after-a-success"),
    pytest.param(canary(Phase.PROGRESSING, extra_conditions=[model.Condition(
        type="Analysis", status=C.FALSE, reason="Failed", message="one interval failed")]),
        ("Progressing", "Progressing: Progressing message"), id="a-failed-interval-is-not-yet-degraded"),
]


@pytest.mark.parametrize("obj, expected", CASES)
def test_argocd_reads_each_phase_as_a_person_would(obj, expected):
    assert health_of(obj) == expected


def test_every_phase_has_a_case():
    """A new phase must be given a health verdict on purpose: in the controller's table, and here."""
    assert {case.values[0].get("status", {}).get("phase") for case in CASES} >= {phase.value for phase in Phase}


# --------------------------------------------------------------------------- along real rollouts


def trail(driver, *, generation: int = 1) -> list[str]:
    """Argo CD's health after each decision the driver made, repeats collapsed."""
    objs = [manifest(model.parse_status(copy.deepcopy(model.dump_status(d.status))), generation=generation)
            for d in driver.history]
    seen: list[str] = []
    for status, _ in healths(objs):
        if not seen or seen[-1] != status:
            seen.append(status)
    return seen


def test_a_promoted_rollout_with_a_manual_gate_reads_progressing_suspended_then_healthy():
    driver = Driver(spec(strategy={"progressive": {"steps": [10, 50], "pauses": [{"atWeight": 10}]}}))
    driver.run_until(Phase.PAUSED)
    driver.tick(10, annotations=driver.annotate("resume", "1"))
    driver.run_until(Phase.SUCCEEDED)
    assert trail(driver) == ["Progressing", "Suspended", "Progressing", "Healthy"]
    assert health_of(manifest(driver.status)) == ("Healthy", "Succeeded: release v2 promoted: web-v2 is live")


def test_a_rolled_back_workload_revision_reads_degraded_with_the_pods_problem():
    driver = WorkloadDriver()
    driver.run_until(Phase.INITIALIZED, every=1)
    driver.tick(1)
    driver.world.set_image(CRASHING)
    driver.run_until(Phase.FAILED, every=5)
    assert trail(driver) == ["Progressing", "Healthy", "Progressing", "Degraded"]
    status, message = health_of(manifest(driver.status))
    assert status == "Degraded" and message.startswith("RolledBack: release ") and "CrashLoopBackOff" in message


def test_a_failed_analysis_reads_degraded_until_a_retry():
    driver = Driver(spec(analysis={"interval": "10s", "metrics": [{"name": "request-success-rate",
                                                                    "thresholdRange": {"min": 99}}]}))
    driver.tick()
    driver.run_until(Phase.FAILED, verdict=FAILURE)
    driver.tick(10, annotations=driver.annotate("retry", "1"))
    assert trail(driver) == ["Progressing", "Degraded", "Progressing"]
