"""The webhook contract: payload, signature, approval by 2xx, retries of transient failures."""

import json

import httpx
import pytest
import respx

from analysis import WebhookSpec, call_webhook, webhooks

HOOK_URL = "http://hooks.test/gate"
PAYLOAD = {"name": "web", "namespace": "shop", "phase": "Progressing", "weight": 10, "step": 1}


def hook(**fields) -> WebhookSpec:
    return WebhookSpec.model_validate({"name": "gate", "url": HOOK_URL, "retries": 2, **fields})


@respx.mock
async def test_payload_and_headers():
    route = respx.post(HOOK_URL).mock(return_value=httpx.Response(200))
    outcome = await call_webhook(hook(type="confirm-promotion", metadata={"env": "prod", "team": "a"}),
                                 {**PAYLOAD, "metadata": {"team": "b"}})
    assert outcome == webhooks.WebhookOutcome(True, 200, "approved (HTTP 200)", 1)
    request = route.calls.last.request
    assert json.loads(request.content) == {**PAYLOAD, "type": "confirm-promotion", "metadata": {"env": "prod", "team": "b"}}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Routeshift-Webhook"] == "gate"
    assert "X-Routeshift-Signature" not in request.headers


@respx.mock
async def test_signature_is_hmac_sha256_of_the_exact_body():
    route = respx.post(HOOK_URL).mock(return_value=httpx.Response(204))
    outcome = await call_webhook(hook(secretRef={"name": "hooks", "key": "hmac"}), PAYLOAD, secret="k3y")
    assert outcome.ok
    request = route.calls.last.request
    signature = request.headers["X-Routeshift-Signature"]
    assert webhooks.verify(request.content, "k3y", signature)
    assert not webhooks.verify(request.content, "other", signature)
    assert not webhooks.verify(request.content.replace(b"10", b"11"), "k3y", signature)
    # a known vector, so receivers in other languages can check their implementation
    assert webhooks.sign(b'{"a":1}', "k3y") == "sha256=" + __import__("hmac").new(
        b"k3y", b'{"a":1}', "sha256").hexdigest()


@respx.mock
async def test_a_4xx_is_the_receivers_no_and_is_not_retried():
    route = respx.post(HOOK_URL).mock(return_value=httpx.Response(403, text="not approved yet"))
    outcome = await call_webhook(hook(), PAYLOAD)
    assert outcome == webhooks.WebhookOutcome(False, 403, "HTTP 403: not approved yet", 1, "not approved yet")
    assert route.call_count == 1


@respx.mock
async def test_transient_failures_are_retried_until_approved():
    route = respx.post(HOOK_URL).mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(502),
                                                   httpx.Response(200)])
    outcome = await call_webhook(hook(), PAYLOAD, backoff=0.001)
    assert outcome.ok and outcome.attempts == 3
    assert route.call_count == 3


@pytest.mark.parametrize(
    "failure, status, reason, detail",
    [
        pytest.param(httpx.ConnectError("refused"), None, "ConnectError: refused after 3 attempts", "",
                     id="unreachable"),
        pytest.param(httpx.ReadTimeout("slow"), None, "ReadTimeout: slow after 3 attempts", "", id="timeout"),
        pytest.param(httpx.Response(503, text="down"), 503, "HTTP 503: down after 3 attempts", "down",
                     id="server-error"),
        pytest.param(httpx.Response(429), 429, "HTTP 429 after 3 attempts", "", id="throttled"),
    ],
)
@respx.mock
async def test_exhausted_retries_are_a_no_with_the_reason(failure, status, reason, detail):
    route = respx.post(HOOK_URL).mock(side_effect=failure)
    outcome = await call_webhook(hook(), PAYLOAD, backoff=0.001)
    assert outcome == webhooks.WebhookOutcome(False, status, reason, 3, detail)
    assert route.call_count == 3


@respx.mock
async def test_the_hook_timeout_is_applied():
    route = respx.post(HOOK_URL).mock(return_value=httpx.Response(200))
    async with httpx.AsyncClient() as client:
        await call_webhook(hook(timeout="1500ms"), PAYLOAD, client=client)
        assert not client.is_closed  # a caller's client is left open for reuse
    assert route.calls.last.request.extensions["timeout"] == {"connect": 1.5, "read": 1.5, "write": 1.5, "pool": 1.5}


async def test_a_payload_missing_contract_fields_is_a_caller_bug():
    with pytest.raises(ValueError, match=r"lacks \['phase', 'step'\]"):
        await call_webhook(hook(), {"name": "web", "namespace": "shop", "weight": 0})
