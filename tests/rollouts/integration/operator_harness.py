"""What the operator integration tests share: a Gateway stand-in, a scripted analysis, objects.

``AcceptingGateway`` plays a Gateway controller: the controller waits for ``Accepted=True``
at the route's current generation before a step's dwell starts, so this thread writes that
status against the emulated API, the way our proxy does in ``--kubernetes`` mode, and keeps
the (stable, canary) weights of every generation it saw, in order: the record the tests
compare with the plan. ``ScriptedAnalysis`` has ``analysis.evaluate_interval``'s signature.
"""

from __future__ import annotations

import threading

from analysis.verdicts import IntervalVerdict, MetricVerdict, Verdict
from routeshift.emulator import EmulatorThread

ROUTES = "gateway.networking.k8s.io/v1/httproutes"


class AcceptingGateway:
    def __init__(self, api: EmulatorThread, namespace: str, name: str, *, stable: str, canary: str,
                 period: float = 0.01):
        self.api, self.namespace, self.name = api, namespace, name
        self.stable, self.canary, self.period = stable, canary, period
        self.seen: list[tuple[int, int]] = []
        self.generations: list[int] = []
        self.shapes: list[tuple[int, int]] = []  # (number of rules, filters of rule 0) per generation
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="accepting-gateway", daemon=True)

    def __enter__(self) -> AcceptingGateway:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def weights(self, route: dict) -> tuple[int, int]:
        refs = {r["name"]: r.get("weight", 1) for r in route["spec"]["rules"][0]["backendRefs"]}
        return refs[self.stable], refs[self.canary]

    def _run(self) -> None:
        # The gateway's own reconcile cadence, not a wait for a test condition.
        while not self._stop.wait(self.period):
            route = self.api.get(ROUTES, self.namespace, self.name)
            if route is None:
                continue
            generation = route["metadata"]["generation"]
            if self.generations and self.generations[-1] == generation:
                continue
            self.generations.append(generation)
            weights = self.weights(route)
            rules = route["spec"]["rules"]
            self.shapes.append((len(rules), len(rules[0].get("filters") or [])))
            if not self.seen or self.seen[-1] != weights:
                self.seen.append(weights)
            condition = {"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
                         "observedGeneration": generation, "lastTransitionTime": "2026-01-01T00:00:00Z"}
            parent = {"parentRef": {"name": "gw"}, "controllerName": "routeshift.dev/gateway-proxy",
                      "conditions": [condition]}
            self.api.patch(ROUTES, self.namespace, self.name, {"status": {"parents": [parent]}},
                           subresource="status")


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
