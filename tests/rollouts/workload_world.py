"""A small in-memory cluster for workload-form state machine tests: Deployments, Services, one route.

``WorkloadWorld`` applies the workload machine's actions the way the API server and the
Deployment controller would (generation bumps, a rollout that finishes on the next tick,
images that never get ready), and the route actions through the same patch functions the
operator sends, so ``WorkloadDriver`` exercises the decisions and the route arithmetic
together without mocks.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
from typing import Any

from canary_builders import T0, _accepted
from rollouts import actions, config_tracking, machine, model, route_adoption, routes, workload_machine, workloads
from rollouts.observations import Observations

NAME = "podinfo"
NS = "demo"
CRASHING = "ghcr.io/routeshift/crash:v1"


def app_route() -> dict[str, Any]:
    """The user's route before Routeshift: one rule to the app's Service, one unrelated rule."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "podinfo", "namespace": NS, "generation": 1, "resourceVersion": "10"},
        "spec": {"parentRefs": [{"name": "gw"}], "rules": [
            {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
             "backendRefs": [{"name": "podinfo", "port": 9898,
                              "filters": [{"type": "RequestHeaderModifier",
                                           "requestHeaderModifier": {"set": [{"name": "x-app", "value": "1"}]}}]}]},
            {"matches": [{"path": {"type": "PathPrefix", "value": "/admin"}}],
             "backendRefs": [{"name": "admin", "port": 8080}]},
        ]},
        "status": {"parents": [_accepted(1)]},
    }


def workload_spec(**overrides: Any) -> model.CanarySpec:
    raw: dict[str, Any] = {"routeRef": {"name": "podinfo"}, "targetRef": {"name": NAME},
                           "service": {"port": 9898, "targetPort": "http"}, "analysis": {"interval": "10s"},
                           "progressDeadlineSeconds": 60, "acceptanceTimeoutSeconds": 5}
    raw.update(overrides)
    return model.parse_spec({k: v for k, v in raw.items() if v is not None})


def target(image: str = "ghcr.io/routeshift/demo-app:v1", replicas: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": NS, "generation": 1, "resourceVersion": "1"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": NAME}},
                 "template": {"metadata": {"labels": {"app": NAME}},
                              "spec": {"containers": [{"name": "app", "image": image,
                                                       "ports": [{"containerPort": 9898, "name": "http"}]}]}}},
        "status": {},
    }


