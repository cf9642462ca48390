"""Run the real controller against the emulator in tests, with a Gateway stand-in beside it.

The controller counts a weight step as done only once the route's parents report
``Accepted=True`` for the route's new generation. Tests that are about the controller
(or the plugin driving it) rather than the proxy use :class:`AcceptingGateway`, which
writes that status the way our proxy does in ``--kubernetes`` mode and records every
(stable, canary) weight pair it saw: the record tests compare with the plan.
"""

from __future__ import annotations

import threading

from routeshift.emulator import EmulatorThread

ROUTES = "gateway.networking.k8s.io/v1/httproutes"
GRPCROUTES = "gateway.networking.k8s.io/v1/grpcroutes"
CONTROLLER_NAME = "routeshift.dev/gateway-proxy"


class AcceptingGateway:
    """Accepts each new generation of one route (an HTTPRoute unless ``resource`` says
    otherwise, e.g. ``GRPCROUTES``); use as a context manager."""

    def __init__(self, api: EmulatorThread, namespace: str, name: str, *, stable: str, canary: str,
                 period: float = 0.01, resource: str = ROUTES):
        self.api, self.namespace, self.name, self.resource = api, namespace, name, resource
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

    def weights(self, route: dict) -> tuple[int, int] | None:
        """(stable, canary) weights of the first rule; None while it lacks either (workload form
        before the controller has handed the app's backendRef to primary and canary)."""
        refs = {r["name"]: r.get("weight", 1) for r in route["spec"]["rules"][0]["backendRefs"]}
        if self.stable not in refs or self.canary not in refs:
            return None
        return refs[self.stable], refs[self.canary]

    def _run(self) -> None:
        # The gateway's own reconcile cadence, not a wait for a test condition.
        while not self._stop.wait(self.period):
            route = self.api.get(self.resource, self.namespace, self.name)
            if route is None:
                continue
            generation = route["metadata"]["generation"]
            if self.generations and self.generations[-1] == generation:
                continue
            self.generations.append(generation)
            weights = self.weights(route)
            rules = route["spec"]["rules"]
            self.shapes.append((len(rules), len(rules[0].get("filters") or [])))
            if weights is not None and (not self.seen or self.seen[-1] != weights):
                self.seen.append(weights)
            condition = {"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
                         "observedGeneration": generation, "lastTransitionTime": "2026-01-01T00:00:00Z"}
            parent = {"parentRef": {"name": "gw"}, "controllerName": CONTROLLER_NAME, "conditions": [condition]}
            self.api.patch(self.resource, self.namespace, self.name, {"status": {"parents": [parent]}},
                           subresource="status")


def start_controller(api: EmulatorThread, kopf_runner, evaluate, *, poll_interval: float = 0.05,
                     metrics_port: int | None = None, cached: bool = True):
    """The real kopf operator of ``rollouts.operator`` against ``api``, analysing with ``evaluate``.

    ``evaluate`` has ``analysis.evaluate_interval``'s signature (a scripted double in most
    tests). ``cached`` gives it watch-fed caches, as ``routeshift controller`` has by default;
    False reads every object from the API server (``--no-watch-cache``). Returns
    ``(controller, operator_thread)``; ``kopf_runner`` stops it at teardown.
    """
    from kopf import Memo

    from rollouts import operator, patching
    from rollouts.caches.cached_cluster import CachedCluster
    from rollouts.caches.interest import Interest
    from rollouts.reconciler import Controller

    connection = patching.Connection(server=api.url)
    interest = Interest()
    cluster = CachedCluster(connection, interest=interest) if cached else patching.Cluster(connection)
    controller = Controller(cluster=cluster, interest=interest, evaluate=evaluate, poll_interval=poll_interval,
                            metrics_host="127.0.0.1", metrics_port=metrics_port)
    return controller, kopf_runner(operator.build_registry(cached=cached), memo=Memo(controller=controller))
