"""Write planned statuses through the ``/status`` subresource, once each, off the reload path.

Installing a new routing table must never wait for the API, so status writes run in their own
task: a reload only *plans* them (:meth:`StatusWriter.plan`), which is cheap and idempotent.
Each write is a JSON merge patch conditional on the resourceVersion the status was computed
from: if anyone changed the object meanwhile (another controller adding its parent entry, a
user editing the spec), the API answers 409 and the write is recomputed from the newer object
instead of overwriting it. A planned write identical to one in flight is dropped, so a burst of
unrelated events does not turn into duplicate patches. A write the API refuses for good
(403 when RBAC lacks ``*/status``, 422) is not retried until the object or the status to write
changes, and is reported in ``errors`` instead, so a missing grant never becomes a write loop.
Likewise a field the API drops from what we wrote (``supportedFeatures`` on a GatewayClass
CRD older than v1.2 is pruned) is not written again until the object changes.

With worker processes a ``barrier`` holds each batch until every worker serves the snapshot
the batch was planned from (:meth:`gateway_proxy.kubernetes.relay.Fanout.installed`): ``plan``
takes that snapshot's position, and a batch waits for the newest position planned into it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from gateway_proxy.kubernetes import (catalog as kube_catalog, client as kube_client,
                                       conditions as kube_conditions, status as kube_status)
from gateway_proxy.kubernetes.watching import Key, Kind, Watcher

logger = logging.getLogger("gateway_proxy")

CONCURRENCY = 16


class StatusWriter:
    """Pending status writes by object; :meth:`run` performs them until cancelled."""

    def __init__(self, client: kube_client.KubeClient | None, watchers: dict[Kind, Watcher], controller: str,
                 retry: Callable[[], None], barrier: Callable[[int], Awaitable[Any]] | None = None):
        self.client = client
        self.watchers = watchers
        self.controller = controller
        self.retry = retry
        self.barrier = barrier
        self.pending: dict[tuple[Kind, Key], tuple[dict[str, Any], str]] = {}
        self._position = 0  # of the newest snapshot planned into ``pending``
        self._inflight: dict[tuple[Kind, Key], dict[str, Any]] = {}
        # Writes the API refused for good, or whose fields it dropped: (resourceVersion, body sans times).
        self._refused: dict[tuple[Kind, Key], tuple[str, dict[str, Any]]] = {}
        self._pruned: dict[tuple[Kind, Key], tuple[str, dict[str, Any]]] = {}
        # (desired status, object) last planned per target: when both are the very same objects
        # again, the plan cannot differ, and rendering thousands of unchanged routes is skipped.
        self._planned: dict[tuple[Kind, Key], tuple[Any, dict[str, Any]]] = {}
        self.errors: dict[str, str] = {}
        self._wake = asyncio.Event()
        self.writes = 0
        self.conflicts = 0

    @property
    def idle(self) -> bool:
        return not self.pending and not self._inflight

    def _plan_one(self, kind: Kind, key: Key, desired: Any, render: Callable[[dict | None], dict | None]) -> None:
        target = (kind, key)
        obj = self.watchers[kind].objects.get(key)
        if obj is None:
            self.pending.pop(target, None)
            self._planned.pop(target, None)
            return
        last = self._planned.get(target)
        if last is not None and last[0] is desired and last[1] is obj:
            return
        self._planned[target] = (desired, obj)
        body = render(obj.get("status"))
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        refused = self._refused.get(target)
        pruned = self._pruned.get(target)
        if body is None or self._inflight.get(target) == body or (
                refused is not None and refused == (version, kube_conditions.without_times(body))) or (
                pruned is not None and pruned == (version, kube_conditions.without_times(body))):
            self.pending.pop(target, None)
            if body is None and self.errors.pop(_label(kind, key), None) is not None:
                self._refused.pop(target, None)
            return
        self.pending[target] = (body, version)

    def plan(self, statuses: kube_status.Statuses, now: str, position: int = 0) -> None:
        """Queue a write for every object whose status differs from ``statuses`` (taken at ``position``)."""
        self._position = max(self._position, position)
        for key, parents in statuses.routes.items():
            self._plan_one(kube_catalog.ROUTES, key, parents,
                           lambda existing, parents=parents: kube_conditions.route_status(existing, parents,
                                                                                          self.controller, now))
        for key, parents in statuses.grpc_routes.items():
            self._plan_one(kube_catalog.GRPC_ROUTES, key, parents,
                           lambda existing, parents=parents: kube_conditions.route_status(existing, parents,
                                                                                          self.controller, now))
        for key, gateway in statuses.gateways.items():
            self._plan_one(kube_catalog.GATEWAYS, key, gateway,
                           lambda existing, gateway=gateway: kube_conditions.gateway_status(existing, gateway, now))
        for name, conditions in statuses.classes.items():
            self._plan_one(kube_catalog.GATEWAY_CLASSES, ("", name), conditions,
                           lambda existing, conditions=conditions: kube_conditions.class_status(existing, conditions,
                                                                                                now))
        if self.pending:
            self._wake.set()

    async def run(self) -> None:
        limit = asyncio.Semaphore(CONCURRENCY)
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self.pending = self.pending, {}
            self._inflight.update({target: body for target, (body, _) in batch.items()})
            try:
                if self.barrier is not None:
                    await self.barrier(self._position)
                await asyncio.gather(*(self._write(limit, kind, key, body, version)
                                       for (kind, key), (body, version) in batch.items()))
            finally:
                for target in batch:
                    self._inflight.pop(target, None)

    async def _write(self, limit: asyncio.Semaphore, kind: Kind, key: Key, body: dict, version: str) -> None:
        path = kind.object_path(key[0], key[1])
        label = _label(kind, key)
        async with limit:
            try:
                written = await self.client.merge_patch_status(path, body, version)
            except kube_client.ApiError as error:
                if error.status == 404:
                    return  # deleted meanwhile: its watch event ends the matter
                if error.status == 409:
                    self.conflicts += 1
                    self._planned.pop((kind, key), None)
                elif not error.temporary:
                    self._refused[(kind, key)] = (version, kube_conditions.without_times(body))
                    if self.errors.get(label) != str(error):
                        logger.error("gateway_proxy: %s refused: %s", label, error)
                    self.errors[label] = f"{label} refused: {error}"
                    return
                else:
                    logger.warning("gateway_proxy: %s not written: %s", label, error)
                    self._planned.pop((kind, key), None)
                self.retry()
                return
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                self._planned.pop((kind, key), None)
                logger.warning("gateway_proxy: %s not written: %r", label, error)
                self.retry()
                return
        self.writes += 1
        self._refused.pop((kind, key), None)
        self.errors.pop(label, None)
        kept = written.get("status") or {}
        dropped = [field for field, value in body.items() if value is not None and field not in kept]
        if dropped:
            version = str((written.get("metadata") or {}).get("resourceVersion") or "")
            if (kind, key) not in self._pruned:
                logger.info("gateway_proxy: the API dropped status %s of %s (an older CRD?); not writing it again "
                            "until the object changes", ", ".join(dropped), label)
            self._pruned[(kind, key)] = (version, kube_conditions.without_times(body))
        else:
            self._pruned.pop((kind, key), None)
        self.watchers[kind].absorb(written)


def _label(kind: Kind, key: Key) -> str:
    return f"status of {kind.kind} {key[0]}/{key[1]}" if key[0] else f"status of {kind.kind} {key[1]}"
