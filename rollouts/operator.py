"""The kopf adapter: the only module that imports kopf.

It wires kopf's lifecycle to ``rollouts.reconciler``:

- a daemon per Canary runs a reconciliation whenever the Canary changes (woken by an
  event handler; not by the echo of its own status write), when an object it reads
  changes (the caches' watches), and when time alone can change its decision;
- the delete handler restores traffic to the live backend and keeps kopf's finalizer
  (``routeshift.dev/finalizer``) until the route carries it;
- a startup handler sets persistence keys under ``routeshift.dev`` and serves ``/metrics``.

Only one daemon drives a Canary, and it keeps the status it last decided (written, or a
weight step held back until the gateway accepts it: ``reconciler.DEFER_SECONDS``), so
decisions never start from a status older than its own. Several replicas coordinate through kopf
peering (``--peering NAME``): the highest priority one works, the others stand by.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib
import json
import logging
import os
import random
import weakref
from collections.abc import Sequence
from typing import Any

import kopf
import orjson
import uvloop

import analysis
from rollouts import default_provider, machine, model, patching, reconciler, workload_machine
from rollouts.caches import kinds
from rollouts.caches.cached_cluster import CachedCluster
from rollouts.caches.interest import Interest
from rollouts.echoes import Echoes, OwnWrites, as_bookmark
from rollouts.notifications.model import Subscription, parse_subscriptions
from rollouts.notifications.notifier import Notifier
from rollouts.reconciler import CanaryObject, Controller

logger = logging.getLogger(__name__)

FINALIZER = f"{model.GROUP}/finalizer"
RESOURCE = dict(group=model.GROUP, version=model.VERSION, plural=model.PLURAL)
# At shutdown, how long the Events still queued may take to be posted.
EVENTS_FLUSH_SECONDS = 5.0
NOTIFICATION_PROVIDERS_ENV = "ROUTESHIFT_NOTIFICATION_PROVIDERS"
WAKE_HANDLER = "wake"  # the id of the handler that wakes a Canary's daemon on a watch event
_WAKE_SUCCEEDED = f"Handler {WAKE_HANDLER!r} succeeded."  # as kopf's execution logs it


def configure(settings: kopf.OperatorSettings) -> None:
    """kopf's own bookkeeping under our prefix, so it is recognisable on shared objects."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=model.GROUP)
    settings.persistence.diffbase_storage = _NoDiffBase()
    # Our Events are posted by rollouts.event_posting. At INFO kopf would also post "Handler ...
    # succeeded" for every Canary change (80 % of all Events at scale); its warnings and errors
    # (a handler that failed) are still worth an Event.
    settings.posting.level = logging.WARNING
    logging.getLogger("kopf.objects").addFilter(_drop_wake_successes)  # the same filter once


def _drop_wake_successes(record: logging.LogRecord) -> bool:
    """kopf logs "Handler 'wake' succeeded." at INFO for every watch event of every Canary: at
    500 Canaries 37 % of the controller's log lines (11,791 of 31,798 in a 90 s bench run),
    saying nothing the reconciler's own lines do not. Other handlers' lines, and every warning,
    stay."""
    return record.msg != _WAKE_SUCCEEDED


class _WatchJson:
    """kopf's ``json`` for the lines of its watch streams: orjson, and the stdlib for anything else.

    Every status write of every Canary comes back through kopf's watch as the whole object
    (status, decision log), which kopf decodes with the stdlib: 4.9 % of the controller's CPU
    in a profile at 500 Canaries, and the most of what its watcher does while a wave of steps
    queues the events behind it (among them the spec changes that start the next releases).
    orjson decodes the same text into the same objects several times faster (integers as
    wide as the API server's, 64 bits). A line orjson refuses goes to the stdlib, which
    decodes what it did before (``NaN``) or raises the error kopf expects.

    The echo of a Canary's own status write becomes a BOOKMARK here (``echoes.as_bookmark``),
    which kopf takes for its resume point and otherwise skips: it would only have woken the
    daemon to be told, by :class:`~rollouts.echoes.Echoes`, that nothing changed. The writes
    are those of the controller running on the decoding event loop (tests run several).
    """

    @staticmethod
    def loads(text: str | bytes) -> Any:
        try:
            event = orjson.loads(text)
        except orjson.JSONDecodeError:
            return json.loads(text)
        try:
            own = _OWN_WRITES.get(asyncio.get_running_loop())
        except RuntimeError:  # not on a loop: not one of kopf's streams
            return event
        return event if own is None else as_bookmark(event, own, group=model.GROUP, kind=model.KIND)

    def __getattr__(self, name: str) -> Any:
        return getattr(json, name)


