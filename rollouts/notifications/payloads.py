"""Each service's documented message format, built from one ``Notice``. Pure: data in, JSON out.

Every format says the same thing in the same order (headline, the decision's reason,
then phase, weight, step and release), shaped the way that service documents it:

- Slack incoming webhook: ``text`` (the notification fallback) plus Block Kit ``blocks``
  (header, section, section fields); ``channel``/``username`` only when the provider sets
  them. https://api.slack.com/messaging/webhooks, https://api.slack.com/reference/block-kit/blocks
- Microsoft Teams, through a Workflows "When a Teams webhook request is received" flow:
  a ``message`` with one ``application/vnd.microsoft.card.adaptive`` attachment holding an
  Adaptive Card 1.2 (TextBlock, FactSet). Workflows post Adaptive Cards only; the older
  Office 365 connector MessageCard is retired with the connectors.
  https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using
- Discord execute webhook: ``content`` plus one rich ``embeds`` entry (title, description,
  colour, inline fields, timestamp); ``allowed_mentions`` with no parse types, so text from
  a Canary never pings @everyone. https://discord.com/developers/docs/resources/webhook#execute-webhook
- Google Chat incoming webhook: ``text`` plus ``cardsV2`` (a card with header, a
  textParagraph and decoratedText widgets). https://developers.google.com/workspace/chat/quickstart/webhooks,
  https://developers.google.com/workspace/chat/api/reference/rest/v1/cards
- webhook: Routeshift's own JSON (``CanaryNotification``), documented in docs/notifications.md.

Texts are cut to each service's documented field limits, so a long reason can never make
the service refuse the whole message.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from rollouts.notifications.events import Notice
from rollouts.notifications.model import NotificationEvent, NotificationProviderSpec, ProviderType

API_VERSION = "routeshift.dev/v1alpha1"

_BAD = {NotificationEvent.FAILED, NotificationEvent.ROLLED_BACK}
_GOOD = {NotificationEvent.PROMOTED}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tone(notice: Notice) -> str:
    """bad, good or neutral: the colour each format gives the message."""
    if notice.event in _BAD or notice.warning:
        return "bad"
    return "good" if notice.event in _GOOD else "neutral"


# --------------------------------------------------------------------------- Slack


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn reserves exactly these three characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(notice: Notice, provider: NotificationProviderSpec) -> dict[str, Any]:
    fields = [{"type": "mrkdwn", "text": _clip(f"*{label}*\n{_slack_escape(value)}", 2000)}
              for label, value in notice.facts()]
    body: dict[str, Any] = {
        "text": _clip(_slack_escape(f"{notice.title}: {notice.message}"), 3000),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": _clip(notice.title, 150)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(_slack_escape(notice.message), 3000)}},
            {"type": "section", "fields": fields},
        ],
    }
    if provider.channel:
        body["channel"] = provider.channel
    if provider.username:
        body["username"] = provider.username
    return body


# --------------------------------------------------------------------------- Microsoft Teams

_TEAMS_COLOR = {"bad": "Attention", "good": "Good", "neutral": "Default"}


def msteams(notice: Notice, provider: NotificationProviderSpec) -> dict[str, Any]:
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.2",
        "body": [
            {"type": "TextBlock", "text": notice.title, "size": "Medium", "weight": "Bolder", "wrap": True,
             "color": _TEAMS_COLOR[_tone(notice)]},
            {"type": "TextBlock", "text": notice.message, "wrap": True},
            {"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in notice.facts()]},
        ],
    }
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


# --------------------------------------------------------------------------- Discord

_DISCORD_COLOR = {"bad": 0xED4245, "good": 0x57F287, "neutral": 0x5865F2}


def discord(notice: Notice, provider: NotificationProviderSpec) -> dict[str, Any]:
    embed = {
        "title": _clip(notice.title, 256),
        "description": _clip(notice.message, 4096),
        "color": _DISCORD_COLOR[_tone(notice)],
        "fields": [{"name": label, "value": _clip(value, 1024), "inline": True} for label, value in notice.facts()],
        "timestamp": notice.time.isoformat(),
    }
    body: dict[str, Any] = {"content": _clip(notice.title, 2000), "embeds": [embed],
                            "allowed_mentions": {"parse": []}}
    if provider.username:
        body["username"] = provider.username
    return body


# --------------------------------------------------------------------------- Google Chat


def gchat(notice: Notice, provider: NotificationProviderSpec) -> dict[str, Any]:
    # Card texts accept a small HTML subset: escape what is not markup.
    widgets: list[dict[str, Any]] = [{"textParagraph": {"text": html.escape(notice.message, quote=False)}}]
    widgets += [{"decoratedText": {"topLabel": label, "text": html.escape(value, quote=False)}}
                for label, value in notice.facts()]
    card = {"header": {"title": notice.canary, "subtitle": notice.title.split(": ", 1)[1]},
            "sections": [{"widgets": widgets}]}
    return {"text": _clip(notice.title, 4096),
            "cardsV2": [{"cardId": f"routeshift-{notice.event.value}", "card": card}]}


# --------------------------------------------------------------------------- generic webhook


def webhook(notice: Notice, provider: NotificationProviderSpec) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "CanaryNotification",
        "event": notice.event.value,
        "severity": "warning" if notice.warning else "info",
        "canary": {"namespace": notice.namespace, "name": notice.name},
        "reason": notice.reason,
        "message": notice.message,
        "phase": notice.phase,
        "release": notice.release,
        "step": notice.step,
        "weight": notice.weight,
        "time": notice.time.isoformat(),
    }


FORMATS: dict[ProviderType, Callable[[Notice, NotificationProviderSpec], dict[str, Any]]] = {
    ProviderType.SLACK: slack,
    ProviderType.MSTEAMS: msteams,
    ProviderType.DISCORD: discord,
    ProviderType.GCHAT: gchat,
    ProviderType.WEBHOOK: webhook,
}


def build(notice: Notice, provider: NotificationProviderSpec) -> dict[str, Any]:
    """The JSON body ``provider``'s service expects for ``notice``."""
    return FORMATS[provider.type](notice, provider)
