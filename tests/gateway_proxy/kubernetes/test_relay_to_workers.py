"""The relay between the admin process and a worker, over real pipes in one loop.

The process tests (``test_workers_serve_before_status``) show the outcome; these pin the
protocol: a relist replaces a worker's copy whole, deletions arrive, and a worker acknowledges
nothing before its data socket is open.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from gateway_proxy.kubernetes import catalog as kube_catalog
from gateway_proxy.kubernetes.relay import Fanout, Follower


class _Watched:
    def __init__(self, kind, objects):
        self.kind = kind
        self.objects = objects


def _route(name, version):
    return {"metadata": {"namespace": "default", "name": name, "resourceVersion": str(version)}}


async def _until(predicate):
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.002)
    raise AssertionError("condition did not hold")


@pytest.fixture
def pipes():
    down_read, down_write = os.pipe()
    up_read, up_write = os.pipe()
    return (down_write, up_read), (down_read, up_write)


def test_changes_reach_the_worker_in_order_and_acks_wait_for_serving(pipes):
    async def scenario():
        fanout, follower = Fanout([pipes[0]], timeout=0.2), Follower(*pipes[1])
        changes = []
        await fanout.open()
        task = asyncio.create_task(follower.run(lambda store, keys: changes.append((store.kind, keys))))
        fanout.announce([kube_catalog.ROUTES])
        watched = _Watched(kube_catalog.ROUTES, {("default", "a"): _route("a", 1), ("default", "b"): _route("b", 2)})
        fanout.forward(watched, None)
        watched.objects[("default", "a")] = _route("a", 3)
        del watched.objects[("default", "b")]
        fanout.forward(watched, {("default", "a"), ("default", "b")})
        fanout.forward(watched, set())  # a watch error: nothing to relay
        await _until(lambda: follower.applied == 2)
        store = follower.stores[kube_catalog.ROUTES]
        assert store.objects == {("default", "a"): _route("a", 3)} and store.synced.is_set()
        assert changes == [(kube_catalog.ROUTES, None), (kube_catalog.ROUTES, {("default", "a"), ("default", "b")})]

        watched.objects = {("default", "c"): _route("c", 9)}  # a relist after 410 Gone
        fanout.forward(watched, None)
        await _until(lambda: follower.applied == 3)
        assert store.objects == {("default", "c"): _route("c", 9)}

        follower.ack(3)  # installed, but the data socket is not open yet
        assert await fanout.installed(3) == (0,) and fanout.late == 1
        assert fanout.not_serving() == {"worker 0": "not serving yet"}
        follower.serving()
        assert await asyncio.wait_for(fanout.installed(3), 1) == ()
        assert fanout.not_serving() == {}

        task.cancel()  # the worker exits: its pipe closes, and nobody waits for it any more
        await asyncio.gather(task, return_exceptions=True)
        fanout.forward(watched, {("default", "c")})
        assert await asyncio.wait_for(fanout.installed(fanout.seq), 1) == ()
        fanout.close()

    asyncio.run(scenario())


def test_a_worker_stops_following_when_the_admin_process_is_gone(pipes):
    async def scenario():
        follower = Follower(*pipes[1])
        task = asyncio.create_task(follower.run(lambda store, keys: None))
        os.close(pipes[0][0])  # the admin process's write end
        await asyncio.wait_for(task, 1)
        os.close(pipes[0][1])

    asyncio.run(scenario())
