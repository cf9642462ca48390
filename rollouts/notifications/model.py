"""The notification resources as pydantic models: the NotificationProvider and the Canary's references.

A ``NotificationProvider`` (``notificationproviders.routeshift.dev``, namespaced) says where
messages go and in which service's format: Flagger's AlertProvider, without the proxy. A
Canary subscribes with ``spec.notifications: [{providerRef, events}]``; the controller can
also subscribe every Canary to chosen providers (``--notification-provider``). The CRD is
generated from these classes, like the Canary's (``rollouts.crd``).

Kept apart from ``rollouts.model`` so that the Canary model only gains one field, and so
that this module imports nothing of the controller (``rollouts.model`` imports it).
"""

from __future__ import annotations

import enum
import re

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from analysis import durations
from analysis.model import Duration, SecretKeyRef

KIND = "NotificationProvider"
PLURAL = "notificationproviders"
SINGULAR = "notificationprovider"

_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


class _Spec(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class NotificationEvent(str, enum.Enum):
    """What a rollout did that people want to hear about."""

    STARTED = "started"
    STEP = "step"
    PAUSED = "paused"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolledBack"
    FAILED = "failed"


class ProviderType(str, enum.Enum):
    """The service whose documented message format is sent (Flagger's type names)."""

    SLACK = "slack"
    MSTEAMS = "msteams"
    DISCORD = "discord"
    GCHAT = "gchat"
    WEBHOOK = "webhook"


#: Which optional fields each service has a place for; anything else is a mistake in the manifest.
_CHANNEL_TYPES = {ProviderType.SLACK}
_USERNAME_TYPES = {ProviderType.SLACK, ProviderType.DISCORD}


class AddressSecretRef(_Spec):
    """A Secret in the provider's namespace holding the webhook URL (it contains the credential)."""

    name: str = Field(min_length=1, max_length=253, pattern=_DNS_SUBDOMAIN, description="Name of the Secret.")
    key: str = Field(default="address", min_length=1, max_length=253,
                     description="Key holding the URL (default address, as in Flagger).")


class RateLimit(_Spec):
    """At most ``events`` messages per ``interval`` for each Canary; the rest are dropped and counted."""

    events: int = Field(default=10, ge=1, le=1000, description="Messages allowed per interval and Canary.")
    interval: Duration = Field(default="1m", description="Length of the sliding window.")

    def seconds(self) -> float:
        return durations.seconds(self.interval)


class NotificationProviderSpec(_Spec):
    """Where notifications go and in which format."""

    type: ProviderType = Field(description="slack, msteams (Workflows webhook, Adaptive Card), discord, gchat "
                               "(Google Chat) or webhook (Routeshift's own JSON).")
    address: str | None = Field(
        default=None, max_length=2048, pattern=r"^https?://",
        description="The incoming webhook URL. Prefer secretRef: the URL is the credential.")
    secret_ref: AddressSecretRef | None = Field(
        default=None, description="A Secret (in this namespace) holding the URL; instead of address.")
    channel: str | None = Field(
        default=None, max_length=80, description="Slack only: channel override (honoured by legacy incoming "
        "webhooks; an app's webhook always posts to the channel it was created for).")
    username: str | None = Field(default=None, min_length=1, max_length=80,
                                 description="Slack and Discord: the name the message is posted under.")
    signing_secret_ref: SecretKeyRef | None = Field(
        default=None, description="webhook only: HMAC-SHA256 key (a Secret key in this namespace); the body is "
        "signed in X-Routeshift-Signature as the rollout webhooks are.")
    timeout_seconds: float = Field(default=5.0, gt=0, le=60, description="Timeout of one attempt.")
    retries: int = Field(default=2, ge=0, le=5,
                         description="Further attempts after a transient failure (no answer, HTTP 5xx or 429).")
    rate_limit: RateLimit = Field(default_factory=RateLimit, description="Messages allowed per Canary.")

    @model_validator(mode="after")
    def _coherent(self) -> NotificationProviderSpec:
        if (self.address is None) == (self.secret_ref is None):
            raise ValueError("set exactly one of address and secretRef")
        if self.channel is not None and self.type not in _CHANNEL_TYPES:
            raise ValueError(f"channel is for slack, not {self.type.value}")
        if self.username is not None and self.type not in _USERNAME_TYPES:
            raise ValueError(f"username is for slack and discord, not {self.type.value}")
        if self.signing_secret_ref is not None and self.type is not ProviderType.WEBHOOK:
            raise ValueError(f"signingSecretRef is for webhook, not {self.type.value}")
        return self


class ProviderRef(_Spec):
    """A NotificationProvider, in the Canary's namespace unless another is named."""

    name: str = Field(min_length=1, max_length=253, pattern=_DNS_SUBDOMAIN, description="Its name.")
    namespace: str | None = Field(default=None, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                                  description="Its namespace; defaults to the Canary's.")

    def key(self, default_namespace: str) -> tuple[str, str]:
        return (self.namespace or default_namespace, self.name)


class Notification(_Spec):
    """Send this Canary's events to a provider."""

    provider_ref: ProviderRef = Field(description="The NotificationProvider.")
    events: list[NotificationEvent] = Field(
        default_factory=list, max_length=6,
        description="started, step, paused, promoted, rolledBack, failed; empty: all of them.")


# --------------------------------------------------------------------------- cluster-wide


Subscription = tuple[tuple[str, str], frozenset[NotificationEvent]]  # ((namespace, name), events; empty = all)

_SUBSCRIPTION = re.compile(r"^(?P<namespace>[a-z0-9-]+)/(?P<name>[a-z0-9.-]+)(:(?P<events>[A-Za-z,]*))?$")


def parse_subscription(text: str) -> Subscription:
    """``NAMESPACE/NAME[:EVENT,EVENT]``: a provider that hears every Canary (all events without a list)."""
    match = _SUBSCRIPTION.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not NAMESPACE/NAME[:EVENT,...]")
    names = [e for e in (match["events"] or "").split(",") if e]
    try:
        events = frozenset(NotificationEvent(e) for e in names)
    except ValueError:
        known = ", ".join(e.value for e in NotificationEvent)
        raise ValueError(f"{text!r}: events must be among {known}") from None
    return (match["namespace"], match["name"]), events


def parse_subscriptions(texts: list[str] | tuple[str, ...], environment: str | None = None) -> list[Subscription]:
    """Every ``--notification-provider`` flag, then the space- or ;-separated environment value."""
    entries = list(texts) + [part for part in re.split(r"[;\s]+", environment or "") if part]
    return [parse_subscription(entry) for entry in entries]

