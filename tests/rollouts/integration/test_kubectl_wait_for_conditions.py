"""``kubectl wait --for=condition=...`` on a Canary, as a pipeline or a GitOps tool would run it.

The real operator drives the rollout against the emulated API; the real kubectl waits on
the conditions it writes (docs/gitops-health.md): Ready once the release is promoted,
Stalled once it was rolled back, and never the previous release's Ready for a new one.
"""

from __future__ import annotations

import json

from operator_harness import CANARIES, ScriptedAnalysis, canary


def _apply(kubectl, manifest: dict) -> None:
    applied = kubectl("apply", "-f", "-", input=json.dumps(manifest))
    assert applied.returncode == 0, applied.stderr


def _condition(kubectl, type_: str) -> str:
    got = kubectl("get", "canary", "web", "-o", "jsonpath={.status.conditions[?(@.type=='" + type_ + "')].status}"
                  "/{.status.conditions[?(@.type=='" + type_ + "')].reason}")
    assert got.returncode == 0, got.stderr
    return got.stdout


def test_wait_for_ready_returns_once_the_release_is_promoted(cluster, gateway, start, kubectl):
    start(ScriptedAnalysis(gateway=gateway))
    _apply(kubectl, canary())
    waited = kubectl("wait", "--for=condition=Ready", "canary/web", "--timeout=60s", timeout=90)
    assert waited.returncode == 0, waited.stderr
    status = cluster.get(CANARIES, "default", "web")["status"]
    assert (status["phase"], status["release"]) == ("Succeeded", "v2")
    assert gateway.seen[-1] == (0, 100), "Ready only once the new release serves all traffic"
    assert _condition(kubectl, "Reconciling") == "False/Succeeded"
    assert _condition(kubectl, "Stalled") == "False/Succeeded"

    # The next release: the previous Ready=True is about an older generation, kubectl does not take it.
    _apply(kubectl, canary(release="v3", stable={"name": "web-v2", "port": 80}, canary={"name": "web-v1", "port": 80}))
    waited = kubectl("wait", "--for=condition=Ready", "canary/web", "--timeout=60s", timeout=90)
    assert waited.returncode == 0, waited.stderr
    status = cluster.get(CANARIES, "default", "web")["status"]
    assert (status["phase"], status["release"]) == ("Succeeded", "v3")
    assert gateway.seen[-1] == (100, 0)


def test_a_rolled_back_release_ends_stalled_and_never_ready(cluster, gateway, start, kubectl):
    start(ScriptedAnalysis(fail_at=10, gateway=gateway))
    _apply(kubectl, canary())
    waited = kubectl("wait", "--for=condition=Stalled", "canary/web", "--timeout=60s", timeout=90)
    assert waited.returncode == 0, waited.stderr
    status = cluster.get(CANARIES, "default", "web")["status"]
    assert (status["phase"], status["result"]) == ("Failed", "failed")
    assert gateway.seen[-1] == (100, 0)
    assert _condition(kubectl, "Stalled") == "True/RolledBack"
    assert _condition(kubectl, "Ready") == "False/RolledBack"
    stalled = next(c for c in status["conditions"] if c["type"] == "Stalled")
    assert stalled["message"].startswith("release v2 rolled back: analysis failed at weight 10%: success rate 80")
