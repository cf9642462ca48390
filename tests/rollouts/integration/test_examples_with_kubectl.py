"""Each example applied with the real kubectl is driven by the operator; printer columns show it."""

from __future__ import annotations

import pathlib

import pytest

from operator_harness import CANARIES, AcceptingGateway, ScriptedAnalysis
from routeshift.testing.polling import until

ROOT = pathlib.Path(__file__).resolve().parents[3]
# Service-form examples only: a workload-form one (targetRef) needs Pods that run, which the
# full-stack test in tests/e2e gives it.
EXAMPLES = sorted(p.parent.name for p in ROOT.glob("examples/*/canary.yaml") if "targetRef" not in p.read_text())


def _ok(result):
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_is_driven_and_listed(example, k8s_api, kubectl, start):
    _ok(kubectl("apply", "-f", str(ROOT / "crds")))
    _ok(kubectl("apply", "-f", str(ROOT / "examples/01-canary-steps/route.yaml")))
    with AcceptingGateway(k8s_api, "default", "podinfo", stable="podinfo-v1", canary="podinfo-v2") as gateway:
        start(ScriptedAnalysis(gateway=gateway))
        _ok(kubectl("apply", "-f", str(ROOT / "examples" / example / "canary.yaml")))
        name = next(c["metadata"]["name"] for c in k8s_api.objects(CANARIES, "default"))
        until(lambda: (k8s_api.get(CANARIES, "default", name).get("status") or {}).get("stepSettledAt"),
              timeout=15, description="first step accepted")
        table = _ok(kubectl("get", "canaries"))
        header, row = table.splitlines()[0].split(), table.splitlines()[1].split()
        assert header == ["NAME", "PHASE", "WEIGHT", "STEP", "VERDICT", "AGE"]
        assert row[:2] == [name, "Progressing"]
        # Under way: Reconciling, not yet Ready (GitOps tools wait), not Stalled (nothing is wrong).
        assert _ok(kubectl("get", "cn", name, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}/"
                           "{.status.conditions[?(@.type=='Reconciling')].status}/"
                           "{.status.conditions[?(@.type=='Stalled')].status}")) == "False/True/False"
        _ok(kubectl("annotate", "canary", name, "routeshift.dev/promote-full=now", "--overwrite"))
        until(lambda: k8s_api.get(CANARIES, "default", name)["status"]["phase"] == "Succeeded", timeout=15,
              description="promoted by kubectl annotate")
        assert gateway.seen[-1] == (0, 100)
        described = _ok(kubectl("describe", "canary", name))
        assert "promote-full" in described
