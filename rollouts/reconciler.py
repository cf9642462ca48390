"""One reconciliation of one Canary: observe, decide, act, write status, then announce.

This is the impure shell around ``machine.decide``, kept free of kopf so that the kopf
module stays a thin wiring layer and this sequence reads top to bottom:

1. gather observations (routes, Services, gate webhooks and analysis when due);
2. ``decide``;
3. apply the route writes (each a resourceVersion-guarded JSON patch, retried on conflict)
   and, in workload form, the Deployment and Service changes, in the order decided;
4. repeat 1-3 from the decided status until a decision changes nothing (``ROUNDS``), with
   at most one round of writes before the status write;
5. write the status in one merge patch, only when it changed;
6. emit Events, metrics and notification webhooks.

Routes are written before the status: if the process dies in between, the next
controller sees the route one step ahead and the state machine resumes there instead of
lowering the weight (``machine._catch_up``). Events come last so that nothing is
announced that was not recorded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

import pydantic

import analysis
from rollouts import (actions, default_provider, errors, machine, metrics, model, patching, routes, steps,
                      workload_io, workload_machine, workloads)
from rollouts.caches import kinds
from rollouts.caches.cached_cluster import CachedCluster
from rollouts.caches.interest import Interest, ObjectKey
from rollouts.echoes import OwnWrites
from rollouts.event_posting import EventPoster
from rollouts.notifications.notifier import Notifier
from rollouts.observations import GateOutcome, Observations, RouteObservation
from rollouts.provider_metering import MeteredProvider
from rollouts.route_kinds import RouteId

logger = logging.getLogger(__name__)
T = TypeVar("T")

EmitFn = Callable[[str, str, str], None]  # (type, reason, message) -> posts a Kubernetes Event


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


@dataclasses.dataclass
class Controller:
    """Everything a reconciliation needs besides the Canary; one per operator process."""

    cluster: patching.Cluster
    metrics: metrics.Metrics = dataclasses.field(default_factory=metrics.Metrics)
    evaluate: Callable[..., Awaitable[tuple[analysis.IntervalVerdict, analysis.AnalysisState]]] = (
        analysis.evaluate_interval)
    call_webhook: Callable[..., Awaitable[analysis.WebhookOutcome]] = analysis.call_webhook
    # What judges a Canary without analysis.provider (--metrics-provider, or --prometheus-url as
    # {type: prometheus, address: URL}); None: such a Canary's analyses are Error verdicts.
    metrics_provider: analysis.ProviderSpec | None = None
    # The controller's own namespace: the default provider's Secrets are read there, never in a Canary's.
    own_namespace: str | None = None
    poll_interval: float = 5.0  # without the watch caches: how often every Canary is reconciled
    # With the caches: the longest a Canary sleeps when neither a watch nor a due time wakes it.
    resync_interval: float = 30.0
    metrics_host: str = "0.0.0.0"
    metrics_port: int | None = None  # None: do not serve /metrics (tests that read Metrics directly)
    served_port: int | None = None  # the port /metrics is bound to once serving (0 above picks one)
    clock: Callable[[], datetime.datetime] = _utcnow
    background: set[asyncio.Task[Any]] = dataclasses.field(default_factory=set)
    # Which Canaries to wake when a route, Service or Deployment they read changes: a
    # `kubectl set image`, a Deployment getting ready or a route being accepted wakes the
    # Canary at once, not at the next poll. Fed by the caches' watches (or, without caches,
    # by a kopf watch of Deployments).
    interest: Interest = dataclasses.field(default_factory=Interest)
    # At most this many analyses query their metrics provider at a time (see _analyse).
    analysis_slots: asyncio.Semaphore = dataclasses.field(default_factory=lambda: asyncio.Semaphore(16))
    # Chat notifications (and the cluster-wide --notification-provider subscriptions).
    notifier: Notifier = dataclasses.field(default_factory=Notifier)
    # Kubernetes Events, posted in the background through ``cluster`` (started by the operator).
    events: EventPoster = dataclasses.field(init=False)
    # The status writes of the Canaries driven here, recognised in kopf's watch (operator.py).
    own_writes: OwnWrites = dataclasses.field(default_factory=OwnWrites)

    def __post_init__(self) -> None:
        self.events = EventPoster(self.cluster)

    @property
    def caches(self) -> CachedCluster | None:
        return self.cluster if isinstance(self.cluster, CachedCluster) else None


@dataclasses.dataclass(frozen=True)
class CanaryObject:
    """The parts of a Canary body the controller reads."""

    namespace: str
    name: str
    generation: int
    spec: Mapping[str, Any]
    annotations: Mapping[str, str]
    uid: str | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> CanaryObject:
        meta = body.get("metadata") or {}
        return cls(namespace=meta.get("namespace", "default"), name=meta["name"],
                   generation=int(meta.get("generation") or 1), spec=dict(body.get("spec") or {}),
                   annotations=dict(meta.get("annotations") or {}), uid=meta.get("uid"))


def parse(canary: CanaryObject) -> tuple[model.CanarySpec | None, str | None]:
    """(the spec, None) or (None, why it does not parse). Only a new generation can change it,
    so the daemon parses once per generation and hands the result to every ``reconcile``."""
    try:
        return model.parse_spec(dict(canary.spec)), None
    except pydantic.ValidationError as error:
        return None, _summary(error)


def dependencies(spec: model.CanarySpec | None, namespace: str) -> frozenset[ObjectKey]:
    """The routes, Services and Deployments a decision reads (what ``observe`` fetches), as keys
    of :class:`~rollouts.caches.interest.Interest`; none while the spec does not parse."""
    if spec is None:
        return frozenset()
    refs = spec.routes(namespace)
    keys = {(kinds.ROUTES[ref.kind].name, ref.namespace, ref.name) for ref in refs}
    if spec.target_ref is not None:
        names = workloads.names(spec)
        keys |= {(kinds.DEPLOYMENTS.name, namespace, names.target),
                 (kinds.DEPLOYMENTS.name, namespace, names.primary),
                 (kinds.SERVICES.name, namespace, names.primary),
                 (kinds.SERVICES.name, namespace, names.canary)}
    else:
        keys |= {(kinds.SERVICES.name, backend.namespace or refs[0][0], backend.name)
                 for backend in (spec.stable, spec.canary) if backend is not None}
    return frozenset(keys)


# Deciding again after acting reaches what the first decision led to (the route it wrote now
# carries its weights; a promotion's last step finishes) in the same reconciliation, so one
# status write says where the Canary ended up and no reconciliation waits for the watch to
# echo that write back. Rounds stop at the first decision that changes nothing; this bounds
# a decision that would keep changing something.
ROUNDS = 6


# A step advance is written to status once the gateway has accepted its weights, not once
# when the route is written and again when it is accepted: half the status writes, and half
# the watch events every controller and GitOps tool must decode, at hundreds of Canaries.
# Only while the gateway reports it has not caught up yet, and for at most this long; until
# then the stored status is one weight step behind the route, which a restarted controller
# resumes from without lowering the weight (``machine._catch_up``).
DEFER_SECONDS = 2.0


@dataclasses.dataclass(frozen=True)
class Reconciled:
    """What one reconciliation left behind; the next one starts from it."""

    status: model.CanaryStatus  # the status as decided
    stored: model.CanaryStatus  # the status as written to the API server (a step behind while deferred)
    # False when the last round still changed something: reconcile again at once.
    settled: bool = True
    # The resourceVersion our status write produced, or None: the watch event carrying it is
    # our own write coming back, and nothing to reconcile for.
    written: str | None = None
    # Decisions whose status is not written yet (a deferred step advance): their Events and
    # notifications go out after it is.
    unannounced: tuple[machine.Decision, ...] = ()
    # The time the last decision was taken at: a due moment after it (the end of a dwell that
    # passed while this reconciliation ran) has not been decided on yet.
    decided_at: datetime.datetime | None = None

    @property
    def deferred_until(self) -> datetime.datetime | None:
        """When the deferred status must be written at the latest (None: nothing deferred)."""
        if self.status == self.stored or self.status.step_started_at is None:
            return None
        return self.status.step_started_at + datetime.timedelta(seconds=DEFER_SECONDS)


class RouteViews:
    """What each of one Canary's routes carries for it (:func:`routes.observe`), kept while the
    route is the very object the cache held last time and the backends are unchanged.

    With the watch caches, a route changes only when the watch or our own write replaces the
    cached object: a dwelling Canary, or the second and later rounds of a reconciliation,
    observe the object they observed before. Held by the Canary's daemon, so it goes with it.
    """

    def __init__(self) -> None:
        self._held: dict[RouteId, tuple[dict[str, Any] | None, model.BackendRef, model.BackendRef,
                                        RouteObservation]] = {}
        self._refs: tuple[model.CanarySpec | None, tuple[RouteId, ...]] = (None, ())

    def refs(self, spec: model.CanarySpec, namespace: str) -> tuple[RouteId, ...]:
        """``spec.routes(namespace)``, worked out once per spec (a Canary's namespace never changes)."""
        if self._refs[0] is not spec:
            self._refs = (spec, spec.routes(namespace))
        return self._refs[1]

    def observe(self, route: dict[str, Any] | None, ref: RouteId, spec: model.CanarySpec,
                owner: str) -> RouteObservation:
        held = self._held.get(ref)
        if held is not None and held[0] is route and held[1] is spec.stable and held[2] is spec.canary:
            return held[3]
        view = routes.observe(route, namespace=ref.namespace, name=ref.name, stable=spec.stable, canary=spec.canary,
                              owner=owner, kind=ref.kind)
        self._held[ref] = (route, spec.stable, spec.canary, view)
        return view


async def reconcile(controller: Controller, canary: CanaryObject, status: model.CanaryStatus, *,
                    emit: EmitFn, deleting: bool = False, stored: model.CanaryStatus | None = None,
                    unannounced: tuple[machine.Decision, ...] = (),
                    parsed: tuple[model.CanarySpec | None, str | None] | None = None,
                    views: RouteViews | None = None, dumps: model.DecisionDumps | None = None) -> Reconciled:
    """Observe, decide and act, again until a decision changes nothing; then write the status.

    ``status`` is where the last reconciliation left off, ``stored`` what the API server holds
    (the same unless a step advance was deferred) and ``unannounced`` the decisions behind the
    difference; ``parsed`` is :func:`parse` of this generation, when the caller has it already;
    ``views`` and ``dumps`` the Canary's :class:`RouteViews` and ``model.DecisionDumps``, when the
    caller keeps them between reconciliations.
    """
    now = controller.clock()
    started = asyncio.get_running_loop().time()
    stored = status if stored is None else stored
    pending, decided, settled, spec, acted, written = list(unannounced), False, False, None, False, None
    decided_at = now
    parsed = parse(canary) if parsed is None else parsed
    views = RouteViews() if views is None else views

    async def write() -> None:
        nonlocal stored, written
        body = model.dump_status(status, dumps)
        answer = await controller.cluster.patch_status(canary.namespace, canary.name, body)
        stored, written = status, ((answer or {}).get("metadata") or {}).get("resourceVersion")
        controller.own_writes.record(canary.namespace, canary.name, written)
        announce()  # nothing is announced that was not recorded

    def announce() -> None:
        for decision in pending:
            _announce(controller, canary, spec, decision, emit)
        pending.clear()

    asked: frozenset[tuple[str, str]] = frozenset()  # the webhooks and analysis this reconciliation asked
    for _ in range(ROUNDS):
        asks = _asks(spec or parsed[0], status, now) if not deleting else frozenset()
        if decided and asks:
            # Webhooks and analysis are asked after this status is written and announced: at
            # once, unless this reconciliation asked those very ones and the decision left them
            # due (a hold): asking again would spin until something else changed.
            settled = asks <= asked
            break
        asked |= asks
        decided_at = now
        decided_for, decision = await _round(controller, canary, parsed, status, now=now, deleting=deleting,
                                              views=views)
        if decision is None:  # quiet: nothing can change
            settled = True
            break
        changed = decision.status != status  # compared as models: cheaper than JSON
        if decided and not changed:
            settled = True  # a fixed point: what this decision would do again is done
            break
        writes = any(isinstance(a, (actions.SetRouteWeights, actions.WorkloadAction)) for a in decision.actions)
        if writes and acted:
            # At most one round of writes per status write: a controller that dies before
            # the status write finds the routes at most one step ahead (machine._catch_up).
            break
        if writes and status != stored:
            spec = spec or decided_for
            await write()  # a deferred step advance is recorded before the routes move again
        await _act(controller, canary, decision.actions)
        if writes:
            # What follows a write (the gateway's acceptance, the start of a dwell) happened
            # after it, not when this reconciliation began; once, so that rounds still settle.
            now = controller.clock()
        acted, decided = acted or writes, True
        spec, status = decided_for, decision.status
        pending.append(decision)
        if not changed:
            settled = True
            break
    if not decided and not pending:
        return Reconciled(status, stored, decided_at=decided_at)
    if status != stored and (deleting or spec is None or not deferrable(spec, stored, status, pending, now)):
        await write()
    elif status == stored:
        announce()  # nothing to record, only to announce
    if spec is not None:
        controller.metrics.observe_status(canary.namespace, canary.name, status, spec.stable.name, spec.canary.name)
        controller.metrics.observe_thresholds(canary.namespace, canary.name, spec)
    if decided:
        controller.metrics.reconcile.observe(asyncio.get_running_loop().time() - started)
    return Reconciled(status, stored, settled=settled, written=written, unannounced=tuple(pending),
                      decided_at=decided_at)


def _asks(spec: model.CanarySpec | None, status: model.CanaryStatus,
          now: datetime.datetime) -> frozenset[tuple[str, str]]:
    """What the next observation would ask: ("webhook", name) of each gate due, ("analysis", "")."""
    if spec is None:
        return frozenset()
    due = {("webhook", hook.name) for hook in machine.gates_due(spec, status, now)}
    if machine.analysis_due(spec, status, now):
        due.add(("analysis", ""))
    return frozenset(due)


def deferrable(spec: model.CanarySpec, stored: model.CanaryStatus, status: model.CanaryStatus,
               pending: list[machine.Decision], now: datetime.datetime) -> bool:
    """True when the only news is one weight step that the gateway has not accepted yet."""
    plan = machine.plan_of(spec)
    accepted = status.condition("RouteAccepted")
    return (stored.phase == status.phase == model.Phase.PROGRESSING and stored.release == status.release
            and status.step == stored.step + 1 < len(plan)
            and isinstance(plan[stored.step], steps.WeightStep) and isinstance(plan[status.step], steps.WeightStep)
            and status.step_settled_at is None and status.step_started_at is not None
            and (now - status.step_started_at).total_seconds() < DEFER_SECONDS
            and accepted is not None and accepted.reason == "Pending"
            and not any(isinstance(a, actions.RecordEvent) and a.type is actions.EventType.WARNING
                        for decision in pending for a in decision.actions))


async def _round(controller: Controller, canary: CanaryObject,
                 parsed: tuple[model.CanarySpec | None, str | None], status: model.CanaryStatus, *,
                 now: datetime.datetime, deleting: bool,
                 views: RouteViews) -> tuple[model.CanarySpec | None, machine.Decision | None]:
    """One observation and decision: the spec as the route side sees it, and the decision (None
    when the Canary is quiet and nothing was observed). The caller acts on it."""
    spec, invalid = parsed
    if spec is None:
        # A deletion must still hand traffic back: work from what status recorded of the
        # last valid spec, through the same decide path as any deletion.
        spec = model.recorded_spec(status) if deleting else None
        if spec is None:
            return None, (machine.abandon(status, invalid, owner=canary.name, now=now) if deleting
                          else machine.reject(status, invalid, generation=canary.generation, now=now))
    if spec.target_ref is not None:
        target = await workload_io.read_target(controller.cluster, canary.namespace, spec)
        configs, config_problem = await workload_io.read_configs(controller.cluster, canary.namespace, spec, target)
        release = workloads.release_of(target, configs)
        if not deleting and workload_machine.quiet(spec, status, target, release=release,
                                                   generation=canary.generation, annotations=canary.annotations):
            return spec, None
        workload_spec = spec
        # Everything route-side (observation, analysis, metrics) sees primary and canary Services.
        spec = workloads.service_form(spec, release)
        workload, read = await workload_io.observe(
            controller.cluster, canary.namespace, canary.uid, workload_spec, target, spec,
            initializing=status.phase == model.Phase.INITIALIZING, configs=configs, config_problem=config_problem,
            deleting=deleting)
        observed = await observe(controller, canary, spec, status, now=now, deleting=deleting, invalid_spec=invalid,
                                 read=read, views=views)
        observed = dataclasses.replace(observed, workload=workload)
        decision = workload_machine.decide(workload_spec, status, observed, owner=canary.name,
                                           namespace=canary.namespace, now=now)
    else:
        if not deleting and machine.quiet(spec, status, generation=canary.generation,
                                          annotations=canary.annotations):
            return spec, None
        observed = await observe(controller, canary, spec, status, now=now, deleting=deleting, invalid_spec=invalid,
                                 views=views)
        decision = machine.decide(spec, status, observed, now=now)
    return spec, decision


async def observe(controller: Controller, canary: CanaryObject, spec: model.CanarySpec,
                  status: model.CanaryStatus, *, now: datetime.datetime, deleting: bool,
                  invalid_spec: str | None = None, read: workload_io.Read | None = None,
                  views: RouteViews | None = None) -> Observations:
    """Everything decide needs, fetched concurrently; what ``read`` holds is not fetched again."""
    cluster = controller.cluster
    views = RouteViews() if views is None else views
    refs = views.refs(spec, canary.namespace)
    fetched = ([read.routes[ref] for ref in refs] if read is not None
               else await _together(controller, (cluster.get_route(*ref) for ref in refs)))
    observed = tuple(views.observe(route, ref, spec, canary.name) for ref, route in zip(refs, fetched))
    backend_ns = refs[0].namespace
    backends = [(b.namespace or backend_ns, b.name) for b in (spec.stable, spec.canary)]
    known = read.services if read is not None else {}
    exists = await _together(controller, (_known(known[ref] is not None) if ref in known
                                          else cluster.service_exists(*ref) for ref in backends))
    missing = tuple(f"{ns}/{name}" for (ns, name), found in zip(backends, exists) if not found)
    gates: tuple[GateOutcome, ...] = ()
    verdict = state = None
    if not deleting:
        gates = await _call_gates(controller, canary, spec, status, now)
        if machine.analysis_due(spec, status, now):
            verdict, state = await _analyse(controller, canary, spec, status, refs[0], now)
    return Observations(generation=canary.generation, routes=observed, annotations=canary.annotations,
                        missing_services=missing, verdict=verdict, analysis_state=state, gates=gates,
                        deleting=deleting, invalid_spec=invalid_spec)


async def _known(value: bool) -> bool:
    return value


async def _together(controller: Controller, reads: Iterable[Awaitable[T]]) -> list[T]:
    """The results of ``reads``: concurrent API requests without the watch caches; with them,
    awaited one after another, since a cached read completes at once and a task per read
    (``gather``) would cost more than the read."""
    if controller.caches is None:
        return list(await asyncio.gather(*reads))
    return [await read for read in reads]


def _payload(canary: CanaryObject, status: model.CanaryStatus, **extra: Any) -> dict[str, Any]:
    return {"name": canary.name, "namespace": canary.namespace, "phase": status.phase.value,
            "weight": status.weights.canary if status.weights else 0, "step": status.step,
            "release": status.release, **extra}


async def _secret(controller: Controller, namespace: str, ref: analysis.SecretKeyRef | None) -> str | None:
    if ref is None:
        return None
    data = await controller.cluster.read_secret(namespace, ref.name)
    return (data or {}).get(ref.key)


async def _signing_key(controller: Controller, namespace: str,
                       hook: analysis.WebhookSpec) -> tuple[str | None, str | None]:
    """(HMAC key or None, why the hook must not be called or None).

    Fail closed: a hook configured with a key that cannot be read is never called unsigned.
    A receiver that checks signatures would reject the call anyway, and one that does not
    must not be led to trust it.
    """
    secret = await _secret(controller, namespace, hook.secret_ref)
    if hook.secret_ref is not None and secret is None:
        ref = hook.secret_ref
        return None, f"signing key {ref.key!r} of Secret {ref.name!r} not found: not calling the webhook unsigned"
    return secret, None


async def _call_gates(controller: Controller, canary: CanaryObject, spec: model.CanarySpec,
                      status: model.CanaryStatus, now: datetime.datetime) -> tuple[GateOutcome, ...]:
    hooks = machine.gates_due(spec, status, now)

    async def call(hook: analysis.WebhookSpec) -> GateOutcome:
        secret, missing = await _signing_key(controller, canary.namespace, hook)
        if missing:
            return GateOutcome(name=hook.name, type=hook.type.value, ok=False, reason=missing)
        outcome = await controller.call_webhook(hook, _payload(canary, status), secret=secret)
        return GateOutcome(name=hook.name, type=hook.type.value, ok=outcome.ok, reason=outcome.reason)

    return tuple(await asyncio.gather(*(call(hook) for hook in hooks)))


async def _analyse(controller: Controller, canary: CanaryObject, spec: model.CanarySpec, status: model.CanaryStatus,
                   route: tuple[str, str], now: datetime.datetime):
    assert spec.analysis is not None
    target = analysis.Target(namespace=route[0], route=route[1], stable_backend=spec.stable.name,
                             canary_backend=spec.canary.name,
                             backend_namespace=spec.canary.namespace or route[0])
    state = status.analysis_state or analysis.AnalysisState()
    try:
        provider = await _provider(controller, canary, spec.analysis)
        templates = await _templates(controller, canary, spec.analysis)
        # MetricTemplates that name their own provider (Flagger's layout) query it through a
        # pool built for this interval, from Secret keys read here (the pool itself does no I/O).
        refs = analysis.ProviderPool.secret_keys(templates.values())
        pool = analysis.ProviderPool({(ref.name, ref.key): await _secret(controller, canary.namespace, ref)
                                      for ref in refs}, window=spec.analysis.interval)
    except (errors.RolloutsError, analysis.AnalysisError, ValueError) as error:
        return analysis.IntervalVerdict(analysis.Verdict.ERROR, f"cannot query metrics: {error}"), state
    chosen = spec.analysis.provider or controller.metrics_provider
    kind = chosen.type if chosen else "prometheus"

    def resolve(provider_spec: analysis.ProviderSpec) -> MeteredProvider:
        return MeteredProvider(pool.resolve(provider_spec), controller.metrics, kind=_kind(provider_spec.type))

    try:
        # Analyses that fall due in the same second take turns here rather than all querying
        # the provider (and holding its connections) at once.
        async with controller.analysis_slots:
            return await controller.evaluate(spec.analysis, target, state, now=now,
                                             provider=MeteredProvider(provider, controller.metrics, kind=_kind(kind)),
                                             templates=templates, resolve_provider=resolve)
    finally:
        await pool.aclose()
        close = getattr(provider, "aclose", None)
        if close is not None:
            await close()


def _kind(provider_type: Any) -> str:
    return str(getattr(provider_type, "value", provider_type))


class _NoProvider:
    """Stands in when no metrics provider is configured: every query is an Error verdict, never a rollback."""

    async def query(self, promql: str, *, at: datetime.datetime) -> float:
        raise analysis.ProviderUnavailable("no metrics provider configured (controller --metrics-provider or "
                                           "--prometheus-url, or spec.analysis.provider)")

    async def query_range(self, promql: str, *, start: datetime.datetime, end: datetime.datetime,
                          step: float) -> list[float]:
        return [await self.query(promql, at=end)]

    async def query_buckets(self, promql: str, *, at: datetime.datetime) -> list[tuple[float, float]]:
        await self.query(promql, at=at)
        return []


async def _provider(controller: Controller, canary: CanaryObject, spec: analysis.AnalysisSpec):
    """The provider this interval queries: the Canary's own, else the controller's default.

    A Canary's own provider reads its Secrets in the Canary's namespace; the default reads
    them in the controller's namespace (its Secrets are the cluster operator's), so what a
    Canary says never makes the controller read a Secret of another namespace.
    """
    provider, namespace = spec.provider, canary.namespace
    if provider is None:
        provider, namespace = controller.metrics_provider, controller.own_namespace
        if provider is None:
            return _NoProvider()
        unfit = default_provider.unfit(spec, provider)
        if unfit is not None:
            raise ValueError(unfit)
        default_provider.require_namespace(provider, namespace)
    # build_provider reads secrets synchronously: fetch the keys it names first. A missing
    # required key is its MissingCredentials (an Error verdict), an optional one just absent.
    found = {(ref.name, ref.key): await _secret(controller, namespace, ref)
             for ref in analysis.provider_secret_keys(provider)}
    # Providers other than Prometheus query the time frame of the analysis interval by default.
    return analysis.build_provider(provider, lambda ref: found.get((ref.name, ref.key)), window=spec.interval)


async def _templates(controller: Controller, canary: CanaryObject,
                     spec: analysis.AnalysisSpec) -> dict[str, analysis.MetricTemplate]:
    found = {}
    for metric in spec.metrics:
        ref = metric.template_ref
        if ref is None:
            continue
        namespace = ref.namespace or canary.namespace
        obj = await controller.cluster.get(f"/apis/{model.GROUP}/{model.VERSION}/namespaces/{namespace}/"
                                           f"metrictemplates/{ref.name}")
        if obj is not None:
            found[f"{namespace}/{ref.name}"] = analysis.MetricTemplate.model_validate(obj.get("spec") or {})
    return found


async def _act(controller: Controller, canary: CanaryObject, decided: tuple[actions.Action, ...]) -> None:
    """Route writes and workload changes, in the order decided (Events and metrics come later)."""
    for action in decided:
        if isinstance(action, actions.WorkloadAction):
            await workload_io.execute(controller.cluster, action, owner=f"{canary.namespace}/{canary.name}")
        if not isinstance(action, actions.SetRouteWeights):
            continue
        write = await controller.cluster.update_route(
            action.namespace, action.name, lambda route, a=action: routes.patch(route, a, owner=canary.name),
            action.kind)
        if write.attempts > 1:
            controller.metrics.route_conflicts.labels(canary.namespace, canary.name).inc(write.attempts - 1)
        logger.info("canary %s/%s: route %s/%s %s (%s, stable %d%%, canary %d%%, attempts %d)", canary.namespace,
                    canary.name, action.namespace, action.name, "patched" if write.written else "already right",
                    action.kind.value,
                    action.stable_weight, action.canary_weight, write.attempts)


def _announce(controller: Controller, canary: CanaryObject, spec: model.CanarySpec | None,
              decision: machine.Decision, emit: EmitFn) -> None:
    status = decision.status
    for action in decision.actions:
        match action:
            case actions.RecordEvent(type=kind, reason=reason, message=message):
                emit(kind.value, reason, message)
                log = logger.warning if kind is actions.EventType.WARNING else logger.info
                log("canary %s/%s: %s: %s", canary.namespace, canary.name, reason, message,
                    extra={"canary": f"{canary.namespace}/{canary.name}", "phase": status.phase.value,
                           "step": status.step, "reason": reason})
            case actions.RecordVerdict(verdict=verdict):
                controller.metrics.record_verdict(canary.namespace, canary.name, verdict)
            case actions.RecordRolloutResult(result=result, duration_seconds=seconds):
                controller.metrics.record_result(canary.namespace, canary.name, result, seconds)
            case actions.CallWebhook(hook=hook, payload=payload):
                task = asyncio.create_task(_notify(controller, canary, hook, {**_payload(canary, status), **payload}))
                controller.background.add(task)
                task.add_done_callback(controller.background.discard)
            case actions.Notify():
                controller.notifier.submit(controller, canary, spec, action, emit)  # background, never awaited


async def _notify(controller: Controller, canary: CanaryObject, hook: analysis.WebhookSpec,
                  payload: dict[str, Any]) -> None:
    secret, missing = await _signing_key(controller, canary.namespace, hook)
    if missing:
        logger.warning("canary %s/%s: %s webhook %s not called: %s", canary.namespace, canary.name,
                       hook.type.value, hook.name, missing)
        return
    outcome = await controller.call_webhook(hook, payload, secret=secret)
    log = logger.info if outcome.ok else logger.warning
    log("canary %s/%s: %s webhook %s: %s", canary.namespace, canary.name, hook.type.value, hook.name, outcome.reason)


def _summary(error: pydantic.ValidationError) -> str:
    parts = []
    for problem in error.errors()[:3]:
        where = ".".join(str(p) for p in problem["loc"])
        parts.append(f"{where}: {problem['msg']}" if where else problem["msg"])
    return "; ".join(parts)
