"""``--api-connections``: how many requests the controller has in flight to the API server at once."""

from __future__ import annotations

import asyncio

import aiohttp.web
import pytest

from rollouts import patching


def test_the_flag_reaches_the_client_and_defaults_to_the_module_constant(started):
    assert started()["api_connections"] == patching.API_CONNECTIONS
    assert started("--api-connections", "32")["api_connections"] == 32


def test_fewer_than_one_connection_is_refused(started, capsys):
    with pytest.raises(SystemExit) as stopped:
        started("--api-connections", "0")
    assert stopped.value.code == 2
    assert "--api-connections: at least 1" in capsys.readouterr().err


async def test_requests_beyond_the_limit_wait_for_a_connection():
    in_flight, most, release = 0, 0, asyncio.Event()

    async def slow(request: aiohttp.web.Request) -> aiohttp.web.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await release.wait()
        in_flight -= 1
        return aiohttp.web.json_response({"kind": "Status"})

    app = aiohttp.web.Application()
    app.router.add_get("/api/v1/namespaces/default/services/{name}", slow)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    cluster = patching.Cluster(patching.Connection(server=f"http://127.0.0.1:{port}"), connections=3)
    try:
        calls = [asyncio.ensure_future(cluster.get_service("default", f"svc-{n}")) for n in range(8)]
        async with asyncio.timeout(10):
            while in_flight < 3:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # would let a fourth request in, were the limit not held
        assert (in_flight, most) == (3, 3)
        release.set()
        async with asyncio.timeout(10):
            answers = await asyncio.gather(*calls)
        assert answers == [{"kind": "Status"}] * 8
        assert most == 3
    finally:
        await cluster.close()
        await runner.cleanup()
