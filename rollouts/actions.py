"""What the state machine asks the outside world to do, as plain frozen data.

``machine.decide`` never performs I/O: it returns these values and the kopf adapter
carries them out after writing the status. Each action states a desired outcome rather
than a delta (``SetRouteWeights`` names the final weights, not "add 10"), so repeating one
after a crash or a retry is harmless. Data also makes the decisions comparable in table
tests without mocks.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from typing import Any

from analysis.model import WebhookSpec
from analysis.verdicts import IntervalVerdict
from rollouts import model
from rollouts.notifications.model import NotificationEvent
from rollouts.route_kinds import RouteId, RouteKind


class EventType(str, enum.Enum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclasses.dataclass(frozen=True)
class SetRouteWeights:
    """Make one route (HTTPRoute or GRPCRoute) carry these weights and exactly these controller-owned additions.

    ``match`` adds a rule per stable/canary rule sending matching requests to the canary
    (A/B testing, blue-green preview); ``mirror`` adds a RequestMirror filter to the
    canary; ``sticky`` a cookie sessionPersistence on every shifted rule. When any of them is
    None/False, the controller's own additions of that sort are removed.
    """

    namespace: str
    name: str
    stable: model.BackendRef
    canary: model.BackendRef
    stable_weight: int
    canary_weight: int
    match: model.RequestMatch | None = None
    mirror: bool = False
    sticky: bool = False  # the shifted rules carry the controller's sessionPersistence
    kind: RouteKind = RouteKind.HTTP_ROUTE

    @property
    def route(self) -> RouteId:
        return RouteId(self.namespace, self.name, self.kind)


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
class Notify:
    """Tell the subscribed chat providers about a rollout event (``rollouts.notifications``).

    Delivered in the background after the status write, never awaited; the fields are the
    status as decided, so a message never describes an older state than the Canary's.
    """

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


@dataclasses.dataclass(frozen=True)
class RecordRolloutResult:
    """Count a finished rollout (result: succeeded, failed, undone) and observe its duration."""

    result: str
    duration_seconds: float | None


@dataclasses.dataclass(frozen=True)
class ApplyObject:
    """Make this object exist with exactly this spec, labels and owner (workload form).

    ``body`` is the whole desired object (apiVersion, kind, metadata.namespace/name, spec);
    the adapter creates it, or replaces the live one's spec and metadata it owns.
    """

    body: dict[str, Any] = dataclasses.field(hash=False, compare=True)

    @property
    def label(self) -> str:
        meta = self.body["metadata"]
        return f"{self.body['kind']} {meta['namespace']}/{meta['name']}"


@dataclasses.dataclass(frozen=True)
class ScaleDeployment:
    """Set a Deployment's ``spec.replicas`` (the target: up as the canary, down after a rollout)."""

    namespace: str
    name: str
    replicas: int


@dataclasses.dataclass(frozen=True)
class DeleteObject:
    """Delete an object the controller created (a missing one is fine)."""

    api_version: str
    kind: str
    plural: str
    namespace: str
    name: str


@dataclasses.dataclass(frozen=True)
class AdoptRoute:
    """Replace the backendRefs to the app's Service by the primary (all traffic) and canary (none)."""

    namespace: str
    name: str
    app: str  # the Service (in the Canary's namespace) the user's rules send the app's traffic to
    primary: model.BackendRef
    canary: model.BackendRef
    kind: RouteKind = RouteKind.HTTP_ROUTE


@dataclasses.dataclass(frozen=True)
class ReleaseRoute:
    """Put back the user's original backendRefs in place of the primary and canary refs."""

    namespace: str
    name: str
    primary: model.BackendRef
    canary: model.BackendRef
    original: tuple[tuple[int, int, Any], ...] = dataclasses.field(hash=False, compare=True)  # (rule, index, ref)
    kind: RouteKind = RouteKind.HTTP_ROUTE


WorkloadAction = ApplyObject | ScaleDeployment | DeleteObject | AdoptRoute | ReleaseRoute
Action = SetRouteWeights | RecordEvent | CallWebhook | Notify | RecordVerdict | RecordRolloutResult | WorkloadAction
