"""What the controller saw of the world before a decision, as frozen data.

The kopf adapter gathers these (routes, Services, analysis verdicts, gate webhook
outcomes, annotations) and hands them to ``machine.decide``; decide never fetches
anything itself. That is what makes every branch of the state machine reachable from a
table test, and a restart safe: the same status plus the same observations give the same
decision.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping

from analysis.model import AnalysisState
from analysis.verdicts import IntervalVerdict
from rollouts import steps, workloads
from rollouts.route_kinds import RouteId, RouteKind


class Acceptance(str, enum.Enum):
    """What a route's parents (Gateways) say about its current generation."""

    ACCEPTED = "Accepted"  # every parent: Accepted=True for the current generation
    PENDING = "Pending"  # some parent has only judged an older generation so far
    REJECTED = "Rejected"  # some parent: Accepted=False for the current generation
    UNREPORTED = "Unreported"  # no parents, or a parent omits observedGeneration


@dataclasses.dataclass(frozen=True)
class RouteObservation:
    """One route (HTTPRoute or GRPCRoute) as far as the controller cares about it."""

    namespace: str
    name: str
    found: bool = True
    generation: int | None = None
    # (stable, canary) weights of every rule that references both backends.
    rules: tuple[tuple[int, int], ...] = ()
    match_rules: int = 0  # controller-owned match rules present
    mirrors: int = 0  # rules carrying the controller-owned mirror filter
    acceptance: Acceptance = Acceptance.UNREPORTED
    acceptance_message: str = ""
    kind: RouteKind = RouteKind.HTTP_ROUTE
    sessions: int = 0  # shifted rules carrying the controller's sessionPersistence
    persistent: int = 0  # shifted rules carrying any sessionPersistence (the controller's or the user's)

    def carries(self, traffic: steps.Traffic) -> bool:
        """True when the route already has exactly this traffic shape.

        Sticky traffic is carried when every shifted rule persists sessions, also by the
        user's own sessionPersistence (which the controller leaves alone); non-sticky when
        none carries the controller's.
        """
        if not self.rules:
            return False
        weights = (traffic.stable, traffic.canary)
        return (
            all(rule == weights for rule in self.rules)
            and self.match_rules == (len(self.rules) if traffic.match is not None else 0)
            and self.mirrors == (len(self.rules) if traffic.mirror else 0)
            and (self.persistent == len(self.rules) if traffic.sticky else self.sessions == 0)
        )

    @property
    def route(self) -> RouteId:
        return RouteId(self.namespace, self.name, self.kind)

    @property
    def canary_weight(self) -> int | None:
        """The canary weight when all rules agree on one, else None."""
        weights = {canary for _, canary in self.rules}
        return weights.pop() if len(weights) == 1 else None

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclasses.dataclass(frozen=True)
class GateOutcome:
    """The result of calling one gating webhook (pre-rollout, rollout, confirm-promotion, rollback)."""

    name: str
    type: str
    ok: bool
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class Observations:
    """Everything decide may look at besides spec, status and the time."""

    generation: int
    routes: tuple[RouteObservation, ...]
    annotations: Mapping[str, str] = dataclasses.field(default_factory=dict)
    missing_services: tuple[str, ...] = ()  # "namespace/name" of backend Services not found
    verdict: IntervalVerdict | None = None  # set only when machine.analysis_due said so
    analysis_state: AnalysisState | None = None  # analysis' memory after that verdict
    gates: tuple[GateOutcome, ...] = ()  # outcomes of the hooks machine.gates_due named
    deleting: bool = False
    # Why the Canary's own spec does not parse, when a deletion works from the spec rebuilt
    # from status.routing instead (model.recorded_spec); None otherwise.
    invalid_spec: str | None = None
    # Workload form only: the Deployments, Services and routes as initialization sees them.
    workload: workloads.WorkloadObservation | None = None

    def gate(self, type_: str) -> tuple[GateOutcome, ...]:
        return tuple(g for g in self.gates if g.type == type_)
