"""A scripted metrics backend on a loopback socket, shared by the provider tests.

Each test queues the answers the backend gives, in the documented response shapes of the
API under test, and reads back the requests it received (method, path, query, headers,
body) to check what the provider sent.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web


@dataclasses.dataclass
class Answer:
    status: int = 200
    body: str = ""
    content_type: str = "application/json"
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200, **headers: str) -> Answer:
        return cls(status, json.dumps(payload), "application/json", dict(headers))


@dataclasses.dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class Backend:
    """Answers every request from the queue, or with ``respond(request)`` once it is empty."""

    def __init__(self) -> None:
        self.url = ""
        self.answers: list[Answer] = []
        self.respond: Callable[[Received], Answer] | None = None
        self.received: list[Received] = []

    def answer(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    async def handle(self, request: web.Request) -> web.Response:
        query: dict[str, list[str]] = {}
        for key, value in request.query.items():
            query.setdefault(key, []).append(value)
        seen = Received(request.method, request.path, query, dict(request.headers), await request.read())
        self.received.append(seen)
        if self.answers:
            answer = self.answers.pop(0)
        elif self.respond is not None:
            answer = self.respond(seen)
        else:
            answer = Answer(500, "no answer scripted", "text/plain")
        return web.Response(status=answer.status, text=answer.body, content_type=answer.content_type,
                            headers=answer.headers)


async def serve(server: Backend):
    """Serve ``server`` on 127.0.0.1 on a free port until the generator is closed."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    try:
        yield server
    finally:
        await runner.cleanup()
