"""What the state machine asks the outside world to do, as plain frozen data.

``machine.decide`` never performs I/O: it returns these values and the kopf adapter
carries them out after writing the status. Each action states a desired outcome rather
than a delta (``SetRouteWeights`` names the final weights, not "add 10"), so repeating one
after a crash or a retry is harmless. Data also makes the decisions comparable in table
tests without mocks.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from analysis.model import WebhookSpec
from analysis.verdicts import IntervalVerdict
from rollouts import model


class EventType(str, enum.Enum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclasses.dataclass(frozen=True)
class SetRouteWeights:
    """Make one HTTPRoute carry these weights and exactly these controller-owned additions.

    ``match`` adds a rule per stable/canary rule sending matching requests to the canary
    (A/B testing, blue-green preview); ``mirror`` adds a RequestMirror filter to the
    canary. When either is None/False, the controller's own additions are removed.
    """

    namespace: str
    name: str
    stable: model.BackendRef
    canary: model.BackendRef
    stable_weight: int
    canary_weight: int
    match: model.RequestMatch | None = None
    mirror: bool = False


@dataclasses.dataclass(frozen=True)
class RecordEvent:
    """A Kubernetes Event on the Canary."""

    type: EventType
    reason: str
    message: str


@dataclasses.dataclass(frozen=True)
class CallWebhook:
    """A notification hook (event, post-rollout): called once, its outcome is only logged.

    Gating hooks (pre-rollout, rollout, confirm-promotion, rollback) are not actions: the
    adapter calls the ones ``machine.gates_due`` names and hands their outcomes back in
    the observations, so that decide stays pure.
    """

    hook: WebhookSpec
    payload: dict[str, Any] = dataclasses.field(hash=False, compare=True)


@dataclasses.dataclass(frozen=True)
class RecordVerdict:
    """Export an interval's per-metric values and verdicts as Prometheus metrics."""

    verdict: IntervalVerdict


@dataclasses.dataclass(frozen=True)
class RecordRolloutResult:
    """Count a finished rollout (result: succeeded, failed, undone) and observe its duration."""

    result: str
    duration_seconds: float | None


Action = SetRouteWeights | RecordEvent | CallWebhook | RecordVerdict | RecordRolloutResult
