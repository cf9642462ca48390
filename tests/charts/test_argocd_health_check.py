"""The Argo CD health check the chart ships, run by a real Lua 5.1 (Argo CD's gopher-lua speaks 5.1).

Argo CD evaluates ``resource.customizations.health.routeshift.dev_Canary`` with the live
object as ``obj``. Each case here is a Canary whose status the controller's own model
serialises (``rollouts.model.dump_status``, the merge patch the controller writes), in every
phase and with the conditions that change the verdict; the script gets it as a Lua table,
as Argo CD would give it.
"""

from __future__ import annotations

import datetime
import shutil
import subprocess

import pytest

from rollouts import model
from rollouts.model import ConditionStatus as C, Phase
from routeshift.testing.helm import REPO_ROOT

SCRIPT = REPO_ROOT / "charts" / "routeshift" / "files" / "argocd" / "canary-health.lua"
LUA = shutil.which("lua5.1")
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
VALID = model.Condition(type="Ready", status=C.TRUE, reason="Valid", message="spec, route and backends are valid",
                        observed_generation=1)


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


def health(obj: dict) -> tuple[str, str]:
    """(hs.status, hs.message) as Argo CD would read them."""
    assert LUA is not None, "lua5.1 missing: `make test` installs the Debian package lua5.1"
    program = (f"obj = {lua_literal(obj)}\n"
               f"local check = assert(loadfile({lua_literal(str(SCRIPT))}))\n"
               "local hs = check()\n"
               "io.write(hs.status, '\\n', hs.message or '')\n")
    result = subprocess.run([LUA, "-"], input=program, capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr
    status, _, message = result.stdout.partition("\n")
    return status, message


def canary(phase: Phase | None, *, generation: int = 1, observed: int | None = 1, conditions=(VALID,),
           **fields) -> dict:
    obj = {"apiVersion": f"{model.GROUP}/{model.VERSION}", "kind": model.KIND,
           "metadata": {"name": "podinfo", "namespace": "shop", "generation": generation},
           "spec": {"routeRef": {"name": "podinfo"}, "targetRef": {"name": "podinfo"}, "service": {"port": 80}}}
    if phase is not None:
        status = model.CanaryStatus(phase=phase, observed_generation=observed, release="5c1e9f0a7b",
                                    message=f"{phase.value} message", conditions=list(conditions), **fields)
        obj["status"] = model.dump_status(status)
    return obj


FAILED_REVISION = model.WorkloadStatus(revision="7f6d5c4b3a", failed=model.FailedRevision(
    revision="5c1e9f0a7b", reason="request-success-rate: 92.59 below min 99", time=NOW))


@pytest.mark.parametrize("obj, expected", [
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
    pytest.param(canary(Phase.ROLLING_BACK), ("Progressing", "RollingBack: RollingBack message"), id="rolling-back"),
    pytest.param(canary(Phase.FAILED), ("Degraded", "Failed: Failed message"), id="failed"),
    pytest.param(canary(Phase.FAILED, workload=FAILED_REVISION),
                 ("Degraded", "Failed: Failed message: request-success-rate: 92.59 below min 99"),
                 id="failed-revision-names-why"),
    pytest.param(canary(Phase.TERMINATING), ("Progressing", "Terminating: Terminating message"), id="terminating"),
    pytest.param(canary(Phase.INITIALIZING, conditions=[model.Condition(
        type="Ready", status=C.FALSE, reason="TargetNotFound", message="Deployment shop/podinfo (targetRef) not found",
        observed_generation=1)]), ("Degraded", "TargetNotFound: Deployment shop/podinfo (targetRef) not found"),
        id="bad-input"),
    pytest.param(canary(Phase.PROGRESSING, conditions=[VALID, model.Condition(
        type="Analysis", status=C.FALSE, reason="Failed", message="one interval failed")]),
        ("Progressing", "Progressing: Progressing message"), id="a-failed-interval-is-not-yet-degraded"),
])
def test_argocd_reads_each_phase_as_a_person_would(obj, expected):
    assert health(obj) == expected


def test_every_phase_has_a_case():
    """A new phase must be given a health verdict on purpose."""
    source = SCRIPT.read_text()
    named = {phase for phase in Phase if f'"{phase.value}"' in source}
    defaulted = {Phase.INITIALIZING, Phase.PROGRESSING, Phase.PROMOTING, Phase.FINALISING, Phase.ROLLING_BACK,
                 Phase.TERMINATING, Phase.TERMINATED}
    assert named | defaulted == set(Phase)
    assert "-- Initializing, Progressing, Promoting, Finalising, RollingBack, Terminating, Terminated" in source
