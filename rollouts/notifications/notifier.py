"""Deliver a Canary's notices to the providers that subscribed, in the background.

``submit`` is called from the reconciler's announce step, after the status write, for
each ``actions.Notify`` a decision carries. It only works out who subscribed (the Canary's
``spec.notifications`` and the controller's cluster-wide ``--notification-provider``
subscriptions, filtered by event type, one message per provider) and starts a task per
provider; it never awaits the network, so a slow or failing chat service cannot delay or
break a rollout. Each task then:

1. waits for the previous message to the same provider about the same Canary, so a
   channel reads "started, step, promoted" in that order;
2. reads the NotificationProvider and the Secret holding its URL, at send time, so an
   edited provider or a rotated Secret applies to the next message;
3. applies the provider's rate limit per Canary (excess dropped, counted, logged once);
4. posts the service's payload with a timeout and retries (``delivery``).

A provider that does not exist or cannot be used is reported once on the Canary as a
Warning Event (``NotificationProviderNotFound``/``NotificationProviderInvalid``) and in the
log, like an invalid spec is; the rollout itself goes on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pydantic
from prometheus_client import CollectorRegistry, Counter

from analysis import webhooks
from rollouts import actions, errors, model
from rollouts.notifications import delivery, events, payloads, ratelimit
from rollouts.notifications.errors import DeliveryFailed, NotificationError, ProviderInvalid, ProviderNotFound
from rollouts.notifications.model import NotificationEvent, NotificationProviderSpec, ProviderType, Subscription

logger = logging.getLogger(__name__)

EVENT_HEADER = "X-Routeshift-Event"
ProviderKey = tuple[str, str]  # (namespace, name) of a NotificationProvider


@dataclasses.dataclass(frozen=True)
class ResolvedProvider:
    spec: NotificationProviderSpec
    url: str
    signing_key: str | None


class _Counters:
    def __init__(self, registry: CollectorRegistry):
        labels = ["namespace", "name", "provider"]
        self.sent = Counter("routeshift_notifications_sent", "Notifications a chat service accepted.", labels,
                            registry=registry)
        self.failed = Counter("routeshift_notifications_failed", "Notifications not delivered: the provider is "
                              "missing or unusable, or the service refused or never answered.", labels,
                              registry=registry)
        self.dropped = Counter("routeshift_notifications_dropped", "Notifications dropped by the provider's "
                               "rate limit (per provider and Canary).", labels, registry=registry)


def provider_path(namespace: str, name: str) -> str:
    return f"/apis/{model.GROUP}/{model.VERSION}/namespaces/{namespace}/notificationproviders/{name}"


def recipients(rules: Iterable[Any], cluster_wide: Iterable[Subscription], *, namespace: str,
               event: NotificationEvent) -> list[ProviderKey]:
    """The providers that hear ``event`` of a Canary in ``namespace``, each once, in subscription order."""
    wanted: dict[ProviderKey, bool] = {}
    subscriptions = [(rule.provider_ref.key(namespace), frozenset(rule.events)) for rule in rules]
    for key, kinds in [*subscriptions, *cluster_wide]:
        wanted[key] = wanted.get(key, False) or not kinds or event in kinds
    return [key for key, wants in wanted.items() if wants]


class Notifier:
    """One per controller: cluster-wide subscriptions, rate-limit windows and in-flight deliveries."""

    def __init__(self, subscriptions: Sequence[Subscription] = (), *, clock: Callable[[], float] = time.monotonic,
                 backoff: float = 0.5):
        self.subscriptions = list(subscriptions)
        self.clock = clock
        self.backoff = backoff
        self.window = ratelimit.SlidingWindow()
        self._last: dict[tuple[ProviderKey, str], asyncio.Task[None]] = {}
        self._reported: set[tuple[str, ProviderKey]] = set()
        self._counters: _Counters | None = None

    def counters(self, registry: CollectorRegistry) -> _Counters:
        """The counters, registered in the controller's registry the first time they are needed."""
        if self._counters is None:
            self._counters = _Counters(registry)
        return self._counters

    def submit(self, controller: Any, canary: Any, spec: model.CanarySpec | None, action: actions.Notify,
               emit: Callable[[str, str, str], None]) -> list[asyncio.Task[None]]:
        """Start delivering ``action`` to every subscribed provider; returns the tasks (tests await them).

        ``controller`` and ``canary`` are the reconciler's ``Controller`` and ``CanaryObject``
        (their cluster, metrics registry and background task set; namespace and name).
        """
        notice = events.Notice(
            namespace=canary.namespace, name=canary.name, event=action.event, reason=action.reason,
            message=action.message, warning=action.warning, phase=action.phase, release=action.release,
            step=action.step, steps=action.steps, weight=action.weight, time=action.time)
        rules = spec.notifications if spec is not None else []
        counters = self.counters(controller.metrics.registry)
        arrived = self.clock()
        started = []
        for key in recipients(rules, self.subscriptions, namespace=canary.namespace, event=action.event):
            lane = (key, notice.canary)
            previous = self._last.get(lane)
            task = asyncio.create_task(self._deliver(controller.cluster, counters, notice, key, emit, previous,
                                                     arrived))
            self._last[lane] = task
            task.add_done_callback(lambda done, lane=lane: self._last.pop(lane, None) if self._last.get(lane)
                                   is done else None)
            controller.background.add(task)
            task.add_done_callback(controller.background.discard)
            started.append(task)
        return started

    async def _deliver(self, cluster: Any, counters: _Counters, notice: events.Notice, key: ProviderKey,
                       emit: Callable[[str, str, str], None], previous: asyncio.Task[None] | None,
                       arrived: float) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # its outcome is its own business: only the order matters here
        provider = "/".join(key)
        labels = (notice.namespace, notice.name, provider)
        try:
            resolved = await self.resolve(cluster, key)
        except (ProviderNotFound, ProviderInvalid) as error:
            counters.failed.labels(*labels).inc()
            self._report_once(notice, key, error, emit)
            return
        except errors.RolloutsError as error:  # the API server itself is unavailable: nothing to tell the user
            counters.failed.labels(*labels).inc()
            logger.warning("canary %s: notification %s to %s not sent: %s", notice.canary, notice.event.value,
                           provider, error)
            return
        self._reported.discard((notice.canary, key))
        limit = resolved.spec.rate_limit
        decision = self.window.allow((key, notice.canary), now=arrived, events=limit.events,
                                     interval=limit.seconds())
        if not decision.allowed:
            counters.dropped.labels(*labels).inc()
            if decision.first_drop:
                logger.warning("canary %s: notifications to %s exceed %d per %s; dropping until the window has "
                               "room (counted in routeshift_notifications_dropped_total)", notice.canary, provider,
                               limit.events, limit.interval)
            return
        body, headers = encode(notice, resolved)
        try:
            status = await delivery.post(resolved.url, body, headers, timeout=resolved.spec.timeout_seconds,
                                         retries=resolved.spec.retries, backoff=self.backoff)
        except DeliveryFailed as error:
            counters.failed.labels(*labels).inc()
            logger.warning("canary %s: notification %s to %s (%s) failed: %s", notice.canary, notice.event.value,
                           provider, resolved.spec.type.value, error)
            return
        counters.sent.labels(*labels).inc()
        logger.info("canary %s: notified %s of %s (HTTP %d)", notice.canary, provider, notice.event.value, status)

    async def resolve(self, cluster: Any, key: ProviderKey) -> ResolvedProvider:
        """The provider's spec, URL and signing key, read now; raises ProviderNotFound/ProviderInvalid."""
        namespace, name = key
        obj = await cluster.get(provider_path(namespace, name))
        if obj is None:
            raise ProviderNotFound(f"NotificationProvider {namespace}/{name} not found")
        try:
            spec = NotificationProviderSpec.model_validate(obj.get("spec") or {})
        except pydantic.ValidationError as error:
            problem = "; ".join(p["msg"] for p in error.errors()[:2])
            raise ProviderInvalid(f"NotificationProvider {namespace}/{name} is invalid: {problem}") from error
        url = spec.address
        if spec.secret_ref is not None:
            url = await _secret_value(cluster, namespace, spec.secret_ref.name, spec.secret_ref.key, name)
        signing = None
        if spec.signing_secret_ref is not None:
            ref = spec.signing_secret_ref
            signing = await _secret_value(cluster, namespace, ref.name, ref.key, name)
        if not url or not url.strip().lower().startswith(("http://", "https://")):
            raise ProviderInvalid(f"NotificationProvider {namespace}/{name}: its address is not an http(s) URL")
        return ResolvedProvider(spec, url.strip(), signing)

    def _report_once(self, notice: events.Notice, key: ProviderKey, error: NotificationError,
                     emit: Callable[[str, str, str], None]) -> None:
        if (notice.canary, key) in self._reported:
            return
        self._reported.add((notice.canary, key))
        reason = ("NotificationProviderNotFound" if isinstance(error, ProviderNotFound)
                  else "NotificationProviderInvalid")
        message = f"{error}: {notice.event.value} notifications to it are not sent; the rollout goes on"
        logger.warning("canary %s: %s", notice.canary, message)
        try:
            emit(actions.EventType.WARNING.value, reason, message)
        except Exception as failure:  # an Event is a courtesy; never let it break the delivery task
            logger.warning("canary %s: could not post the %s Event: %r", notice.canary, reason, failure)


