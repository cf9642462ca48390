"""Watches served from the event log: resume, 410 Gone, timeoutSeconds, selectors, disconnects.

These run the emulator in the test's own loop with :func:`routeshift.emulator.serve`.
"""

import asyncio
import json

import aiohttp
import pytest

from routeshift.emulator import serve
from routeshift.testing.polling import until_async

CM_URL = "/api/v1/namespaces/default/configmaps"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
async def api():
    async with serve() as running:
        yield running


@pytest.fixture
async def client(api):
    async with aiohttp.ClientSession(api.url, connector=aiohttp.TCPConnector(force_close=True)) as session:
        yield session


async def _create(client, name, labels=None):
    body = {"metadata": {"name": name, "labels": labels or {}}, "data": {"v": "0"}}
    async with client.post(CM_URL, json=body) as rsp:
        assert rsp.status == 201
        return await rsp.json()


async def _patch(client, name, patch):
    async with client.patch(f"{CM_URL}/{name}", json=patch, headers=MERGE) as rsp:
        assert rsp.status == 200
        return await rsp.json()


async def _events(response, count, timeout=5.0):
    events = []
    async with asyncio.timeout(timeout):
        while len(events) < count:
            line = await response.content.readline()
            if not line:
                break
            events.append(json.loads(line))
    return events


async def test_watch_resumed_from_a_version_gets_exactly_the_later_changes(client):
    first = await _create(client, "a")
    version = first["metadata"]["resourceVersion"]
    await _patch(client, "a", {"data": {"v": "1"}})
    await _create(client, "b")

    async with client.get(CM_URL, params={"watch": "true", "resourceVersion": version}) as rsp:
        assert rsp.status == 200
        assert rsp.headers["Content-Type"].startswith("application/json")
        events = await _events(rsp, 2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("MODIFIED", "a"), ("ADDED", "b")]
    assert events[0]["object"]["data"] == {"v": "1"}


async def test_watch_resumed_from_a_compacted_version_gets_410_gone(api, client):
    old = (await _create(client, "a"))["metadata"]["resourceVersion"]
    await _patch(client, "a", {"data": {"v": "1"}})
    api.emulator.compact()

    async with client.get(CM_URL, params={"watch": "true", "resourceVersion": old}) as rsp:
        events = await _events(rsp, 1)
        rest = await rsp.content.read()
    assert events[0]["type"] == "ERROR"
    assert (events[0]["object"]["code"], events[0]["object"]["reason"]) == (410, "Expired")
    assert rest == b"", "the stream ends after the 410"


async def test_watch_without_version_lists_first_then_streams(client):
    await _create(client, "a")
    async with client.get(CM_URL, params={"watch": "true"}) as rsp:
        initial = await _events(rsp, 1)
        await _patch(client, "a", {"data": {"v": "2"}})
        later = await _events(rsp, 1)
    assert initial[0]["type"] == "ADDED"
    assert later[0]["type"] == "MODIFIED" and later[0]["object"]["data"] == {"v": "2"}


async def test_timeout_seconds_ends_the_stream(client):
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with client.get(CM_URL, params={"watch": "true", "timeoutSeconds": "1"}) as rsp:
        async with asyncio.timeout(5):
            assert await rsp.content.read() == b""
    assert 0.9 <= loop.time() - started < 3


async def test_label_selector_filters_watch_including_moves_in_and_out(client):
    start = (await _create(client, "other"))["metadata"]["resourceVersion"]
    params = {"watch": "true", "resourceVersion": start, "labelSelector": "app=web"}
    async with client.get(CM_URL, params=params) as rsp:
        await _create(client, "web", {"app": "web"})
        await _create(client, "db", {"app": "db"})
        await _patch(client, "other", {"metadata": {"labels": {"app": "web"}}})
        await _patch(client, "web", {"metadata": {"labels": {"app": "gone"}}})
        events = await _events(rsp, 3)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "web"), ("ADDED", "other"), ("DELETED", "web")]


async def test_bookmarks_end_the_initial_events(client):
    await _create(client, "a")
    params = {"watch": "true", "sendInitialEvents": "true", "allowWatchBookmarks": "true",
              "resourceVersionMatch": "NotOlderThan"}
    async with client.get(CM_URL, params=params) as rsp:
        events = await _events(rsp, 2)
    assert events[0]["type"] == "ADDED"
    assert events[1]["type"] == "BOOKMARK"
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_watch_ends_when_the_client_disconnects(api, client):
    rsp = await client.get(CM_URL, params={"watch": "true"})
    await until_async(lambda: api.emulator.open_watches == 1, timeout=5)
    rsp.close()
    await until_async(lambda: api.emulator.open_watches == 0, timeout=5,
                      description="the watch handler noticed the disconnect and ended")


async def test_stopping_the_server_ends_open_watches_quickly():
    loop = asyncio.get_running_loop()
    async with serve() as running:
        session = aiohttp.ClientSession(running.url, connector=aiohttp.TCPConnector(force_close=True))
        rsp = await session.get(CM_URL, params={"watch": "true"})
        assert rsp.status == 200
        started = loop.time()
    assert loop.time() - started < 2
    rsp.close()
    await session.close()


async def test_watch_misses_nothing_while_writes_race_the_stream(client):
    # Big objects and a client that does not read yet: the stream blocks on back-pressure
    # mid-batch while more writes land; none of them may be skipped.
    big = "x" * 400_000

    async def create(n):
        async with client.post(CM_URL, json={"metadata": {"name": f"cm-{n}"}, "data": {"v": big}}) as rsp:
            assert rsp.status == 201

    async with client.get(CM_URL, params={"watch": "true", "resourceVersion": "1"}) as rsp:
        for batch in range(4):
            await asyncio.gather(*(create(batch * 10 + n) for n in range(10)))
        events = await _events(rsp, 40)
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert len(events) == 40 and all(e["type"] == "ADDED" for e in events)
    assert versions == sorted(versions)
    assert {e["object"]["metadata"]["name"] for e in events} == {f"cm-{n}" for n in range(40)}
