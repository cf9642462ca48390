"""Which of the state machine's recorded reasons people are notified of, and what a notice says.

The state machine already leaves a Kubernetes Event with a CamelCase reason for every
transition (``rollouts.journal``). Notifications are derived from those same reasons, so a
chat message never tells a different story than ``kubectl describe canary``:

==============  =====================================================================
event           recorded reason
==============  =====================================================================
started         ``RolloutStarted``: a new release began (its plan in the message)
step            ``StepCompleted``: a step passed its analysis or its timed pause
paused          ``Paused`` (spec.paused, the pause operation, a manual pause step) and
                ``AnalysisHoldExpired`` (too little traffic for too long: a person decides)
promoted        ``Succeeded``: the canary serves all traffic
failed          ``RollingBack`` with result ``failed``: analysis failed, the progress
                deadline passed, a rollback webhook asked for it, a canary never got ready
rolledBack      ``RolledBack``: traffic is back on the stable backend (after a failure, an
                abort or an undo)
==============  =====================================================================

An abort is a person's decision, not a failure: it is notified once, as ``rolledBack``.
"""

from __future__ import annotations

import dataclasses
import datetime

from rollouts.notifications.model import NotificationEvent

_BY_REASON = {
    "RolloutStarted": NotificationEvent.STARTED,
    "StepCompleted": NotificationEvent.STEP,
    "Paused": NotificationEvent.PAUSED,
    "AnalysisHoldExpired": NotificationEvent.PAUSED,
    "Succeeded": NotificationEvent.PROMOTED,
    "RolledBack": NotificationEvent.ROLLED_BACK,
}

#: How each event reads as a headline, after the Canary's name.
TITLES = {
    NotificationEvent.STARTED: "rollout started",
    NotificationEvent.STEP: "step completed",
    NotificationEvent.PAUSED: "paused",
    NotificationEvent.PROMOTED: "promoted",
    NotificationEvent.ROLLED_BACK: "rolled back",
    NotificationEvent.FAILED: "failed",
}


def of(reason: str, *, result: str | None) -> NotificationEvent | None:
    """The notified event for a recorded reason, or None when nobody is told about it.

    ``result`` is the status' rollout result when the reason is recorded: it tells a
    failure (``failed``) from an abort or an undo, which all roll back.
    """
    if reason == "RollingBack":
        return NotificationEvent.FAILED if result == "failed" else None
    return _BY_REASON.get(reason)


@dataclasses.dataclass(frozen=True)
class Notice:
    """One event of one Canary, as every provider's payload is built from it."""

    namespace: str
    name: str
    event: NotificationEvent
    reason: str
    message: str
    warning: bool
    phase: str
    release: str | None
    step: int
    steps: int
    weight: int
    time: datetime.datetime

    @property
    def canary(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def title(self) -> str:
        """``shop/web: promoted``: the one line every format leads with."""
        return f"{self.canary}: {TITLES[self.event]}"

    def facts(self) -> list[tuple[str, str]]:
        """The labelled values each card shows under the message, in this order."""
        return [("Phase", self.phase), ("Canary weight", f"{self.weight}%"), ("Step", f"{self.step + 1}/{self.steps}"),
                ("Release", self.release or "-")]
