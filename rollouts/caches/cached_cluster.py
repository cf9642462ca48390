"""The controller's API client with its reads of routes, Services and Deployments answered locally.

A drop-in :class:`~rollouts.patching.Cluster`: the reconciler and the workload I/O call the
same ``get_route``/``get_service``/``get_deployment`` as before, and get the watched copy
when the informer for that kind and namespace is synced, or a GET when it is not (not
started yet, relisting after an error, or a namespace outside ``--namespace``). Writes are
unchanged and still go to the API server: a route patch planned from the cached copy
carries its resourceVersion as the precondition, so a copy that lags costs one 409 and a
fresh read, never a lost or stale write. The API's answer to our own write is recorded in
the copy at once, so the next reconciliation does not see the object as it was before it.

Routes and Services are handed out as held, not copied: everything that reads them
(``routes.observe``, ``routes.patch``, route adoption) only reads, and a deep copy per read
was the largest cost of a reconciliation at scale after the decision itself. Deployments
are deep copies, because the workload code derives the objects it writes from them.
"""

from __future__ import annotations

import asyncio
import collections
import copy
from collections.abc import Sequence
from typing import Any

from rollouts import patching
from rollouts.caches import kinds
from rollouts.caches.informer import Informer
from rollouts.caches.interest import Interest
from rollouts.caches.kinds import Kind
from rollouts.caches.store import Change, key_of
from rollouts.route_kinds import RouteKind


class CachedCluster(patching.Cluster):
    """``patching.Cluster`` reading through watch-fed caches; :meth:`start` runs the informers."""

    def __init__(self, connection: patching.Connection, *, namespaces: Sequence[str] = (),
                 interest: Interest | None = None, watch_seconds: int = 300, **options: Any):
        super().__init__(connection, **options)
        self.interest = interest if interest is not None else Interest()
        scopes: Sequence[str | None] = list(namespaces) or [None]
        self.informers: dict[str, list[Informer]] = {
            kind.name: [Informer(self, kind, scope, self._changed, watch_seconds=watch_seconds) for scope in scopes]
            for kind in kinds.ALL}
        # (resource, "cache" or "api") -> reads answered, for the metric and the scale bench.
        self.reads: collections.Counter[tuple[str, str]] = collections.Counter()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start every informer on the running loop (idempotent)."""
        if self._tasks:
            return
        for informers in self.informers.values():
            for informer in informers:
                self._tasks.append(asyncio.get_running_loop().create_task(
                    informer.run(), name=f"cache {informer.kind.name} {informer.namespace or '*'}"))

    async def synced(self, timeout: float | None = None) -> bool:
        """Wait until every informer has listed once; False if ``timeout`` passes first."""
        waits = [informer.synced.wait() for informers in self.informers.values() for informer in informers]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def stop(self) -> None:
        """Stop following: the copies stay as they are (and stay trusted) until :meth:`start` again."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def close(self) -> None:
        await self.stop()
        await super().close()

    # ----------------------------------------------------------------- reads

    async def get_route(self, namespace: str, name: str,
                        kind: RouteKind = RouteKind.HTTP_ROUTE) -> dict[str, Any] | None:
        fetch = super().get_route
        return await self._read(kinds.ROUTES[kind], namespace, name, lambda ns, n: fetch(ns, n, kind), copied=False)

    async def get_service(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._read(kinds.SERVICES, namespace, name, super().get_service, copied=False)

    async def get_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._read(kinds.DEPLOYMENTS, namespace, name, super().get_deployment, copied=True)

    def wrote(self, obj: dict[str, Any] | None) -> None:
        if not obj:
            return
        kind = _KIND_OF.get(obj.get("kind", ""))
        informer = self._informer(kind, key_of(obj)[0]) if kind else None
        if informer is not None:
            informer.store.record(obj)

    def cached(self, kind: Kind, namespace: str, name: str) -> tuple[bool, dict[str, Any] | None]:
        """(whether a synced cache answers for this object, the object or None when it does not exist)."""
        informer = self._informer(kind, namespace)
        if informer is None:
            return False, None
        return True, informer.store.get(namespace, name)

    async def _read(self, kind: Kind, namespace: str, name: str, fetch, *, copied: bool) -> dict[str, Any] | None:
        hit, obj = self.cached(kind, namespace, name)
        if hit:
            self.reads[(kind.name, "cache")] += 1
            return copy.deepcopy(obj) if copied else obj
        self.reads[(kind.name, "api")] += 1
        return await fetch(namespace, name)

    def _informer(self, kind: Kind, namespace: str) -> Informer | None:
        for informer in self.informers.get(kind.name, ()):
            if informer.covers(namespace) and informer.synced.is_set():
                return informer
        return None

    def _changed(self, kind: Kind, change: Change) -> None:
        self.interest.wake((kind.name, *change.key))


_KIND_OF = {"HTTPRoute": kinds.HTTPROUTES, "GRPCRoute": kinds.GRPCROUTES, "Service": kinds.SERVICES,
            "Deployment": kinds.DEPLOYMENTS}
