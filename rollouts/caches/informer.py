"""List, then watch, one kind of object into a :class:`~rollouts.caches.store.Store`, forever.

The loop client-go's reflector runs, in the few lines this controller needs:

1. list the collection (paged), replace the copy with it, note its resourceVersion and
   mark the cache synced;
2. watch from that resourceVersion (with bookmarks, and a server-side timeout so the
   stream is renewed every few minutes), applying each event;
3. when the stream ends normally, watch again from the last resourceVersion seen; when the
   server answers 410 Gone (the version was compacted away: events were missed), list again,
   which also drops what was deleted meanwhile;
4. on any other failure (API down, RBAC, a broken stream) mark the cache unsynced, so reads
   go to the API server instead of trusting a copy that may have stopped following, and
   list again after a back-off; a kind the API server does not serve (404: its CRD is not
   installed) is logged once and listed again every minute.

Every change the copy takes (from an event or from a relist) is handed to ``on_change``,
which wakes the Canaries that depend on the object.
"""

from __future__ import annotations

import asyncio
import logging
import random
import urllib.parse
from collections.abc import Callable

from rollouts import errors, patching
from rollouts.caches.kinds import Kind
from rollouts.caches.store import Change, Store

logger = logging.getLogger(__name__)

OnChange = Callable[[Kind, Change], None]
_BACKOFF = (0.2, 0.5, 1.0, 2.0, 5.0)
_NOT_SERVED = 60.0  # seconds between lists of a kind the API server answers 404 for


class _Expired(Exception):
    """The watch's resourceVersion is too old: list again."""


class Informer:
    """The cache of one kind in one namespace (or cluster-wide when ``namespace`` is None)."""

    def __init__(self, cluster: patching.Cluster, kind: Kind, namespace: str | None, on_change: OnChange, *,
                 watch_seconds: int = 300, page_size: int = 500):
        self.cluster = cluster
        self.kind = kind
        self.namespace = namespace
        self.on_change = on_change
        self.watch_seconds = watch_seconds
        self.page_size = page_size
        self.store = Store()
        self.synced = asyncio.Event()
        self.lists = 0  # how many times the collection was listed (1 + relists)
        self.events = 0  # watch events applied

    def covers(self, namespace: str) -> bool:
        return self.namespace is None or self.namespace == namespace

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                await self._list()
                failures = 0
                await self._follow()
            except _Expired:
                logger.info("%s cache: resourceVersion expired, listing again", self.kind.name)
            except errors.NotFound as error:
                # The API server does not serve this kind (no GRPCRoute CRD, say): nothing to
                # cache, reads find nothing either. Say so once and look again now and then.
                self.synced.clear()
                if failures == 0:
                    logger.info("%s cache: not served by the API server (%s); looking again every %.0fs",
                                self.kind.name, error, _NOT_SERVED)
                failures += 1
                await asyncio.sleep(_NOT_SERVED * random.uniform(0.8, 1.2))
            except errors.ApiError as error:
                self.synced.clear()
                delay = _BACKOFF[min(failures, len(_BACKOFF) - 1)] * random.uniform(0.8, 1.2)
                failures += 1
                logger.warning("%s cache: %s; reads go to the API server, listing again in %.1fs",
                               self.kind.name, error, delay)
                await asyncio.sleep(delay)

    async def _list(self) -> None:
        items: list[dict] = []
        token = None
        while True:
            query = {"limit": str(self.page_size), **({"continue": token} if token else {})}
            try:
                page = await self.cluster.request("GET", f"{self.kind.path(self.namespace)}?"
                                                         f"{urllib.parse.urlencode(query)}")
            except errors.ApiError as error:
                if error.status == 410 and token:  # the continue token expired: start the list over
                    items, token = [], None
                    continue
                raise
            items += page.get("items") or []
            meta = page.get("metadata") or {}
            token = meta.get("continue")
            if not token:
                break
        self.lists += 1
        for change in self.store.replace(items, meta.get("resourceVersion") or ""):
            self.on_change(self.kind, change)
        self.synced.set()

    async def _follow(self) -> None:
        """Watch until the resourceVersion expires (raises :class:`_Expired`) or something breaks."""
        while True:
            # Jitter, so that the streams of many kinds do not all end in the same second.
            seconds = int(self.watch_seconds * random.uniform(0.9, 1.1))
            params = {"watch": "true", "resourceVersion": self.store.resource_version,
                      "allowWatchBookmarks": "true", "timeoutSeconds": str(seconds)}
            try:
                async for event in self.cluster.watch(self.kind.path(self.namespace), params,
                                                      read_timeout=seconds + 30):
                    self._take(event)
            except errors.ApiError as error:
                if error.status == 410:
                    raise _Expired() from error
                raise

    def _take(self, event: dict) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise _Expired()
            raise errors.from_status(obj.get("code"), f"watch {self.kind.path(self.namespace)}: "
                                                      f"{obj.get('message', obj)}", obj.get("reason", ""))
        self.events += 1
        change = self.store.apply(kind, obj)
        if change is not None:
            self.on_change(self.kind, change)
