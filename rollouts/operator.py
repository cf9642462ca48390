"""The kopf adapter: the only module that imports kopf.

It wires kopf's lifecycle to ``rollouts.reconciler``:

- a daemon per Canary runs a reconciliation whenever the Canary changes (woken by an
  event handler) and at least every ``poll_interval`` seconds, because what a rollout
  waits for (route acceptance, the next analysis interval) does not touch the Canary;
- the delete handler restores traffic to the live backend and keeps kopf's finalizer
  (``routeshift.dev/finalizer``) until the route carries it;
- a startup handler sets persistence keys under ``routeshift.dev`` and serves ``/metrics``.

Only one daemon drives a Canary, and it keeps the status it last wrote, so decisions never
start from a status older than its own write. Several replicas coordinate through kopf
peering (``--peering NAME``): the highest priority one works, the others stand by.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
from collections.abc import Sequence
from typing import Any

import kopf

from rollouts import model, patching, reconciler
from rollouts.reconciler import CanaryObject, Controller

logger = logging.getLogger(__name__)

FINALIZER = f"{model.GROUP}/finalizer"
RESOURCE = dict(group=model.GROUP, version=model.VERSION, plural=model.PLURAL)


def configure(settings: kopf.OperatorSettings) -> None:
    """kopf's own bookkeeping under our prefix, so it is recognisable on shared objects."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=model.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=model.GROUP, key="last-handled-configuration")
    # Our Events are posted explicitly (kopf.event ignores this level). At INFO kopf would also
    # post "Handler ... succeeded" for every Canary change: 80 % of all Events at scale.
    settings.posting.level = logging.WARNING


def _emitter(body: kopf.Body):
    def emit(kind: str, reason: str, message: str) -> None:
        # Event messages are limited to 1 KiB by the API; keep the decision's first line.
        kopf.event(body, type=kind, reason=reason, message=message[:1000])
    return emit