@dataclasses.dataclass
class WorkloadWorld:
    deployments: dict[str, dict[str, Any]] = dataclasses.field(default_factory=lambda: {NAME: target()})
    services: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    route: dict[str, Any] | None = dataclasses.field(default_factory=app_route)
    # ConfigMaps and Secrets by (kind, name), e.g. ("ConfigMap", "podinfo-config").
    configs: dict[tuple[str, str], dict[str, Any]] = dataclasses.field(default_factory=dict)
    log: list[actions.Action] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self.settle()

    # -------------------------------------------------------------- the user's edits

    def set_image(self, image: str, name: str = NAME) -> None:
        """``kubectl set image``: a new template, a new generation, not yet observed."""
        deployment = self.deployments[name]
        deployment["spec"]["template"]["spec"]["containers"][0]["image"] = image
        deployment["metadata"]["generation"] += 1

    def edit_config(self, kind: str, name: str, data: dict[str, str]) -> None:
        """``kubectl apply`` of a ConfigMap or Secret: new content, same name."""
        self.configs[(kind, name)] = {"apiVersion": "v1", "kind": kind,
                                      "metadata": {"name": name, "namespace": NS}, "data": dict(data)}

    # -------------------------------------------------------------- the Deployment controller

    def settle(self) -> None:
        """Finish every rollout that can finish: pods of known images become available."""
        for deployment in self.deployments.values():
            want = workloads.replicas(deployment)
            image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
            healthy = image != CRASHING
            deployment["status"] = {"observedGeneration": deployment["metadata"]["generation"],
                                    "replicas": want, "updatedReplicas": want,
                                    "availableReplicas": want if healthy else 0}

    def pods_problem(self, name: str) -> str:
        deployment = self.deployments.get(name)
        if deployment is None or deployment["spec"]["template"]["spec"]["containers"][0]["image"] != CRASHING:
            return ""
        return "CrashLoopBackOff: container app (3 restarts): back-off restarting failed container"

    # -------------------------------------------------------------- actions

    def apply(self, decided: machine.Decision) -> None:
        for action in decided.actions:
            self.log.append(action)
            match action:
                case actions.ApplyObject(body=body) if body["kind"] in (config_tracking.CONFIG_MAP,
                                                                         config_tracking.SECRET):
                    self.configs[(body["kind"], body["metadata"]["name"])] = copy.deepcopy(body)
                case actions.ApplyObject(body=body):
                    store = self.deployments if body["kind"] == "Deployment" else self.services
                    live = store.get(body["metadata"]["name"])
                    obj = copy.deepcopy(body)
                    obj["metadata"]["generation"] = (live["metadata"]["generation"] + 1) if live else 1
                    obj["status"] = live.get("status", {}) if live else {}
                    store[body["metadata"]["name"]] = obj
                case actions.ScaleDeployment(name=name, replicas=replicas):
                    self.deployments[name]["spec"]["replicas"] = replicas
                    self.deployments[name]["metadata"]["generation"] += 1
                case actions.DeleteObject(kind=kind, name=name) if kind in (config_tracking.CONFIG_MAP,
                                                                             config_tracking.SECRET):
                    self.configs.pop((kind, name), None)
                case actions.DeleteObject(kind=kind, name=name):
                    (self.deployments if kind == "Deployment" else self.services).pop(name, None)
                case actions.SetRouteWeights():
                    self._patch(routes.patch(self.route, action, owner=NAME))
                case actions.AdoptRoute():
                    self._patch(route_adoption.adopt_patch(self.route, action, namespace=NS))
                case actions.ReleaseRoute():
                    self._patch(route_adoption.release_patch(self.route, action))

    def _patch(self, ops: list[dict[str, Any]]) -> None:
        if not ops or self.route is None:
            return
        route = routes.apply(self.route, ops)
        meta = route["metadata"]
        meta["generation"] += 1
        meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
        route["status"] = {"parents": [_accepted(meta["generation"])]}
        self.route = route

    # -------------------------------------------------------------- observations

    def _read(self, refs) -> dict:
        return {ref: copy.deepcopy(self.configs.get((ref.kind, ref.name))) for ref in refs}

    def tracked_configs(self, spec: model.CanarySpec) -> dict:
        """What the adapter reads for ``trackConfigs``: the target's referenced, tracked objects."""
        target = self.deployments.get(NAME)
        if not spec.track_configs or target is None:
            return {}
        return config_tracking.tracked(self._read(config_tracking.references(workloads.template(target))))

    def observations(self, spec: model.CanarySpec, *, deleting: bool = False, config_problem: str = "",
                     **kwargs: Any) -> Observations:
        # As the adapter: what could not be read is left out, and the problem said.
        configs = {} if config_problem else self.tracked_configs(spec)
        route_spec = workloads.service_form(spec, workloads.release_of(self.deployments.get(NAME), configs))
        observed = routes.observe(self.route, namespace=NS, name="podinfo", stable=route_spec.stable,
                                  canary=route_spec.canary, owner=NAME)
        names = workloads.names(spec)
        workload = workloads.WorkloadObservation(
            uid="uid-1", target=copy.deepcopy(self.deployments.get(NAME)),
            primary=copy.deepcopy(self.deployments.get(names.primary)),
            services={n: copy.deepcopy(self.services.get(n)) for n in (names.primary, names.canary)},
            neighbours=tuple(copy.deepcopy(list(self.deployments.values()))),
            target_pods_problem=self.pods_problem(NAME), primary_pods_problem=self.pods_problem(names.primary),
            routes=(workloads.RouteAdoption(
                namespace=NS, name="podinfo", found=self.route is not None,
                app_refs=route_adoption.app_refs(self.route, names.app, namespace=NS),
                adopted=route_adoption.adopted(self.route, route_spec.stable, route_spec.canary)),),
            configs=configs, config_problem=config_problem, primary_copies=self._read(
                ref for ref in config_tracking.references(workloads.template(self.deployments.get(names.primary) or {}))
                if ref.name.endswith(config_tracking.PRIMARY_SUFFIX)) if deleting else {})
        return Observations(generation=kwargs.pop("generation", 1), routes=(observed,), deleting=deleting,
                            workload=workload, **kwargs)

    def weights(self) -> tuple[int, int] | None:
        """(primary, canary) weights of the adopted rule, or None before adoption."""
        refs = self.route["spec"]["rules"][0]["backendRefs"]
        found = {ref["name"]: ref.get("weight", 1) for ref in refs}
        if f"{NAME}-primary" not in found:
            return None
        return found[f"{NAME}-primary"], found[f"{NAME}-canary"]


@dataclasses.dataclass
class WorkloadDriver:
    """Runs the workload machine against a WorkloadWorld, one decision per ``tick``."""

    canary: model.CanarySpec = dataclasses.field(default_factory=workload_spec)
    world: WorkloadWorld = dataclasses.field(default_factory=WorkloadWorld)
    status: model.CanaryStatus = dataclasses.field(default_factory=model.CanaryStatus)
    now: datetime.datetime = T0
    history: list[machine.Decision] = dataclasses.field(default_factory=list)
    ready_at_once: bool = True  # the Deployment controller finishes rollouts between ticks

    def tick(self, seconds: float = 0.0, **observed: Any) -> machine.Decision:
        self.now += datetime.timedelta(seconds=seconds)
        decided = workload_machine.decide(self.canary, self.status, self.world.observations(self.canary, **observed),
                                          owner=NAME, namespace=NS, now=self.now)
        self.status = model.parse_status(copy.deepcopy(model.dump_status(decided.status)))
        self.world.apply(decided)
        if self.ready_at_once:
            self.world.settle()
        self.history.append(decided)
        return decided

    def run_until(self, phase: model.Phase, *, every: float = 10.0, limit: int = 80, **observed: Any) -> list:
        """Tick until ``phase``; return the distinct (primary, canary) weights seen, in order."""
        seen: list = [self.world.weights()]
        for _ in range(limit):
            self.tick(every, **observed)
            if self.world.weights() != seen[-1]:
                seen.append(self.world.weights())
            if self.status.phase == phase:
                return seen
        raise AssertionError(f"never reached {phase}: {self.status.phase} {self.status.message}")

    def events(self) -> list[str]:
        return [a.reason for d in self.history for a in d.actions if isinstance(a, actions.RecordEvent)]

    def replicas(self, name: str = NAME) -> int | None:
        found = self.world.deployments.get(name)
        return None if found is None else workloads.replicas(found)
