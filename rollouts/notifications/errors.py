"""Why a notification could not be delivered, shaped by what the notifier does about it.

::

    NotificationError               a notification that was not delivered
    ├── ProviderNotFound            the referenced NotificationProvider does not exist: reported
    │                               once on the Canary as a Warning Event; the rollout goes on
    ├── ProviderInvalid             it exists but cannot be used (bad spec, Secret or key missing)
    └── DeliveryFailed              the chat service refused or never answered (after retries)

None of them is ever raised into a reconciliation: delivery runs in the background and
only logs, counts and (for the first two) posts an Event.
"""

from __future__ import annotations


class NotificationError(Exception):
    """Base of every notification failure."""


class ProviderNotFound(NotificationError):
    """The providerRef names no NotificationProvider."""


class ProviderInvalid(NotificationError):
    """The NotificationProvider cannot be used as it stands."""


class DeliveryFailed(NotificationError):
    """The receiver answered with an error, or not at all, until retries ran out."""

    def __init__(self, message: str, *, status_code: int | None = None, attempts: int = 1):
        super().__init__(message)
        self.status_code = status_code
        self.attempts = attempts