# The event loop of each running operator -> the status writes of its Canaries.
_OWN_WRITES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, OwnWrites] = weakref.WeakKeyDictionary()


def decode_watches_with_orjson() -> bool:
    """Give kopf's API client :class:`_WatchJson`; False (nothing changed) unless kopf decodes
    with the stdlib ``json`` module where this kopf version does (``kopf._cogs.clients.api``)."""
    try:
        api = importlib.import_module("kopf._cogs.clients.api")
    except ImportError:
        return False
    if isinstance(getattr(api, "json", None), _WatchJson):
        return True
    if getattr(api, "json", None) is not json:
        return False
    api.json = _WatchJson()
    return True


class _NoDiffBase(kopf.DiffBaseStorage):
    """kopf's record of the last handled spec, not kept: no handler here reacts to a spec change.

    kopf stores the spec it last handled (an annotation) to tell a creation, an update and a
    resumption apart for ``on.create``/``on.update``/``on.resume`` handlers. This controller has
    none of them: each Canary's daemon reads the spec itself, and a deletion (``on.delete``) is
    told by ``deletionTimestamp``, not by a diff. Keeping the record cost a PATCH of the Canary at
    every spec change (and the watch event it echoes, which kopf processes once more) and
    building the spec's essence at every event of every Canary (2.6 % of the controller's CPU
    in a profile at 500 Canaries, beside the patches). With
    the same empty essence on both sides kopf sees nothing to handle (a resumption without
    handlers on its first look at an object, no change after that).
    """

    def build(self, *, body: Any, extra_fields: Any = None) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: Any) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def store(self, *, body: Any, patch: Any, essence: Any) -> None:
        return None


def _emitter(controller: Controller, body: kopf.Body):
    def emit(kind: str, reason: str, message: str) -> None:
        controller.events.post(body, kind, reason, message)
    return emit


