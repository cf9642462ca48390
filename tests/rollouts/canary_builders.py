"""Builders for state machine tests: specs, observations, and a small in-memory route world.

``World`` holds a real HTTPRoute dict and applies the controller's ``SetRouteWeights``
actions to it through ``rollouts.routes`` (the same patch the operator sends), bumping
generation and resourceVersion and, when told to, answering as an accepting Gateway.
Driving ``decide`` against it exercises the state machine and the route arithmetic
together without any mock.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
from typing import Any

from analysis.verdicts import IntervalVerdict, MetricVerdict, Verdict
from rollouts import actions, machine, model, routes
from rollouts.observations import GateOutcome, Observations

T0 = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
NAME = "web"


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def spec(**overrides: Any) -> model.CanarySpec:
    raw: dict[str, Any] = {
        "routeRef": {"name": "web"},
        "stable": {"name": "web-v1", "port": 80},
        "canary": {"name": "web-v2", "port": 80},
        "release": "v2",
        "analysis": {"interval": "10s"},
        "progressDeadlineSeconds": 300,
        "acceptanceTimeoutSeconds": 5,
    }
    raw.update(overrides)
    return model.parse_spec({k: v for k, v in raw.items() if v is not None})


def verdict(kind: Verdict, reason: str = "checked", value: float | None = 99.5) -> IntervalVerdict:
    return IntervalVerdict(kind, reason, (MetricVerdict(
        metric="request-success-rate", verdict=kind, reason=reason, value=value, bound=">= 99",
        sample_size=500, min_sample_size=50),))


SUCCESS = verdict(Verdict.SUCCESSFUL)
FAILURE = verdict(Verdict.FAILED, "success rate 80 < 99", 80.0)
INCONCLUSIVE = verdict(Verdict.INCONCLUSIVE, "insufficient traffic 10/50", None)
ERROR = verdict(Verdict.ERROR, "prometheus unreachable", None)


def httproute(stable_weight: int = 100, canary_weight: int = 0) -> dict[str, Any]:
    """A user's route: one shifted rule with a filter, plus an unrelated rule left alone."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": "default", "generation": 1, "resourceVersion": "100"},
        "spec": {
            "parentRefs": [{"name": "gw"}],
            "hostnames": ["web.example.com"],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "filters": [{"type": "RequestHeaderModifier",
                                 "requestHeaderModifier": {"add": [{"name": "x-team", "value": "web"}]}}],
                    "backendRefs": [
                        {"name": "web-v1", "port": 80, "weight": stable_weight},
                        {"name": "web-v2", "port": 80, "weight": canary_weight},
                    ],
                },
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/admin"}}],
                    "backendRefs": [{"name": "admin", "port": 8080}],
                },
            ],
        },
        "status": {"parents": [_accepted(1)]},
    }


def _accepted(generation: int | None) -> dict[str, Any]:
    condition = {"type": "Accepted", "status": "True", "reason": "Accepted"}
    if generation is not None:
        condition["observedGeneration"] = generation
    return {"parentRef": {"name": "gw"}, "controllerName": "routeshift.dev/gateway-proxy", "conditions": [condition]}


@dataclasses.dataclass
class World:
    """One HTTPRoute and an optional accepting Gateway."""

    route: dict[str, Any] = dataclasses.field(default_factory=httproute)
    gateway: str = "accepts"  # accepts | silent (omits observedGeneration) | lags (never catches up)
    writes: list[list[dict[str, Any]]] = dataclasses.field(default_factory=list)

    def apply(self, decided: machine.Decision) -> None:
        for action in decided.actions:
            if isinstance(action, actions.SetRouteWeights):
                ops = routes.patch(self.route, action, owner=NAME)
                if not ops:
                    continue
                self.writes.append(ops)
                route = routes.apply(self.route, ops)
                meta = route["metadata"]
                meta["generation"] += 1
                meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
                if self.gateway == "accepts":
                    route["status"] = {"parents": [_accepted(meta["generation"])]}
                elif self.gateway == "silent":
                    route["status"] = {"parents": [_accepted(None)]}
                self.route = route

    def observations(self, canary: model.CanarySpec, **kwargs: Any) -> Observations:
        observed = routes.observe(self.route, namespace="default", name="web", stable=canary.stable,
                                  canary=canary.canary, owner=NAME)
        return Observations(generation=kwargs.pop("generation", 1), routes=(observed,), **kwargs)

    def weights(self) -> tuple[int, int]:
        refs = self.route["spec"]["rules"][0]["backendRefs"]
        return refs[0]["weight"], refs[1]["weight"]


@dataclasses.dataclass
class Driver:
    """Runs decide against a World, applying its actions, one call per ``tick``."""

    canary: model.CanarySpec
    world: World = dataclasses.field(default_factory=World)
    status: model.CanaryStatus = dataclasses.field(default_factory=model.CanaryStatus)
    now: datetime.datetime = T0
    history: list[machine.Decision] = dataclasses.field(default_factory=list)

    def tick(self, seconds: float = 0.0, **observed: Any) -> machine.Decision:
        self.now += datetime.timedelta(seconds=seconds)
        obs = self.world.observations(self.canary, **observed)
        decided = machine.decide(self.canary, self.status, obs, now=self.now)
        # Round-trip the status through JSON, as the API server would store it.
        self.status = model.parse_status(copy.deepcopy(model.dump_status(decided.status)))
        self.world.apply(decided)
        self.history.append(decided)
        return decided

    def annotate(self, operation: str, value: str) -> dict[str, str]:
        return {f"routeshift.dev/{operation}": value}

    def run_until(self, phase: model.Phase, *, every: float = 10.0, limit: int = 60, **observed: Any) -> list[int]:
        """Tick until ``phase``; return the distinct canary weights the route carried, in order."""
        seen: list[int] = [self.world.weights()[1]]
        for _ in range(limit):
            self.tick(every, **observed)
            weight = self.world.weights()[1]
            if weight != seen[-1]:
                seen.append(weight)
            if self.status.phase == phase:
                return seen
        raise AssertionError(f"never reached {phase}: {self.status.phase} {self.status.message}")

    def events(self) -> list[str]:
        return [a.reason for d in self.history for a in d.actions if isinstance(a, actions.RecordEvent)]


def gate(name: str, type_: str, ok: bool, reason: str = "") -> GateOutcome:
    return GateOutcome(name=name, type=type_, ok=ok, reason=reason)
