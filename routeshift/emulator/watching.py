"""Serve one watch request from the event log, as the API server's watch cache does.

The contract clients depend on: resuming from a resourceVersion yields exactly the later
changes; a compacted resourceVersion yields one ``ERROR`` event with a 410 Status (kopf then
re-lists); ``timeoutSeconds`` ends the stream cleanly; an object that stops (or starts)
matching the selectors is seen as DELETED (or ADDED); bookmarks carry progress when asked
for; and the stream ends as soon as the client goes away or the emulator stops, instead of
holding the server's shutdown hostage. The body is newline-delimited JSON served as
``application/json`` (what kubectl's ``get -w`` decoder insists on).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp.web

from routeshift.emulator import errors, eventlog, jsondata, paths, selectors, store, tables

# How often an idle stream checks for a vanished client, and how often it sends bookmarks.
POLL_INTERVAL = 0.25
BOOKMARK_INTERVAL = 5.0


class WatchStream:
    """The state of one watch response; :meth:`run` writes it until it ends."""

    def __init__(self, raw: aiohttp.web.BaseRequest, target: paths.Target, objects: store.Store,
                 closing: asyncio.Event) -> None:
        self.raw = raw
        self.target = target
        self.store = objects
        self.closing = closing
        params = raw.query
        self.matches = self._matcher(params.get("labelSelector"), params.get("fieldSelector"))
        self.since = params.get("resourceVersion")
        self.timeout = float(params["timeoutSeconds"]) if params.get("timeoutSeconds") else None
        self.bookmarks = params.get("allowWatchBookmarks") == "true"
        self.initial_events = params.get("sendInitialEvents") == "true"
        self.as_table = tables.wants(raw.headers.get("Accept"), "Table")
        self.include_object = params.get("includeObject")
        self.response = aiohttp.web.StreamResponse(status=200, headers={
            "Content-Type": "application/json", "Cache-Control": "no-cache, private"})
        self._storage = objects.types.storage_of(target.rtype)
        self._sent_columns = False

    def _matcher(self, labels: str | None, fields: str | None) -> Callable[[dict[str, Any]], bool]:
        by_selectors = selectors.combined(labels, fields)
        namespace, name = self.target.namespace, self.target.name

        def matches(obj: dict[str, Any]) -> bool:
            meta = obj.get("metadata", {})
            if namespace is not None and meta.get("namespace") != namespace:
                return False
            if name is not None and meta.get("name") != name:
                return False
            return by_selectors(obj)
        return matches

    @property
    def client_gone(self) -> bool:
        transport = self.raw.transport
        return transport is None or transport.is_closing()

    async def run(self) -> aiohttp.web.StreamResponse:
        await self.response.prepare(self.raw)
        try:
            await self._stream()
            await self.response.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client went away mid-write; nothing left to tell it
        return self.response

    async def _stream(self) -> None:
        log = self.store.log
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout if self.timeout is not None else None
        if self.since in (None, "", "0") or self.initial_events:
            last = self.store.clock.current
            for obj in self.store.list(self._storage, self.target.namespace):
                if self.matches(obj):
                    await self._send("ADDED", obj)
            if self.initial_events and self.bookmarks:
                await self._bookmark(last, initial_end=True)
        else:
            try:
                last = int(self.since)
            except ValueError:
                await self._error(errors.bad_request(f"invalid resourceVersion: {self.since!r}"))
                return
        idle_since = loop.time()
        while True:
            if log.is_expired(last):
                await self._error(errors.expired(last, log.compacted))
                return
            # Everything up to `caught_up` is in this batch; writes during the sends come next round.
            caught_up = self.store.clock.current
            for change in log.since(last):
                for kind, obj in self._translate(change):
                    await self._send(kind, obj)
                    idle_since = loop.time()
            last = max(last, caught_up)
            if self.closing.is_set() or self.client_gone:
                return
            now = loop.time()
            if deadline is not None and now >= deadline:
                return
            if self.bookmarks and now - idle_since >= BOOKMARK_INTERVAL:
                await self._bookmark(last)
                idle_since = now
            wait = POLL_INTERVAL if deadline is None else max(0.0, min(POLL_INTERVAL, deadline - now))
            try:
                await asyncio.wait_for(log.waiter().wait(), timeout=wait)
            except TimeoutError:
                pass

    def _translate(self, change: eventlog.Change) -> list[tuple[str, dict[str, Any]]]:
        """What this watcher sees of a change, given its selectors (moves in/out of the set)."""
        if (change.storage.group, change.storage.plural) != (self._storage.group, self._storage.plural):
            return []
        now_matches = self.matches(change.object)
        if change.type == "ADDED":
            return [("ADDED", change.object)] if now_matches else []
        if change.type == "DELETED":
            was = change.previous is not None and self.matches(change.previous)
            return [("DELETED", change.object)] if (now_matches or was) else []
        was_matching = change.previous is not None and self.matches(change.previous)
        if now_matches and was_matching:
            return [("MODIFIED", change.object)]
        if now_matches:
            return [("ADDED", change.object)]
        if was_matching:
            return [("DELETED", change.object)]
        return []

    async def _send(self, kind: str, obj: dict[str, Any]) -> None:
        served = store.wire_view(obj, self.target.rtype)
        if self.as_table:
            payload: dict[str, Any] = tables.table(
                self.target.rtype, [served], resource_version=served["metadata"]["resourceVersion"],
                include_object=self.include_object, with_definitions=not self._sent_columns)
            self._sent_columns = True
        else:
            payload = served
        await self._write({"type": kind, "object": payload})

    async def _bookmark(self, resource_version: int, initial_end: bool = False) -> None:
        meta: dict[str, Any] = {"resourceVersion": str(resource_version)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        await self._write({"type": "BOOKMARK", "object": {
            "kind": self.target.rtype.kind, "apiVersion": self.target.rtype.group_version, "metadata": meta}})

    async def _error(self, error: errors.ApiError) -> None:
        await self._write({"type": "ERROR", "object": error.status_object()})

    async def _write(self, event: dict[str, Any]) -> None:
        await self.response.write(jsondata.dumps(event) + b"\n")

