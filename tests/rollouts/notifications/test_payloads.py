"""Each provider type sends its service's documented message format, over real HTTP.

The expected bodies are written out in full from each service's documentation (cited in
``rollouts.notifications.payloads`` and docs/notifications.md): Slack's incoming webhook
with Block Kit, a Teams Workflows webhook with an Adaptive Card attachment, Discord's
execute-webhook body with an embed, Google Chat's text plus cardsV2, and our own JSON.
"""

from __future__ import annotations

import json

import pytest

from analysis import webhooks
from chat_receiver import notify, provider, secret
from rollouts.notifications.model import NotificationEvent, parse_subscription

FAILED = notify(NotificationEvent.FAILED, reason="RollingBack", warning=True, phase="RollingBack", step=1,
                weight=0, message="analysis failed at step 20%: success rate 80 < 99 & p99 320ms")
FACTS = [("Phase", "RollingBack"), ("Canary weight", "0%"), ("Step", "2/5"), ("Release", "v2")]

SLACK = {
    "text": "default/web: failed: analysis failed at step 20%: success rate 80 &lt; 99 &amp; p99 320ms",
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "default/web: failed"}},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": "analysis failed at step 20%: success rate 80 &lt; 99 &amp; p99 320ms"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in FACTS]},
    ],
    "channel": "#releases",
    "username": "routeshift",
}
TEAMS = {
    "type": "message",
    "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.2",
            "body": [
                {"type": "TextBlock", "text": "default/web: failed", "size": "Medium", "weight": "Bolder",
                 "wrap": True, "color": "Attention"},
                {"type": "TextBlock", "text": "analysis failed at step 20%: success rate 80 < 99 & p99 320ms",
                 "wrap": True},
                {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in FACTS]},
            ],
        },
    }],
}
DISCORD = {
    "content": "default/web: failed",
    "embeds": [{
        "title": "default/web: failed",
        "description": "analysis failed at step 20%: success rate 80 < 99 & p99 320ms",
        "color": 0xED4245,
        "fields": [{"name": k, "value": v, "inline": True} for k, v in FACTS],
        "timestamp": "2026-03-01T12:00:00+00:00",
    }],
    "allowed_mentions": {"parse": []},
    "username": "routeshift",
}
GCHAT = {
    "text": "default/web: failed",
    "cardsV2": [{
        "cardId": "routeshift-failed",
        "card": {
            "header": {"title": "default/web", "subtitle": "failed"},
            "sections": [{"widgets": [
                {"textParagraph": {"text": "analysis failed at step 20%: success rate 80 &lt; 99 &amp; p99 320ms"}},
                *({"decoratedText": {"topLabel": k, "text": v}} for k, v in FACTS),
            ]}],
        },
    }],
}
WEBHOOK = {
    "apiVersion": "routeshift.dev/v1alpha1",
    "kind": "CanaryNotification",
    "event": "failed",
    "severity": "warning",
    "canary": {"namespace": "default", "name": "web"},
    "reason": "RollingBack",
    "message": "analysis failed at step 20%: success rate 80 < 99 & p99 320ms",
    "phase": "RollingBack",
    "release": "v2",
    "step": 1,
    "weight": 0,
    "time": "2026-03-01T12:00:00+00:00",
}


@pytest.mark.parametrize(("type_", "extra", "expected"), [
    pytest.param("slack", {"channel": "#releases", "username": "routeshift"}, SLACK, id="slack"),
    pytest.param("msteams", {}, TEAMS, id="msteams"),
    pytest.param("discord", {"username": "routeshift"}, DISCORD, id="discord"),
    pytest.param("gchat", {}, GCHAT, id="gchat"),
    pytest.param("webhook", {}, WEBHOOK, id="webhook"),
])
async def test_each_service_receives_its_documented_payload(api, setup, receiver, type_, extra, expected):
    provider(api, "chat", type=type_, address=f"{receiver.url}/{type_}", **extra)
    setup.notifier.subscriptions.append(parse_subscription("default/chat"))
    await setup.send(None, FAILED)
    (request,) = receiver.at(f"/{type_}")
    assert request.json == expected
    assert request.headers["content-type"] == "application/json; charset=UTF-8"
    assert setup.counter("sent", "default/chat") == 1


async def test_a_generic_webhook_is_signed_like_the_rollout_webhooks(api, setup, receiver):
    secret(api, "hook-key", hmac="s3cret")
    provider(api, "audit", type="webhook", address=f"{receiver.url}/audit",
             signingSecretRef={"name": "hook-key", "key": "hmac"})
    setup.notifier.subscriptions.append(parse_subscription("default/audit"))
    await setup.send(None, FAILED)
    (request,) = receiver.at("/audit")
    assert webhooks.verify(request.body, "s3cret", request.headers["x-routeshift-signature"])
    assert not webhooks.verify(request.body, "other", request.headers["x-routeshift-signature"])
    assert request.headers["x-routeshift-event"] == "failed"


@pytest.mark.parametrize(("type_", "limits"), [
    # (path into the body, the service's documented maximum length)
    pytest.param("slack", [(("blocks", 0, "text", "text"), 150), (("blocks", 1, "text", "text"), 3000),
                           (("text",), 3000)], id="slack"),
    pytest.param("discord", [(("embeds", 0, "title"), 256), (("embeds", 0, "description"), 4096)],
                 id="discord"),
])
async def test_long_texts_are_cut_to_the_service_limits(api, setup, receiver, type_, limits):
    long_name = "x" * 300
    setup.canary = setup.canary.__class__(namespace="default", name=long_name[:253], generation=1, spec={},
                                          annotations={})
    provider(api, "chat", type=type_, address=f"{receiver.url}/{type_}")
    setup.notifier.subscriptions.append(parse_subscription("default/chat"))
    await setup.send(None, notify(message="y" * 10_000))
    (request,) = receiver.at(f"/{type_}")
    body = request.json
    for path, limit in limits:
        value = body
        for part in path:
            value = value[part]
        assert len(value) <= limit, (path, len(value))
        assert value.endswith("…")
    assert len(json.dumps(body)) < 20_000