def build_registry() -> kopf.OperatorRegistry:
    """A fresh registry with the Canary handlers (tests run several operators in one process)."""
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # A private registry does not get kopf's default login handlers; use the same
        # sources as patching.Connection: the service account, else KUBECONFIG.
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
        configure(settings)
        controller: Controller = memo.controller
        if controller.metrics_port is not None:
            memo.metrics_runner, controller.served_port = await controller.metrics.serve(
                controller.metrics_host, controller.metrics_port)

    @kopf.on.cleanup(registry=registry)
    async def cleanup(memo: kopf.Memo, **_: Any) -> None:
        runner = getattr(memo, "metrics_runner", None)
        if runner is not None:
            await runner.cleanup()
        controller: Controller = memo.controller
        for task in list(controller.background):
            task.cancel()
        await controller.cluster.close()

    @kopf.on.event(**RESOURCE, registry=registry)
    async def wake(memo: kopf.Memo, **_: Any) -> None:
        # Per-object memo: the Canary's own daemon waits on this flag.
        _flag(memo).set()

    @kopf.on.event("apps", "v1", "deployments", registry=registry)
    async def deployment_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        # Workload form: a new template (kubectl set image) or a readiness change of the
        # target or its primary wakes the Canaries that run it.
        controller: Controller = memo.controller
        meta = body.get("metadata") or {}
        for flag in controller.deployment_watchers.get((meta.get("namespace"), meta.get("name")), ()):
            flag.set()

    # A reconciliation is idempotent, so cancelling one mid-way (after the grace) is safe.
    @kopf.daemon(**RESOURCE, registry=registry, cancellation_backoff=2.0, cancellation_timeout=30.0)
    async def drive(body: kopf.Body, memo: kopf.Memo, stopped: kopf.DaemonStopped, logger: kopf.Logger,
                    **_: Any) -> None:
        controller: Controller = memo.controller
        status = model.parse_status(body.get("status"))
        flag = _flag(memo)
        watched = _watch_deployments(controller, body, flag)
        try:
            await _drive(controller, body, status, flag, stopped, logger)
        finally:
            for key in watched:
                controller.deployment_watchers.get(key, set()).discard(flag)

    async def _drive(controller: Controller, body: kopf.Body, status: model.CanaryStatus, flag: asyncio.Event,
                     stopped: kopf.DaemonStopped, logger: kopf.Logger) -> None:
        while not stopped:
            flag.clear()
            canary = CanaryObject.from_body(body)
            try:
                status = await reconciler.reconcile(controller, canary, status, emit=_emitter(body))
            except Exception as error:  # the daemon must outlive any one failed reconciliation
                controller.metrics.record_error(canary.namespace, canary.name)
                logger.warning("reconciliation failed, retrying in %.1fs: %r", controller.poll_interval, error)
            if stopped:
                break
            # Sleep until the Canary changes, kopf stops us, or the poll interval passes.
            waiters = {asyncio.ensure_future(flag.wait()), asyncio.ensure_future(stopped.wait())}
            _, pending = await asyncio.wait(waiters, timeout=_sleep_for(controller, status),
                                            return_when=asyncio.FIRST_COMPLETED)
            for waiter in pending:
                waiter.cancel()

    @kopf.on.delete(**RESOURCE, registry=registry, backoff=0.5)
    async def release(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        controller: Controller = memo.controller
        canary = CanaryObject.from_body(body)
        status = await reconciler.reconcile(controller, canary, model.parse_status(body.get("status")),
                                            emit=_emitter(body), deleting=True)
        if status.phase != model.Phase.TERMINATED:
            raise kopf.TemporaryError(f"waiting for traffic to return: {status.message}",
                                      delay=min(controller.poll_interval, 2.0))
        controller.metrics.forget(canary.namespace, canary.name)

    return registry


def _watch_deployments(controller: Controller, body: kopf.Body, flag: asyncio.Event) -> list[tuple[str, str]]:
    """Register the Canary's wake flag for its target and primary Deployments (workload form)."""
    target = ((body.get("spec") or {}).get("targetRef") or {}).get("name")
    if not target:
        return []
    namespace = (body.get("metadata") or {}).get("namespace", "default")
    keys = [(namespace, target), (namespace, f"{target}-primary")]
    for key in keys:
        controller.deployment_watchers.setdefault(key, set()).add(flag)
    return keys


def _sleep_for(controller: Controller, status: model.CanaryStatus) -> float:
    """The poll interval, or less when the step's dwell ends sooner: a step should not wait
    up to a whole poll interval beyond its analysis interval."""
    due = status.next_analysis_at
    if due is None:
        return controller.poll_interval
    left = (due - controller.clock()).total_seconds()
    # A past due time means the step waits for something else (acceptance, a hold): poll.
    return min(controller.poll_interval, left + 0.01) if left > 0 else controller.poll_interval


def _flag(memo: kopf.Memo) -> asyncio.Event:
    flag = getattr(memo, "wake_flag", None)
    if flag is None:
        flag = memo.wake_flag = asyncio.Event()
    return flag


async def operate(controller: Controller, *, namespaces: Sequence[str] = (), peering: str | None = None,
                  priority: int = 0, liveness: str | None = None, stop_flag: Any = None,
                  ready_flag: Any = None) -> None:
    """Run the operator until ``stop_flag`` (or a signal)."""
    await kopf.operator(
        registry=build_registry(), memo=kopf.Memo(controller=controller),
        standalone=peering is None, peering_name=peering, priority=priority,
        clusterwide=not namespaces, namespaces=list(namespaces), liveness_endpoint=liveness,
        stop_flag=stop_flag, ready_flag=ready_flag,
    )


def run(*, kubeconfig: str | None = None, namespaces: Sequence[str] = (), prometheus_url: str | None = None,
        metrics_host: str = "0.0.0.0", metrics_port: int = 8080, poll_interval: float = 5.0,
        peering: str | None = None, priority: int = 0, liveness: str | None = None) -> None:
    """The ``routeshift controller`` entry point: connect, serve metrics, run until signalled."""
    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig  # kopf's own login reads it too
    connection = patching.Connection.from_environment(kubeconfig)
    controller = Controller(cluster=patching.Cluster(connection), prometheus_url=prometheus_url,
                            poll_interval=poll_interval, metrics_host=metrics_host, metrics_port=metrics_port)
    asyncio.run(operate(controller, namespaces=namespaces, peering=peering, priority=priority, liveness=liveness))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="routeshift controller", description="Run the Canary controller.")
    parser.add_argument("--kubeconfig", help="kubeconfig path (default: in-cluster, then KUBECONFIG)")
    parser.add_argument("--namespace", "-n", action="append", default=[],
                        help="watch only this namespace (repeatable; default: all)")
    parser.add_argument("--prometheus-url", help="Prometheus for analysis when a Canary names no provider")
    parser.add_argument("--metrics-address", default="0.0.0.0:8080", help="HOST:PORT of /metrics")
    parser.add_argument("--poll-interval", type=float, default=5.0, help="seconds between reconciliations")
    parser.add_argument("--peering", help="kopf peering object name: enables leader election between replicas")
    parser.add_argument("--priority", type=int, default=None,
                        help="peering priority of this replica (default with --peering: random, so that replicas "
                             "of one Deployment never tie; kopf freezes every operator sharing the top priority)")
    parser.add_argument("--liveness", help="kopf liveness endpoint, e.g. http://0.0.0.0:8081/healthz")
    args = parser.parse_args(argv)
    if args.priority is None:
        args.priority = random.SystemRandom().randint(1, 2**31 - 1) if args.peering else 0
    host, _, port = args.metrics_address.rpartition(":")
    run(kubeconfig=args.kubeconfig, namespaces=args.namespace, prometheus_url=args.prometheus_url,
        metrics_host=host or "0.0.0.0", metrics_port=int(port), poll_interval=args.poll_interval,
        peering=args.peering, priority=args.priority, liveness=args.liveness)
    return 0