def build_registry(*, cached: bool = True) -> kopf.OperatorRegistry:
    """A fresh registry with the Canary handlers (tests run several operators in one process).

    ``cached``: the controller's API client is a :class:`~rollouts.caches.cached_cluster.CachedCluster`,
    whose Deployment watch wakes workload-form Canaries; without it kopf watches Deployments.
    """
    registry = kopf.OperatorRegistry()
    decode_watches_with_orjson()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # A private registry does not get kopf's default login handlers; use the same
        # sources as patching.Connection: the service account, else KUBECONFIG.
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
        configure(settings)
        controller: Controller = memo.controller
        _OWN_WRITES[asyncio.get_running_loop()] = controller.own_writes
        controller.metrics.follow_client(controller.cluster, controller.own_writes, controller.events)
        controller.events.start()
        if controller.caches is not None:
            controller.caches.start()
        if controller.metrics_port is not None:
            memo.metrics_runner, controller.served_port = await controller.metrics.serve(
                controller.metrics_host, controller.metrics_port)

    @kopf.on.cleanup(registry=registry)
    async def cleanup(memo: kopf.Memo, **_: Any) -> None:
        runner = getattr(memo, "metrics_runner", None)
        if runner is not None:
            await runner.cleanup()
        controller: Controller = memo.controller
        _OWN_WRITES.pop(asyncio.get_running_loop(), None)
        for task in list(controller.background):
            task.cancel()
        await controller.events.flush(EVENTS_FLUSH_SECONDS)  # what was decided is also told
        await controller.events.stop()
        await controller.cluster.close()

    @kopf.on.event(**RESOURCE, registry=registry, id=WAKE_HANDLER)
    async def wake(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        # Per-object memo: the Canary's own daemon waits on this flag. The event that carries
        # the daemon's own status write back changes nothing it has not decided already.
        if _echoes(memo, body).event((body.get("metadata") or {}).get("resourceVersion")):
            _flag(memo).set()

    if not cached:
        @kopf.on.event("apps", "v1", "deployments", registry=registry)
        async def deployment_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
            # Workload form: a new template (kubectl set image) or a readiness change of the
            # target or its primary wakes the Canaries that run it.
            meta = body.get("metadata") or {}
            memo.controller.interest.wake((kinds.DEPLOYMENTS.name, meta.get("namespace"), meta.get("name")))

    # A reconciliation is idempotent, so cancelling one mid-way (after the grace) is safe.
    @kopf.daemon(**RESOURCE, registry=registry, cancellation_backoff=2.0, cancellation_timeout=30.0)
    async def drive(body: kopf.Body, memo: kopf.Memo, stopped: kopf.DaemonStopped, logger: kopf.Logger,
                    **_: Any) -> None:
        controller: Controller = memo.controller
        status = starting_status(body, getattr(memo, "last_write", None))
        flag = _flag(memo)
        # One waiter for the whole life of the daemon rather than one per sleep: kopf stopping
        # the daemon (deletion, shutdown) wakes it like any other change would.
        stop_watch = asyncio.ensure_future(_wake_when_stopped(stopped, flag))
        try:
            await _drive(controller, body, status, flag, _echoes(memo, body), stopped, logger, memo)
        finally:
            stop_watch.cancel()
            controller.interest.forget(flag)
            meta = body.get("metadata") or {}
            controller.own_writes.forget(meta.get("namespace") or "", meta.get("name") or "")

    async def _drive(controller: Controller, body: kopf.Body, status: model.CanaryStatus, flag: asyncio.Event,
                     echoes: Echoes, stopped: kopf.DaemonStopped, logger: kopf.Logger, memo: kopf.Memo) -> None:
        spec, parsed, parsed_generation = None, None, None
        stored, unannounced = status, ()
        emit = _emitter(controller, body)
        views, dumps = reconciler.RouteViews(), model.DecisionDumps()
        while not stopped:
            flag.clear()
            canary = CanaryObject.from_body(body)
            if canary.generation != parsed_generation:  # only a new generation can change the spec
                parsed, parsed_generation = reconciler.parse(canary), canary.generation
                spec = parsed[0]
                controller.interest.register(flag, reconciler.dependencies(spec, canary.namespace))
            echoes.begin()
            written = None
            try:
                done = await reconciler.reconcile(controller, canary, status, emit=emit, stored=stored,
                                                  unannounced=unannounced, parsed=parsed, views=views,
                                                  dumps=dumps)
                status, stored, unannounced, written = done.status, done.stored, done.unannounced, done.written
                if written is not None:
                    memo.last_write = (written, stored)  # kopf's body never sees it: see starting_status
                timeout = _sleep_for(controller, status, spec, done.decided_at) if done.settled else 0.0
                if done.deferred_until is not None:  # write the deferred step by then at the latest
                    timeout = min(timeout, max(0.0, (done.deferred_until - controller.clock()).total_seconds()))
            except Exception as error:  # the daemon must outlive any one failed reconciliation
                controller.metrics.record_error(canary.namespace, canary.name)
                logger.warning("reconciliation failed, retrying in %.1fs: %r", controller.poll_interval, error)
                timeout = controller.poll_interval
            finally:
                if echoes.end(written):  # a change that arrived meanwhile, not only our write
                    flag.set()
            if stopped:
                break
            # Sleep until the Canary or an object it reads changes, kopf stops us, or time is up.
            await _sleep(flag, timeout)

    @kopf.on.delete(**RESOURCE, registry=registry, backoff=0.5)
    async def release(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        controller: Controller = memo.controller
        canary = CanaryObject.from_body(body)
        status = (await reconciler.reconcile(controller, canary, model.parse_status(body.get("status")),
                                             emit=_emitter(controller, body), deleting=True)).status
        if status.phase != model.Phase.TERMINATED:
            raise kopf.TemporaryError(f"waiting for traffic to return: {status.message}",
                                      delay=min(controller.poll_interval, 2.0))
        controller.metrics.forget(canary.namespace, canary.name)

    return registry


def starting_status(body: Any, last_write: tuple[str, model.CanaryStatus] | None) -> model.CanaryStatus:
    """The status a Canary's daemon starts from: the body's, unless this process wrote a newer one.

    The echoes of our own status writes never reach kopf's copy of the body (``_WatchJson``),
    so a daemon that kopf starts again in the same process (after an error escaped it) would
    find the status as it was before them. ``last_write`` is (resourceVersion, status) of the
    daemon's last write, kept in the Canary's memo; a body at that version or older predates
    it, and a newer body holds someone else's later change on top of it. (resourceVersions
    are compared as integers, as every API server we know makes them; ones that are not
    integers do not compare, and the daemon's own last write is what it knows best.)
    """
    from_body = model.parse_status(body.get("status"))
    if last_write is None:
        return from_body
    version, written = last_write
    held = str((body.get("metadata") or {}).get("resourceVersion") or "")
    if held.isdigit() and version.isdigit() and int(held) > int(version):
        return from_body
    return written


def _sleep_for(controller: Controller, status: model.CanaryStatus, spec: model.CanarySpec | None,
               decided_at: datetime.datetime | None = None) -> float:
    """How long a Canary sleeps unless something wakes it.

    With the watch caches, a change of the Canary or of an object it reads wakes it, so it
    sleeps until the next moment at which time alone can change its decision (the end of
    the dwell, a timeout, a deadline: ``machine.due_times``), and at most
    ``resync_interval``. Without them it polls every ``poll_interval``, or sooner when the
    step's dwell ends sooner; so does a workload-form Canary while Pods (not watched) may
    say why a Deployment is not ready (``workload_machine.pods_matter``), and one with
    ``trackConfigs``, whose ConfigMaps and Secrets are not watched either.

    A due moment counts from ``decided_at``, when the last decision was taken: one that passed
    while the reconciliation was still running (a busy controller) is due at once, not
    skipped until the next one.
    """
    now = controller.clock()
    since = now if decided_at is None else min(decided_at, now)
    if controller.caches is None or (spec is not None and spec.target_ref is not None
                                     and (spec.track_configs or workload_machine.pods_matter(status))):
        due = status.next_analysis_at
        if due is None or due <= since:  # past: the step waits for something else (acceptance, a hold): poll
            return controller.poll_interval
        return min(controller.poll_interval, max(0.0, (due - now).total_seconds() + 0.01))
    ahead = [(due - now).total_seconds() for due in (machine.due_times(spec, status) if spec else ()) if due > since]
    return min([controller.resync_interval] + [max(0.0, left + 0.01) for left in ahead])


async def _wake_when_stopped(stopped: kopf.DaemonStopped, flag: asyncio.Event) -> None:
    await stopped.wait()
    flag.set()


async def _sleep(flag: asyncio.Event, timeout: float) -> None:
    """Until ``flag`` is set or ``timeout`` passes; no task per sleep, at hundreds of Canaries."""
    try:
        async with asyncio.timeout(timeout):
            await flag.wait()
    except TimeoutError:
        pass


def _echoes(memo: kopf.Memo, body: kopf.Body) -> Echoes:
    echoes = getattr(memo, "echoes", None)
    if echoes is None:
        meta = body.get("metadata") or {}
        echoes = memo.echoes = Echoes(memo.controller.own_writes, meta.get("namespace") or "", meta.get("name") or "")
    return echoes


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
        registry=build_registry(cached=controller.caches is not None), memo=kopf.Memo(controller=controller),
        standalone=peering is None, peering_name=peering, priority=priority,
        clusterwide=not namespaces, namespaces=list(namespaces), liveness_endpoint=liveness,
        stop_flag=stop_flag, ready_flag=ready_flag,
    )


def run(*, kubeconfig: str | None = None, namespaces: Sequence[str] = (),
        metrics_provider: analysis.ProviderSpec | None = None, own_namespace: str | None = None,
        metrics_host: str = "0.0.0.0", metrics_port: int = 8080, poll_interval: float = 5.0,
        peering: str | None = None, priority: int = 0, liveness: str | None = None,
        watch_cache: bool = True, resync_interval: float = 30.0,
        notifications: Sequence[Subscription] = (), api_connections: int = patching.API_CONNECTIONS) -> None:
    """The ``routeshift controller`` entry point: connect, serve metrics, run until signalled."""
    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig  # kopf's own login reads it too
    connection = patching.Connection.from_environment(kubeconfig)
    interest = Interest()
    cluster = (CachedCluster(connection, namespaces=namespaces, interest=interest, connections=api_connections)
               if watch_cache else patching.Cluster(connection, connections=api_connections))
    controller = Controller(cluster=cluster, interest=interest, metrics_provider=metrics_provider,
                            own_namespace=own_namespace,
                            notifier=Notifier(notifications),
                            poll_interval=poll_interval, resync_interval=resync_interval,
                            metrics_host=metrics_host, metrics_port=metrics_port)
    # uvloop (a dependency already, for the proxy): at hundreds of Canaries the controller is
    # CPU-bound, and the event loop and its sockets are a fifth of that CPU on asyncio's own loop.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(operate(controller, namespaces=namespaces, peering=peering, priority=priority,
                           liveness=liveness))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="routeshift controller", description="Run the Canary controller.")
    parser.add_argument("--kubeconfig", help="kubeconfig path (default: in-cluster, then KUBECONFIG)")
    parser.add_argument("--namespace", "-n", action="append", default=[],
                        help="watch only this namespace (repeatable; default: all)")
    parser.add_argument("--prometheus-url", help="Prometheus for analysis when a Canary names no provider "
                                                 "(short for --metrics-provider '{type: prometheus, address: URL}')")
    parser.add_argument("--metrics-provider", metavar="SPEC|FILE",
                        help="the metrics provider a Canary without analysis.provider is judged by: a ProviderSpec "
                             "as YAML or JSON (e.g. '{type: datadog, secretName: datadog}') or a file holding one; "
                             "its Secrets are read in --controller-namespace")
    parser.add_argument("--controller-namespace", default=os.environ.get(default_provider.NAMESPACE_ENV),
                        help="the controller's own namespace, where the --metrics-provider's Secrets are read "
                             f"(default: ${default_provider.NAMESPACE_ENV}, which the chart sets from the downward "
                             "API)")
    parser.add_argument("--metrics-address", default="0.0.0.0:8080", help="HOST:PORT of /metrics")
    parser.add_argument("--poll-interval", type=float, default=5.0,
                        help="seconds between reconciliations with --no-watch-cache, and before retrying a failed one")
    parser.add_argument("--resync-interval", type=float, default=30.0,
                        help="with the watch caches: the longest a Canary goes without a reconciliation when "
                             "nothing it reads changes and no timeout or dwell falls due")
    parser.add_argument("--peering", help="kopf peering object name: enables leader election between replicas")
    parser.add_argument("--priority", type=int, default=None,
                        help="peering priority of this replica (default with --peering: random, so that replicas "
                             "of one Deployment never tie; kopf freezes every operator sharing the top priority)")
    parser.add_argument("--no-watch-cache", dest="watch_cache", action="store_false",
                        help="read routes, Services and Deployments from the API server on every reconciliation "
                             "instead of from watch-fed caches (more API load, slower reaction; for debugging)")
    parser.add_argument("--api-connections", type=int, default=patching.API_CONNECTIONS,
                        help="the most connections to the API server at once (HTTP/1.1, one request each): "
                             "hundreds of Canaries stepping together send hundreds of writes at once")
    parser.add_argument("--liveness", help="kopf liveness endpoint, e.g. http://0.0.0.0:8081/healthz")
    parser.add_argument("--notification-provider", action="append", default=[], metavar="NAMESPACE/NAME[:EVENTS]",
                        help="a NotificationProvider that hears every Canary's events, optionally only these "
                             "(comma-separated: started,step,paused,promoted,rolledBack,failed); repeatable; "
                             f"also read from ${NOTIFICATION_PROVIDERS_ENV} (space-separated)")
    args = parser.parse_args(argv)
    try:
        notifications = parse_subscriptions(args.notification_provider, os.environ.get(NOTIFICATION_PROVIDERS_ENV))
    except ValueError as error:
        parser.error(f"--notification-provider: {error}")
    try:
        metrics_provider = default_provider.choose(args.metrics_provider, args.prometheus_url)
        default_provider.require_namespace(metrics_provider, args.controller_namespace)
    except ValueError as error:
        parser.error(str(error))
    if args.api_connections < 1:
        parser.error("--api-connections: at least 1")
    if args.priority is None:
        args.priority = random.SystemRandom().randint(1, 2**31 - 1) if args.peering else 0
    host, _, port = args.metrics_address.rpartition(":")
    run(kubeconfig=args.kubeconfig, namespaces=args.namespace, metrics_provider=metrics_provider,
        own_namespace=args.controller_namespace,
        metrics_host=host or "0.0.0.0", metrics_port=int(port), poll_interval=args.poll_interval,
        peering=args.peering, priority=args.priority, liveness=args.liveness, watch_cache=args.watch_cache,
        resync_interval=args.resync_interval,
        notifications=notifications, api_connections=args.api_connections)
    return 0
