"""An informer lists, follows, and lists again whenever it may have missed an event.

The first tests script the API's answers (a 410 inside the stream and as the watch's own
status are rare on the emulator at a chosen moment); the rest run against the emulator.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from rollouts import errors, patching
from rollouts.caches import kinds
from rollouts.caches.cached_cluster import CachedCluster
from rollouts.caches.informer import Informer
from routeshift.testing.polling import until_async

ROUTES = "gateway.networking.k8s.io/v1/httproutes"


def route(name: str, version: str = "1") -> dict:
    return {"metadata": {"name": name, "namespace": "default", "resourceVersion": version}}


class ScriptedApi:
    """Answers lists from ``lists`` and watches from ``watches`` in order; then the watch blocks."""

    def __init__(self, lists: list[dict], watches: list[list[dict] | errors.ApiError]):
        self.lists, self.watches = lists, watches
        self.watched_from: list[str] = []

    async def request(self, method: str, path: str) -> dict:
        return self.lists.pop(0)

    async def watch(self, path: str, params: dict, *, read_timeout: float):
        self.watched_from.append(params["resourceVersion"])
        script = self.watches.pop(0) if self.watches else None
        if script is None:
            await asyncio.Event().wait()
        if isinstance(script, errors.ApiError):
            raise script
        for event in script:
            yield event


@contextlib.asynccontextmanager
async def running(informer: Informer):
    task = asyncio.create_task(informer.run())
    try:
        yield informer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.parametrize("expiry", [
    pytest.param([{"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}],
                 id="410-in-the-stream"),
    pytest.param(errors.ApiError(410, "too old resource version", reason="Expired"), id="410-as-the-watch-status"),
])
async def test_an_expired_watch_lists_again_and_drops_what_was_deleted_in_the_gap(expiry):
    api = ScriptedApi(
        lists=[{"metadata": {"resourceVersion": "5"}, "items": [route("a", "4"), route("b", "5")]},
               {"metadata": {"resourceVersion": "9"}, "items": [route("a", "8")]}],
        watches=[expiry])
    seen = []
    informer = Informer(api, kinds.HTTPROUTES, None, lambda kind, change: seen.append(change))
    async with running(informer):
        await until_async(lambda: informer.lists == 2 and api.watched_from == ["5", "9"], timeout=5,
                          description="listed again, then watched from the new list's version")
    assert informer.store.get("default", "b") is None
    assert informer.store.get("default", "a")["metadata"]["resourceVersion"] == "8"
    assert [(c.key[1], c.after is None) for c in seen[2:]] == [("b", True), ("a", False)]


async def test_a_stream_that_ends_normally_is_resumed_from_the_last_version_without_a_list():
    api = ScriptedApi(
        lists=[{"metadata": {"resourceVersion": "5"}, "items": [route("a", "4")]}],
        watches=[[{"type": "MODIFIED", "object": route("a", "6")}],
                 [{"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "11"}}}], []])
    informer = Informer(api, kinds.HTTPROUTES, None, lambda kind, change: None)
    async with running(informer):
        await until_async(lambda: len(api.watched_from) == 4, timeout=5, description="four watches")
    assert api.watched_from == ["5", "6", "11", "11"] and informer.lists == 1


# ---------------------------------------------------------------------------- against the emulator


@pytest.fixture
async def cached(k8s_api):
    cluster = CachedCluster(patching.Connection(server=k8s_api.url), watch_seconds=5)
    cluster.start()
    assert await cluster.synced(timeout=10)
    yield cluster
    await cluster.close()


def web_route(weight: int = 0) -> dict:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "web"},
            "spec": {"parentRefs": [{"name": "gw"}],
                     "rules": [{"backendRefs": [{"name": "web-v1", "port": 80, "weight": 100 - weight},
                                                {"name": "web-v2", "port": 80, "weight": weight}]}]}}


async def test_reads_come_from_the_cache_and_changes_wake_who_depends_on_them(k8s_api, cached):
    k8s_api.create(ROUTES, web_route(), "default")
    flag = asyncio.Event()
    cached.interest.register(flag, {("httproutes", "default", "web")})
    await until_async(lambda: cached.cached(kinds.HTTPROUTES, "default", "web")[1], timeout=5,
                      description="the new route in the cache")
    flag.clear()
    before = dict(cached.requests)
    k8s_api.patch(ROUTES, "default", "web", {"spec": {"rules": web_route(30)["spec"]["rules"]}})
    await asyncio.wait_for(flag.wait(), 5)
    got = await cached.get_route("default", "web")
    assert got["spec"]["rules"][0]["backendRefs"][1]["weight"] == 30
    assert await cached.get_service("default", "nothing-here") is None
    assert dict(cached.requests) == before, "no API request for reads the cache answers"


async def test_a_broken_watch_sends_reads_to_the_api_and_the_next_list_catches_up(k8s_api, cached):
    k8s_api.create(ROUTES, web_route(), "default")
    k8s_api.create(ROUTES, {**web_route(), "metadata": {"name": "gone"}}, "default")
    await until_async(lambda: cached.cached(kinds.HTTPROUTES, "default", "gone")[1], timeout=5)
    informer = cached.informers["httproutes"][0]
    fault = k8s_api.faults.inject(method="GET", path=r"/httproutes$", status=503, times=None)
    # The running stream ends within watch_seconds; its renewal fails, and so do the lists.
    await until_async(lambda: not informer.synced.is_set(), timeout=15, description="cache marked unsynced")
    k8s_api.delete(ROUTES, "default", "gone")
    k8s_api.faults.remove(fault)
    assert (await cached.get_route("default", "gone")) is None, "an unsynced cache is not trusted: read from the API"
    await until_async(informer.synced.is_set, timeout=15, description="listed again")
    assert cached.cached(kinds.HTTPROUTES, "default", "gone") == (True, None)
    assert informer.lists >= 2


async def test_a_patch_planned_from_a_stale_copy_is_refused_and_replanned_from_a_fresh_read(k8s_api, cached):
    k8s_api.create(ROUTES, web_route(), "default")
    await until_async(lambda: cached.cached(kinds.HTTPROUTES, "default", "web")[1], timeout=5)
    await cached.stop()  # freeze the cache: from here on it misses every change
    k8s_api.patch(ROUTES, "default", "web", {"metadata": {"labels": {"edited": "by-someone"}}})
    planned_from = []

    def plan(current: dict) -> list[dict]:
        planned_from.append(current["metadata"].get("labels", {}).get("edited"))
        return [{"op": "test", "path": "/metadata/resourceVersion", "value": current["metadata"]["resourceVersion"]},
                {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": 5}]

    write = await cached.update_route("default", "web", plan)
    assert planned_from == [None, "by-someone"], "first from the stale copy, then from the fresh read"
    stored = k8s_api.get(ROUTES, "default", "web")
    assert stored["metadata"]["labels"] == {"edited": "by-someone"}, "the concurrent edit is kept"
    assert stored["spec"]["rules"][0]["backendRefs"][1]["weight"] == 5 and write.written
    assert cached.cached(kinds.HTTPROUTES, "default", "web")[1]["metadata"]["resourceVersion"] == \
        stored["metadata"]["resourceVersion"], "our own write is in the copy at once"


async def test_namespaces_outside_the_watched_ones_are_read_from_the_api(k8s_api):
    k8s_api.create(ROUTES, web_route(), "default")
    cluster = CachedCluster(patching.Connection(server=k8s_api.url), namespaces=["team-a"])
    cluster.start()
    try:
        assert await cluster.synced(timeout=10)
        assert (await cluster.get_route("default", "web"))["metadata"]["name"] == "web"
        assert cluster.reads[("httproutes", "api")] == 1
        assert await cluster.get_route("team-a", "web") is None and cluster.reads[("httproutes", "cache")] == 1
    finally:
        await cluster.close()


async def test_a_kind_the_api_server_does_not_serve_is_logged_once_and_reads_go_to_the_api(caplog):
    class NotServed(ScriptedApi):
        async def request(self, method: str, path: str) -> dict:
            raise errors.NotFound(404, f"GET {path}: the server could not find the requested resource")

    informer = Informer(NotServed([], []), kinds.GRPCROUTES, None, lambda kind, change: None)
    caplog.set_level("INFO", logger="rollouts.caches.informer")
    async with running(informer):
        await until_async(lambda: any("not served" in r.message for r in caplog.records), timeout=5)
    assert not informer.synced.is_set()
    assert [r.levelname for r in caplog.records if "grpcroutes" in r.message] == ["INFO"]
