"""The webhook contract against a real receiver on a loopback socket (aiohttp)."""

import json

import pytest
from aiohttp import web

from analysis import WebhookSpec, call_webhook, webhooks


@pytest.fixture
async def receiver():
    received = []
    answers = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        received.append((dict(request.headers), body))
        status = answers.pop(0) if answers else 200
        return web.Response(status=status, text="ok" if status < 400 else "no")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/hook", received, answers
    await runner.cleanup()


async def test_signed_payload_reaches_a_real_receiver(receiver):
    url, received, _ = receiver
    hook = WebhookSpec(name="load-test", type="pre-rollout", url=url, metadata={"cmd": "hey -z 1m"})
    payload = {"name": "web", "namespace": "shop", "phase": "Initializing", "weight": 0, "step": 0}
    outcome = await call_webhook(hook, payload, secret="s3cret")
    assert outcome.ok and outcome.status_code == 200
    headers, body = received[0]
    assert webhooks.verify(body, "s3cret", headers["X-Routeshift-Signature"])
    assert json.loads(body) == {**payload, "type": "pre-rollout", "metadata": {"cmd": "hey -z 1m"}}


async def test_a_real_receiver_saying_no_then_yes(receiver):
    url, received, answers = receiver
    hook = WebhookSpec(name="gate", type="confirm-promotion", url=url, retries=3)
    payload = {"name": "web", "namespace": "shop", "phase": "Progressing", "weight": 50, "step": 3}
    answers.extend([403])
    refused = await call_webhook(hook, payload)
    assert (refused.ok, refused.status_code, refused.attempts) == (False, 403, 1)
    answers.extend([503, 200])
    approved = await call_webhook(hook, payload, backoff=0.001)
    assert (approved.ok, approved.attempts) == (True, 2)
    assert len(received) == 3
