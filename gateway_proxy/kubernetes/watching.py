"""Keep a local copy of one resource kind current: list, then watch, resuming where it left off.

This is the informer pattern of client-go, reduced to what the proxy needs. A watch that
ends (the server's ``timeoutSeconds``, a dropped connection, an API error) is resumed from
the last resourceVersion seen, so no change is lost and nothing is read twice; bookmarks
advance that position while nothing changes. Only when the API answers ``410 Gone`` (the
position was compacted away) is the whole kind listed again, and the copy replaced at once.
Every change is reported to ``on_change`` with the keys it touched (``None``: all of them,
after a list) so the caller re-parses only what changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from gateway_proxy.kubernetes import client as kube_client

logger = logging.getLogger("gateway_proxy")

# Delays between retries of a failing list or watch; the last one repeats.
BACKOFF = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
# A watch that the server ends this fast without a single event counts as a failure, so a
# server closing every stream at once (shutting down, misbehaving) is not hammered in a loop.
EMPTY_WATCH = 0.1

Key = tuple[str, str]  # (namespace or "", name)


@dataclass(frozen=True)
class Kind:
    """One watched resource: where it lives, what its objects are called, an optional field selector.

    An ``optional`` kind that the API refuses (403: not granted, 404: not served) counts as
    listed and empty, so routing goes on without it (e.g. no TLS Secrets when RBAC grants
    none); the refusal is reported and the list retried.
    """

    group: str
    version: str
    plural: str
    kind: str
    field_selector: str | None = None
    optional: bool = False

    @property
    def path(self) -> str:
        return kube_client.resource_path(self.group, self.version, self.plural)

    @property
    def label(self) -> str:
        return f"{self.plural}.{self.version}.{self.group}" if self.group else f"{self.plural}.{self.version}"

    def object_path(self, namespace: str, name: str) -> str:
        return kube_client.resource_path(self.group, self.version, self.plural, namespace or None, name)


def key_of(obj: dict[str, Any]) -> Key:
    metadata = obj.get("metadata") or {}
    return (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))


def _newer(candidate: str, current: str) -> bool:
    # resourceVersions are opaque strings; every real server uses integers, so compare those.
    if candidate.isdigit() and current.isdigit():
        return int(candidate) > int(current)
    return candidate != current


class Watcher:
    """The objects of one :class:`Kind`, by key; :meth:`run` keeps them current until cancelled."""

    def __init__(self, client: kube_client.KubeClient, kind: Kind,
                 on_change: Callable[["Watcher", set[Key] | None], None], *, timeout_seconds: int = 300,
                 backoff: tuple[float, ...] = BACKOFF):
        self.client = client
        self.kind = kind
        self.on_change = on_change
        self.timeout_seconds = timeout_seconds
        self.backoff = backoff
        self.objects: dict[Key, dict[str, Any]] = {}
        self.resource_version = ""
        self.synced = asyncio.Event()
        self.error: str | None = None
        self.lists = 0  # how often the kind was listed in full (1 + one per 410)
        self.watches = 0  # how many watch requests were made (resumes included)

    @property
    def _params(self) -> dict[str, str]:
        return {"fieldSelector": self.kind.field_selector} if self.kind.field_selector else {}

    async def run(self) -> None:
        failures = 0
        must_list = True
        while True:
            try:
                if must_list:
                    await self._list()
                    must_list = False
                started = asyncio.get_running_loop().time()
                events = await self._watch()
                if events or asyncio.get_running_loop().time() - started >= EMPTY_WATCH:
                    failures = 0
                else:
                    await asyncio.sleep(self.backoff[min(failures, len(self.backoff) - 1)])
                    failures += 1
            except kube_client.Gone:
                logger.info("gateway_proxy: %s: resourceVersion %s expired, listing again", self.kind.label,
                            self.resource_version)
                must_list = True
            except (kube_client.ApiError, aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
                delay = self.backoff[min(failures, len(self.backoff) - 1)]
                failures += 1
                if must_list and self._refused(error):
                    delay = self.backoff[-1]
                self._fail(f"{self.kind.label}: {error!r}; retrying in {delay:g}s")
                await asyncio.sleep(delay)

    def _refused(self, error: Exception) -> bool:
        """An optional kind the API will not list: go on as if it were empty."""
        if not (self.kind.optional and isinstance(error, kube_client.ApiError) and error.status in (403, 404)):
            return False
        if not self.synced.is_set() or self.objects:
            self.objects = {}
            self.synced.set()
            self.on_change(self, None)
        return True

    def _fail(self, message: str) -> None:
        if message != self.error:
            logger.warning("gateway_proxy: watch failed: %s", message)
        self.error = message
        self.on_change(self, set())

    def _recover(self) -> None:
        if self.error is not None:
            logger.info("gateway_proxy: %s: watching again", self.kind.label)
            self.error = None
            self.on_change(self, set())

    async def _list(self) -> None:
        items, version = await self.client.list(self.kind.path, self._params)
        self.objects = {key_of(item): item for item in items}
        self.resource_version = version
        self.lists += 1
        self._recover()
        self.synced.set()
        self.on_change(self, None)

    async def _watch(self) -> int:
        """Apply one watch stream's events; returns how many arrived."""
        self.watches += 1
        count = 0
        stream = self.client.watch(self.kind.path, self.resource_version, self._params, self.timeout_seconds)
        # aclosing: leaving on an ERROR event must release the connection now, not at GC.
        async with contextlib.aclosing(stream):
            async for event in stream:
                count += 1
                self._apply(event)
        return count

    def _apply(self, event: dict[str, Any]) -> None:
        self._recover()
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            raise kube_client.api_error(int(obj.get("code") or 500), obj)
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        if kind == "BOOKMARK":
            self.resource_version = version or self.resource_version
            return
        key = key_of(obj)
        if kind == "DELETED":
            self.objects.pop(key, None)
        elif kind in ("ADDED", "MODIFIED"):
            self.objects[key] = obj
        else:
            return
        if version:
            self.resource_version = version
        self.on_change(self, {key})

    def absorb(self, obj: dict[str, Any]) -> None:
        """Take an object we just wrote (a status patch's answer) unless the watch already has a newer one."""
        key = key_of(obj)
        current = self.objects.get(key)
        if current is None:
            return
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        known = str((current.get("metadata") or {}).get("resourceVersion") or "")
        if version and _newer(version, known):
            self.objects[key] = obj
