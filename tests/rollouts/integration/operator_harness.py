"""What the operator integration tests share: a scripted analysis and the objects they drive.

``AcceptingGateway`` (the Gateway stand-in) lives in ``routeshift.testing.controller``;
``ScriptedAnalysis`` has ``analysis.evaluate_interval``'s signature.
"""

from __future__ import annotations

from analysis.verdicts import IntervalVerdict, MetricVerdict, Verdict
from routeshift.testing.controller import ROUTES, AcceptingGateway

__all__ = ["ROUTES", "AcceptingGateway", "CANARIES", "FAST", "ScriptedAnalysis", "canary", "phase", "route"]


CANARIES = "routeshift.dev/v1alpha1/canaries"
FAST = {"interval": "100ms",
        "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}}]}


class ScriptedAnalysis:
    """Test double with ``analysis.evaluate_interval``'s signature: fails at chosen canary weights."""

    def __init__(self, fail_at: int | None = None, gateway: AcceptingGateway | None = None):
        self.fail_at, self.gateway, self.calls = fail_at, gateway, 0

    async def __call__(self, spec, target, state, *, now, provider, templates=None, resolve_provider=None):
        self.calls += 1
        weight = self.gateway.seen[-1][1] if self.gateway and self.gateway.seen else None
        kind = Verdict.FAILED if weight is not None and weight == self.fail_at else Verdict.SUCCESSFUL
        value = 80.0 if kind is Verdict.FAILED else 99.9
        metric = MetricVerdict("request-success-rate", kind, f"success rate {value}", value, ">= 99", 200, 50)
        return IntervalVerdict(kind, f"success rate {value}", (metric,)), state.model_copy(
            update={"intervals": state.intervals + 1})


def route() -> dict:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "parentRefs": [{"name": "gw"}],
            "rules": [
                {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                 "filters": [{"type": "RequestHeaderModifier",
                              "requestHeaderModifier": {"set": [{"name": "x-env", "value": "prod"}]}}],
                 "backendRefs": [{"name": "web-v1", "port": 80, "weight": 100},
                                 {"name": "web-v2", "port": 80, "weight": 0}]},
                {"matches": [{"path": {"type": "PathPrefix", "value": "/static"}}],
                 "backendRefs": [{"name": "cdn", "port": 80}]},
            ],
        },
    }


def canary(**spec) -> dict:
    body = {"routeRef": {"name": "web"}, "stable": {"name": "web-v1", "port": 80},
            "canary": {"name": "web-v2", "port": 80}, "release": "v2", "analysis": FAST,
            "progressDeadlineSeconds": 30, "acceptanceTimeoutSeconds": 2}
    body.update(spec)
    return {"apiVersion": "routeshift.dev/v1alpha1", "kind": "Canary",
            "metadata": {"name": "web", "namespace": "default"}, "spec": body}


def phase(api) -> str | None:
    canary = api.get(CANARIES, "default", "web")
    return (canary or {}).get("status", {}).get("phase")
