"""A real target server and a real loadtester, both on 127.0.0.1 ephemeral ports.

The target answers like a service under test (``status`` and ``delay`` are set per test)
and records every request it receives, so tests count what arrived rather than what the
loadtester says it sent. The state machine builders of ``tests/rollouts`` are made
importable for the decision-log test (the suite runs with ``--import-mode=importlib``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import pathlib
import re
import sys

import httpx
import pytest
from aiohttp import web

from routeshift.loadtester import allowlist, server, spec
from routeshift.testing.polling import until_async

_ROLLOUT_BUILDERS = pathlib.Path(__file__).parent.parent / "rollouts"
if str(_ROLLOUT_BUILDERS) not in sys.path:
    sys.path.insert(0, str(_ROLLOUT_BUILDERS))


@dataclasses.dataclass
class Target:
    url: str
    status: int = 200
    delay: float = 0.0
    answering: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)  # clear it to hold every answer
    received: list[tuple[str, str, dict[str, str], bytes]] = dataclasses.field(default_factory=list)


async def _serve(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


@pytest.fixture
async def target():
    """``target.url`` answers ``target.status`` after ``target.delay`` seconds (and once ``target.answering``
    is set) and records each request."""
    state = Target(url="")
    state.answering.set()

    async def answer(request: web.Request) -> web.Response:
        state.received.append((request.method, request.path, dict(request.headers), await request.read()))
        if state.delay:
            await asyncio.sleep(state.delay)  # the target's latency, not a wait in the test
        await state.answering.wait()
        return web.Response(status=state.status, text="target")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner, port = await _serve(app)
    state.url = f"http://127.0.0.1:{port}/work"
    yield state
    state.answering.set()
    await runner.cleanup()


@pytest.fixture
async def loadtester(target):
    """``await loadtester(**settings)`` → the base URL of a running loadtester (stopped after the test).

    It depends on ``target`` so that it stops first: a run still sending would otherwise hold
    the target's shutdown until its connections time out.
    """
    runners: list[web.AppRunner] = []

    async def start(*, allow: tuple[str, ...] = ("127.0.0.1/32",), limits: spec.Limits | None = None,
                    max_running: int = 10, secret: bytes | None = None) -> str:
        settings = server.Settings(allow=allowlist.AllowList.parse(allow), limits=limits or spec.Limits(),
                                   max_running=max_running, secret=secret)
        runner, port = await _serve(server.build_app(settings))
        runners.append(runner)
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def _running_generators(url: str) -> float:
    async with httpx.AsyncClient(trust_env=False) as client:
        text = (await client.get(url + "/metrics")).text
    return float(re.search(r"^routeshift_loadtester_running_generators (\S+)$", text, re.M).group(1))


@pytest.fixture
def runs_in_progress():
    """``await runs_in_progress(url)``: the loadtester's own count of runs in progress, from its /metrics."""
    return _running_generators


@pytest.fixture
def all_finished():
    """``await all_finished(url)`` returns once the loadtester at ``url`` has no run in progress."""

    async def none_running(url: str) -> None:
        async def idle() -> bool:
            return await _running_generators(url) == 0

        await until_async(idle, timeout=30, description="every load run finished")

    return none_running
