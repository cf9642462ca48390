"""The demo load generator offers a steady rate and counts replies per release and status."""

import asyncio

import pytest
from aiohttp.test_utils import TestServer

from routeshift.demo.app import Behaviour, build_app
from routeshift.demo.load import LoadGenerator
from routeshift.testing.polling import until_async


@pytest.fixture
async def app_server():
    server = TestServer(build_app(Behaviour("v7", error_rate=0.25), seed=3), host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


async def test_counts_replies_by_version_and_status(app_server):
    load = LoadGenerator(str(app_server.make_url("/")), host="app.example.com", rate=200)
    load.start()
    await until_async(lambda: load.tally.total >= 200, timeout=20)
    await load.stop()
    window = load.tally.take()
    assert window.by_version["v7"] == window.by_status[200] + window.by_status[500]
    assert 0.1 < window.by_status[500] / window.total < 0.4
    assert window.share("v7") == 1.0
    assert load.tally.total == 0, "take() starts a new window"


async def test_unreachable_target_counts_errors_without_raising():
    load = LoadGenerator("http://127.0.0.1:9/", host="x", rate=50, timeout=1)
    load.start()
    await until_async(lambda: load.tally.errors >= 5, timeout=10)
    await load.stop()
    assert load.tally.by_status == {}


@pytest.mark.parametrize("kwargs", [{"rate": 0}, {"rate": 10, "preview_share": 1.5}], ids=str)
def test_invalid_settings_are_rejected(kwargs):
    with pytest.raises(ValueError):
        LoadGenerator("http://127.0.0.1:9/", host="x", **kwargs)


def test_every_nth_request_carries_the_preview_headers():
    load = LoadGenerator("http://127.0.0.1:9/", host="x", rate=10, preview_headers={"X-Canary": "always"},
                         preview_share=0.25)
    sent = [load._headers() for _ in range(8)]
    assert [h.get("X-Canary") for h in sent] == [None, None, None, "always"] * 2
    assert all(h["Host"] == "x" for h in sent)