async def _secret_value(cluster: Any, namespace: str, secret: str, key: str, provider: str) -> str:
    try:
        data = await cluster.read_secret(namespace, secret)
    except errors.ApiError as error:
        if error.retryable:
            raise  # the API server is struggling, the provider may be fine
        raise ProviderInvalid(f"NotificationProvider {namespace}/{provider}: cannot read Secret {secret}: "
                              f"{error}") from error
    value = (data or {}).get(key)
    if not value:
        raise ProviderInvalid(f"NotificationProvider {namespace}/{provider}: Secret {namespace}/{secret} "
                              f"{'has no key ' + repr(key) if data is not None else 'not found'}")
    return value


def encode(notice: events.Notice, provider: ResolvedProvider) -> tuple[bytes, dict[str, str]]:
    """The body bytes and headers for one provider; webhook bodies are signed when a key is set."""
    body = webhooks.encode(payloads.build(notice, provider.spec))
    headers = {"Content-Type": "application/json; charset=UTF-8", "User-Agent": "routeshift-controller"}
    if provider.spec.type is ProviderType.WEBHOOK:
        headers[EVENT_HEADER] = notice.event.value
        if provider.signing_key is not None:
            headers[webhooks.SIGNATURE_HEADER] = webhooks.sign(body, provider.signing_key)
    return body, headers
