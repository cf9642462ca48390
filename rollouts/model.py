"""The Canary resource as pydantic models: the one source of truth for the CRD and the controller.

The CRD's OpenAPI schema is generated from these classes (``rollouts.crd``), the controller
parses ``spec`` and ``status`` through them, and the state machine only ever sees these
types. Keeping spec and status in one module makes a drift between what the API server
accepts and what the controller understands a test failure instead of a production
surprise. JSON names are camelCase; every field has a description because it ends up in
``kubectl explain`` and in the generated docs.

The spec is validated strictly (``extra="forbid"``) so a typo in a manifest is rejected
instead of silently ignored. The status is read leniently (``extra="ignore"``) so that a
controller can still resume from a status written by an older or newer version.
"""

from __future__ import annotations

import datetime
import enum
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass
from pydantic.alias_generators import to_camel

from analysis import durations
from analysis.model import AnalysisSpec, AnalysisState, Duration
from rollouts.notifications.model import Notification
from rollouts import route_kinds
from rollouts.route_kinds import RouteId, RouteKind

GROUP = "routeshift.dev"
VERSION = "v1alpha1"
KIND = "Canary"
PLURAL = "canaries"
SINGULAR = "canary"

#: Progressive steps used when a Canary names neither ``steps`` nor ``stepWeight``.
DEFAULT_STEPS = (5, 10, 20, 50, 100)

#: Decision log entries kept in status: enough to explain a rollout, bounded so that a
#: long-running hold cannot grow the object towards etcd's size limit.
DECISION_LOG_LIMIT = 30

# Kubernetes object names referenced from a Canary (Services, HTTPRoutes) are DNS labels.
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class _Spec(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


# How every part of the status reads and writes: camelCase on the wire, unknown fields ignored.
_STATUS_CONFIG = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class _Status(BaseModel):
    model_config = _STATUS_CONFIG


# The status's many small records (the decision log, conditions) are slotted dataclasses,
# validated and dumped by pydantic like the models around them, rather than models: a model
# instance carries a dict and a set of the fields it was given, 1.2 KB per record against
# 0.3 KB, and every Canary holds up to DECISION_LOG_LIMIT decisions and a condition per type.
# Decisions are never edited once appended, so they are frozen too; conditions are refreshed
# in place (their observed generation) on the working copy a decision makes.
_record = pydantic_dataclass(config=_STATUS_CONFIG, slots=True, frozen=True)
_mutable_record = pydantic_dataclass(config=_STATUS_CONFIG, slots=True)


# --------------------------------------------------------------------------- spec


class BackendRef(_Spec):
    """A Service that serves one version of the application, as referenced by the HTTPRoute."""

    name: str = Field(min_length=1, max_length=63, pattern=_DNS_LABEL, description="Name of the Service.")
    port: int = Field(ge=1, le=65535, description="Service port used in the route's backendRefs.")
    namespace: str | None = Field(
        default=None,
        pattern=_DNS_LABEL,
        description="Namespace of the Service; defaults to the route's. A cross-namespace "
        "reference needs a ReferenceGrant, as for any HTTPRoute backendRef.",
    )

    def key(self, default_namespace: str) -> tuple[str, str]:
        """(namespace, name) with the route's namespace filled in: how refs are compared."""
        return (self.namespace or default_namespace, self.name)


class TargetRef(_Spec):
    """The user's Deployment: workload mode, where a change of its pod template starts a rollout."""

    api_version: str = Field(default="apps/v1", pattern=r"^apps/v1$", description="apps/v1.")
    kind: str = Field(default="Deployment", pattern=r"^Deployment$", description="Deployment.")
    name: str = Field(min_length=1, max_length=63, pattern=_DNS_LABEL, description="Name of the Deployment.")


class ServicePort(_Spec):
    """The port of the Services the controller creates in workload mode (``<name>-primary``, ``<name>-canary``)."""

    name: str | None = Field(
        default=None, min_length=1, max_length=63, pattern=_DNS_LABEL,
        description="The Service the route sends the application's traffic to today: the backendRef that "
        "initialization replaces by the primary and canary Services. Defaults to the targetRef's name.")
    port: int = Field(ge=1, le=65535, description="Service port, used in the route's backendRefs.")
    target_port: int | str | None = Field(
        default=None, description="Container port (number or name) the Services forward to; it must be "
        "declared by a container of the Deployment. Defaults to port.")
    port_name: str = Field(default="http", min_length=1, max_length=15, pattern=_DNS_LABEL,
                           description="Name of the Service port.")
    app_protocol: str | None = Field(default=None, max_length=253, description="appProtocol of the Service port.")

    @model_validator(mode="after")
    def _valid_target_port(self) -> ServicePort:
        port = self.target_port
        if isinstance(port, int) and not 1 <= port <= 65535:
            raise ValueError(f"targetPort {port} is not a port number (1-65535)")
        if isinstance(port, str) and not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", port) or (
                isinstance(port, str) and len(port) > 15):
            raise ValueError(f"targetPort {port!r} is not a container port name (IANA_SVC_NAME, at most 15 chars)")
        return self

    def effective_target_port(self) -> int | str:
        return self.port if self.target_port is None else self.target_port


class RouteRef(_Spec):
    """An existing HTTPRoute or GRPCRoute whose stable/canary backendRef weights the controller moves."""

    name: str = Field(min_length=1, max_length=253, description="Name of the route.")
    namespace: str | None = Field(default=None, description="Namespace of the route; defaults to the Canary's.")
    kind: RouteKind = Field(default=RouteKind.HTTP_ROUTE, description="HTTPRoute (the default) or GRPCRoute "
                            "(gateway.networking.k8s.io/v1).")


class MatchType(str, enum.Enum):
    """How a header or query parameter value is compared (Gateway API match types)."""

    EXACT = "Exact"
    REGULAR_EXPRESSION = "RegularExpression"


class HeaderMatch(_Spec):
    """A request header condition."""

    name: str = Field(min_length=1, max_length=256, description="Header name (case-insensitive).")
    value: str = Field(min_length=1, max_length=4096, description="Value to compare with.")
    type: MatchType = Field(default=MatchType.EXACT, description="Exact or RegularExpression.")


class CookieMatch(_Spec):
    """A cookie that must be present with an exact value; routed as a Cookie header regex."""

    name: str = Field(min_length=1, max_length=256, pattern=r"^[!#-+\--:<-Z^-z|~]+$", description="Cookie name.")
    value: str = Field(min_length=1, max_length=4096, description="Exact cookie value.")


class QueryParamMatch(_Spec):
    """A query parameter condition."""

    name: str = Field(min_length=1, max_length=256, description="Query parameter name (case-sensitive).")
    value: str = Field(min_length=1, max_length=1024, description="Value to compare with.")
    type: MatchType = Field(default=MatchType.EXACT, description="Exact or RegularExpression.")


class RequestMatch(_Spec):
    """Requests that go to the canary; all conditions must hold (AND)."""

    headers: list[HeaderMatch] = Field(default_factory=list, description="Header conditions.")
    cookies: list[CookieMatch] = Field(default_factory=list, description="Cookie conditions.")
    query_params: list[QueryParamMatch] = Field(default_factory=list, description="Query parameter conditions.")

    @model_validator(mode="after")
    def _not_empty(self) -> RequestMatch:
        if not (self.headers or self.cookies or self.query_params):
            # An empty match would send every request to the canary: that is a promotion,
            # not a preview, so refuse it at admission.
            raise ValueError("a request match needs at least one header, cookie or query parameter")
        return self


class StepPause(_Spec):
    """Pause after the step at ``atWeight`` has passed its analysis."""

    at_weight: int = Field(ge=1, le=99, description="Canary weight of the step after which to pause.")
    duration: Duration | None = Field(
        default=None, description="How long to pause; without it the pause waits for a manual resume or promote."
    )


class MirrorStage(_Spec):
    """Mirror live traffic to the canary (RequestMirror filter) before any weight moves."""

    iterations: int = Field(default=1, ge=1, le=1000, description="Successful analysis intervals needed.")


class ProgressiveStrategy(_Spec):
    """Shift weight to the canary in steps, analysing each one."""

    steps: list[Annotated[int, Field(ge=1, le=100)]] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Canary weights in percent, strictly increasing; 100 is appended when missing. "
        "Default 5, 10, 20, 50, 100.",
    )
    step_weight: int | None = Field(
        default=None, ge=1, le=100, description="Step size in percent (instead of steps), up to maxWeight."
    )
    max_weight: int = Field(
        default=100, ge=1, le=100, description="Highest weight reached with stepWeight before the promotion to 100."
    )
    pauses: list[StepPause] = Field(default_factory=list, description="Timed or manual pauses after chosen steps.")
    mirror: MirrorStage | None = Field(default=None, description="A mirroring stage before the first weight step.")

    @model_validator(mode="after")
    def _coherent(self) -> ProgressiveStrategy:
        if self.steps is not None and self.step_weight is not None:
            raise ValueError("set either steps or stepWeight, not both")
        if self.steps is not None:
            if any(b <= a for a, b in zip(self.steps, self.steps[1:])):
                raise ValueError(f"steps must be strictly increasing: {self.steps}")
        weights = set(self.weights())
        for pause in self.pauses:
            if pause.at_weight not in weights:
                raise ValueError(f"pause atWeight {pause.at_weight} is not one of the steps {sorted(weights)}")
        return self

    def weights(self) -> tuple[int, ...]:
        """The canary weight of every step, always ending with the promotion to 100."""
        if self.steps is not None:
            weights = list(self.steps)
        elif self.step_weight is not None:
            weights = list(range(self.step_weight, self.max_weight + 1, self.step_weight))
        else:
            weights = list(DEFAULT_STEPS)
        if not weights or weights[-1] != 100:
            weights.append(100)
        return tuple(weights)


class BlueGreenStrategy(_Spec):
    """Analyse the idle canary through a preview match, then swap all traffic in one write."""

    preview: RequestMatch = Field(description="Requests that reach the canary while it is analysed.")
    iterations: int = Field(default=1, ge=1, le=1000, description="Successful analysis intervals before the swap.")


class ABTestingStrategy(_Spec):
    """Send matching requests 100% to the canary for N intervals, then promote or roll back."""

    match: RequestMatch = Field(description="Requests (e.g. a beta-tester cookie) that go to the canary.")
    iterations: int = Field(default=1, ge=1, le=1000, description="Successful analysis intervals before promotion.")


class StrategyKind(str, enum.Enum):
    PROGRESSIVE = "Progressive"
    BLUE_GREEN = "BlueGreen"
    AB_TESTING = "ABTesting"


class Strategy(_Spec):
    """How traffic moves; set at most one of the three (progressive with default steps when none)."""

    progressive: ProgressiveStrategy | None = Field(default=None, description="Weighted steps (the default).")
    blue_green: BlueGreenStrategy | None = Field(default=None, description="Preview then atomic swap.")
    ab_testing: ABTestingStrategy | None = Field(default=None, description="Match-based A/B testing.")

    @model_validator(mode="after")
    def _one(self) -> Strategy:
        chosen = [x for x in (self.progressive, self.blue_green, self.ab_testing) if x is not None]
        if len(chosen) > 1:
            raise ValueError("set only one of progressive, blueGreen, abTesting")
        return self

    @property
    def kind(self) -> StrategyKind:
        if self.blue_green is not None:
            return StrategyKind.BLUE_GREEN
        if self.ab_testing is not None:
            return StrategyKind.AB_TESTING
        return StrategyKind.PROGRESSIVE


class CanarySpec(_Spec):
    """What to roll out, where, and how."""

    route_ref: RouteRef | None = Field(default=None,
                                       description="The route (HTTPRoute or GRPCRoute) to shift traffic on.")
    route_refs: list[RouteRef] = Field(
        default_factory=list, max_length=32, description="Several routes moved together (with or instead of routeRef)."
    )
    stable: BackendRef | None = Field(
        default=None, description="The Service that serves live traffic before the release (Service form; "
        "set stable and canary, or targetRef).")
    canary: BackendRef | None = Field(default=None, description="The Service that serves the new release (Service form).")
    target_ref: TargetRef | None = Field(
        default=None, description="Workload form, instead of stable/canary: the Deployment whose pod template "
        "changes start rollouts. The controller runs the live version as <name>-primary and the target as "
        "the canary, behind Services <name>-primary and <name>-canary.")
    service: ServicePort | None = Field(default=None, description="Ports of the Services created in workload form.")
    track_configs: bool = Field(
        default=False, description="Workload form: a change of a ConfigMap or Secret the target's Pods reference "
        "(env, envFrom, volumes) is a new revision too, rolled out like a template change. The primary reads "
        "copies named <name>-primary, refreshed on promotion. An object annotated "
        "routeshift.dev/config-tracking: disabled is not tracked. Detected at the next poll.")
    release: str | None = Field(
        default=None,
        max_length=253,
        description="The release being rolled out (an image tag, a commit). Changing it starts a rollout; "
        "a pipeline triggers one with a single patch of this field. Service form only: in workload form "
        "the release is the revision of the target's pod template.",
    )
    strategy: Strategy = Field(default_factory=Strategy, description="How traffic moves.")
    sticky_sessions: bool = Field(
        default=False, description="Keep a user on the version they were first sent to: the controller writes a "
        "cookie sessionPersistence (Gateway API, experimental) on the route rules it shifts, and removes it when "
        "the Canary is deleted. A rollback sets the canary's weight to 0; gateways that re-pick a session whose "
        "backend has weight 0 (Routeshift's proxy does) move its users back. Sticky users skew the observed "
        "split towards the weights at the time they arrived (docs/sticky-sessions.md).")
    analysis: AnalysisSpec | None = Field(
        default=None, description="Metrics and webhooks judging each step; without it each step dwells one minute."
    )
    paused: bool = Field(default=False, description="Hold the rollout where it is (no traffic moves).")
    progress_deadline_seconds: int = Field(
        default=600, ge=1, description="Roll back when a step makes no progress for this long."
    )
    acceptance_timeout_seconds: int = Field(
        default=30,
        ge=1,
        description="How long to wait for route parents that do not report observedGeneration before "
        "treating new weights as applied (with a warning condition).",
    )
    undo_window_seconds: int = Field(
        default=3600, ge=0, description="How long after a success an undo may flip traffic back."
    )
    notifications: list[Notification] = Field(
        default_factory=list, max_length=16, description="Chat notifications: NotificationProviders that hear of "
        "this Canary's events (started, step, paused, promoted, rolledBack, failed). A missing provider is "
        "reported as a Warning Event; the rollout goes on.")

    @model_validator(mode="after")
    def _coherent(self) -> CanarySpec:
        if self.route_ref is None and not self.route_refs:
            raise ValueError("set routeRef or routeRefs")
        if self.target_ref is not None:
            if self.stable is not None or self.canary is not None:
                raise ValueError("set either targetRef (workload form) or stable and canary (Service form), not both")
            if self.service is None:
                raise ValueError("targetRef needs service: the port of the Services the controller creates")
            if self.release is not None:
                raise ValueError("release is set by the controller in workload form: it is the revision of "
                                 "the target's pod template; change the Deployment to start a rollout")
        else:
            if self.stable is None or self.canary is None:
                raise ValueError("set stable and canary (Service form), or targetRef (workload form)")
            if self.service is not None:
                raise ValueError("service goes with targetRef: in Service form the Services are yours")
            if self.track_configs:
                raise ValueError("trackConfigs goes with targetRef: in Service form a release starts with spec.release")
            if (self.stable.namespace, self.stable.name) == (self.canary.namespace, self.canary.name):
                raise ValueError("stable and canary must be different Services")
        self._expressible_on_every_route()
        if self.progress_deadline_seconds <= self.interval_seconds():
            # Every analysed step dwells one interval: a shorter deadline would fail them all.
            raise ValueError(f"progressDeadlineSeconds ({self.progress_deadline_seconds}) must exceed the "
                             f"analysis interval ({self.interval_seconds():g}s)")
        return self

    def _expressible_on_every_route(self) -> None:
        # The match rule goes on every route: refuse at parse time what one of their kinds cannot say.
        match = (self.strategy.ab_testing.match if self.strategy.ab_testing is not None
                 else self.strategy.blue_green.preview if self.strategy.blue_green is not None else None)
        for ref in ([self.route_ref] if self.route_ref else []) + list(self.route_refs):
            why = route_kinds.unexpressible_match(ref.kind, query_params=bool(match and match.query_params))
            if why is not None:
                raise ValueError(f"{ref.kind.value} {ref.name}: {why}")

    def routes(self, default_namespace: str) -> tuple[RouteId, ...]:
        """Every referenced route, namespace filled in, de-duplicated, in spec order."""
        refs = ([self.route_ref] if self.route_ref else []) + list(self.route_refs)
        seen: dict[RouteId, None] = {}
        for ref in refs:
            seen[RouteId(ref.namespace or default_namespace, ref.name, ref.kind)] = None
        return tuple(seen)

    def interval_seconds(self) -> float:
        """Analysis interval; also the dwell of a step when there is no analysis."""
        return durations.seconds(self.analysis.interval if self.analysis else "1m")


# --------------------------------------------------------------------------- status


class Phase(str, enum.Enum):
    """Where a Canary is, in Flagger's words (plus Paused and RollingBack)."""

    INITIALIZING = "Initializing"
    INITIALIZED = "Initialized"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    WAITING_PROMOTION = "WaitingPromotion"
    PROMOTING = "Promoting"
    FINALISING = "Finalising"
    SUCCEEDED = "Succeeded"
    ROLLING_BACK = "RollingBack"
    FAILED = "Failed"
    TERMINATING = "Terminating"
    TERMINATED = "Terminated"


#: Phases in which a rollout is running and owns the route's weights.
ACTIVE_PHASES = frozenset(
    {Phase.PROGRESSING, Phase.PAUSED, Phase.WAITING_PROMOTION, Phase.PROMOTING, Phase.FINALISING, Phase.ROLLING_BACK}
)


class ConditionStatus(str, enum.Enum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


@_mutable_record
class Condition:
    """A Kubernetes-style condition."""

    type: str = Field(description="Ready, Reconciling, Stalled (kstatus), Promoted, Analysis, RouteAccepted or Paused.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(description="CamelCase machine-readable reason.")
    message: str = Field(default="", description="Human-readable detail.")
    last_transition_time: datetime.datetime | None = Field(default=None, description="When status last changed.")
    observed_generation: int | None = Field(default=None, description="Canary generation this was computed for.")


class Weights(_Status):
    """Intended weights of the stable and canary backendRefs."""

    stable: int = Field(ge=0, le=100, description="Stable backend weight.")
    canary: int = Field(ge=0, le=100, description="Canary backend weight.")


@_record
class MetricRecord:
    """One metric's judgement in a decision log entry."""

    metric: str = Field(description="Metric name.")
    verdict: str = Field(description="Successful, Failed, Inconclusive or Error.")
    reason: str = Field(default="", description="Why.")
    value: float | None = Field(default=None, description="Measured value.")
    bound: str | None = Field(default=None, description="The bound it was judged against.")
    sample_size: int | None = Field(default=None, description="Requests behind the value.")
    min_sample_size: int | None = Field(default=None, description="Requests needed.")


@_record
class DecisionRecord:
    """One decision of the controller, for a person reading ``kubectl describe``."""

    time: datetime.datetime = Field(description="When it was decided.")
    phase: Phase = Field(description="Phase after the decision.")
    step: int = Field(description="Step index (0-based) after the decision.")
    weight: int = Field(description="Intended canary weight after the decision.")
    verdict: str | None = Field(default=None, description="Analysis verdict that led to it, if any.")
    reason: str = Field(description="One line saying why.")
    metrics: list[MetricRecord] = Field(default_factory=list, description="Per-metric values behind the verdict.")


class RoutingRecord(_Status):
    """The routes and backends of the last valid spec the controller acted on.

    Derivable from the spec as long as the spec parses. It is kept because deleting a
    Canary must hand traffic back even when someone edited the spec into a shape that no
    longer validates: then this is all the controller knows about which routes it shaped.
    """

    routes: list[RouteRef] = Field(default_factory=list, description="The routes, namespace filled in.")
    stable: BackendRef = Field(description="The stable backend of that spec.")
    canary: BackendRef = Field(description="The canary backend of that spec (its mirror filter is recognised by it).")


class FailedRevision(_Status):
    """A workload revision that was rolled back: what a person needs to find the bad change."""

    revision: str = Field(description="Pod template hash of the revision.")
    images: dict[str, str] = Field(default_factory=dict, description="Container name -> image of that revision.")
    reason: str = Field(default="", description="Why it was rolled back.")
    time: datetime.datetime | None = Field(default=None, description="When the rollback was decided.")


class AdoptedRoute(_Status):
    """The backendRefs initialization replaced in one route, kept to restore it exactly on deletion."""

    namespace: str = Field(description="Namespace of the route.")
    name: str = Field(description="Name of the route.")
    kind: RouteKind = Field(default=RouteKind.HTTP_ROUTE, description="HTTPRoute or GRPCRoute.")
    original_refs: list[dict[str, Any]] = Field(
        default_factory=list, description="The replaced backendRefs as the user wrote them, in rule order.")


class WorkloadStatus(_Status):
    """Workload form: what the controller knows about the Deployments it runs (nothing derivable)."""

    revision: str | None = Field(default=None, description="Pod template hash the primary runs (last promoted).")
    images: dict[str, str] = Field(default_factory=dict, description="Container name -> image the primary runs.")
    canary_images: dict[str, str] = Field(default_factory=dict, description="Images of the revision rolled out.")
    replicas: int | None = Field(default=None, ge=0, description="Replicas of the target when adopted; the "
                                 "primary and the canary run this many.")
    canary_ready: bool = Field(default=False, description="The canary revision became ready in this rollout.")
    adopted_routes: list[AdoptedRoute] = Field(default_factory=list, description="Route backendRefs replaced.")
    failed: FailedRevision | None = Field(default=None, description="The last revision rolled back.")


class CanaryStatus(_Status):
    """Everything the controller needs to resume after a restart; nothing derivable."""

    phase: Phase = Field(default=Phase.INITIALIZING, description="Where the Canary is.")
    message: str = Field(default="", description="The latest decision's reason.")
    observed_generation: int | None = Field(default=None, description="Spec generation last acted on.")
    release: str | None = Field(default=None, description="Release of the current or last rollout.")
    step: int = Field(default=0, ge=0, description="Index of the current step of the plan.")
    step_count: int = Field(default=0, ge=0, description="Number of steps in the plan.")
    step_progress: str = Field(default="", description="'step/steps' for printer columns.")
    weights: Weights | None = Field(default=None, description="Intended weights.")
    canary_weight: int = Field(default=0, description="Intended canary weight (printer column).")
    iterations: int = Field(default=0, ge=0, description="Successful analysis intervals in the current step.")
    weight_override: int | None = Field(default=None, description="Weight held by a manual set-weight.")
    manual_pause: bool = Field(
        default=False, description="Held until resume or promote: by the pause operation, or by an analysis hold "
        "that expired without enough evidence (see pausedReason).")
    paused_reason: str | None = Field(
        default=None, description="Why manualPause holds the rollout, CamelCase: PauseOperation or "
        "AnalysisHoldExpired. Set and cleared together with manualPause.")
    paused_message: str | None = Field(default=None, description="The same, in one human-readable line.")
    pre_rollout_passed: bool = Field(default=False, description="Pre-rollout webhooks passed for this rollout.")
    promotion_confirmed: bool = Field(
        default=False, description="Confirm-promotion webhooks passed (or promote-full was asked)."
    )
    result: str | None = Field(
        default=None, description="How the last rollout ended or is ending: succeeded, failed, aborted, undone."
    )
    step_started_at: datetime.datetime | None = Field(default=None, description="When the step's weights were written.")
    step_settled_at: datetime.datetime | None = Field(
        default=None, description="When the route accepted the step's weights; the dwell starts here."
    )
    next_analysis_at: datetime.datetime | None = Field(default=None, description="When the next interval is judged.")
    last_progress_at: datetime.datetime | None = Field(default=None, description="Start of the progress deadline.")
    rollout_started_at: datetime.datetime | None = Field(default=None, description="When the rollout began.")
    finished_at: datetime.datetime | None = Field(default=None, description="When the rollout ended.")
    last_verdict: str | None = Field(default=None, description="Latest analysis verdict (printer column).")
    analysis_state: AnalysisState | None = Field(default=None, description="Analysis memory between intervals.")
    live_backend: BackendRef | None = Field(default=None, description="Backend serving all traffic when idle.")
    previous_backend: BackendRef | None = Field(default=None, description="Backend an undo flips back to.")
    routing: RoutingRecord | None = Field(
        default=None, description="Routes and backends of the last valid spec: what a deletion restores when "
        "the spec no longer parses.")
    workload: WorkloadStatus | None = Field(default=None, description="Workload form only: revisions and "
                                            "Deployments.")
    handled_operations: dict[str, str] = Field(
        default_factory=dict, description="Manual operation annotation values already acted on."
    )
    conditions: list[Condition] = Field(
        default_factory=list, description="Ready, Reconciling and Stalled as kstatus readers (Flux, Argo CD, kubectl "
        "wait) expect them, exactly one True (docs/gitops-health.md); Promoted, Analysis, RouteAccepted, Paused.")
    decisions: list[DecisionRecord] = Field(
        default_factory=list, description=f"The last {DECISION_LOG_LIMIT} decisions, oldest first."
    )

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)


def parse_spec(raw: dict) -> CanarySpec:
    """Parse a Canary's ``spec``; raises pydantic.ValidationError when it is invalid."""
    return CanarySpec.model_validate(raw)


def recorded_spec(status: CanaryStatus) -> CanarySpec | None:
    """A spec rebuilt from ``status.routing``: enough to hand traffic back, nothing more.

    Only deletion uses it, when the Canary's own spec no longer parses. It has no
    analysis, webhooks or strategy: those do not matter for restoring the live backend
    and removing the controller's own rules. None when the status recorded nothing usable.
    """
    routing = status.routing
    if routing is None:
        return None
    try:
        return CanarySpec(route_refs=list(routing.routes), stable=routing.stable, canary=routing.canary)
    except ValueError:  # pydantic.ValidationError: a hand-edited status, nothing to trust
        return None


def parse_status(raw: dict | None) -> CanaryStatus:
    """Parse a Canary's ``status``; an absent or foreign status starts from scratch."""
    return CanaryStatus.model_validate(raw or {})


_DECISION = TypeAdapter(DecisionRecord)


class DecisionDumps:
    """The dumped form of each record of one Canary's decision log, kept from one status write
    to the next.

    The log is most of the status, and a write adds one to three records to a log of up to
    DECISION_LOG_LIMIT: dumping all of them at every write was 7 % of the controller's CPU at
    500 Canaries. Records are frozen and only appended, so a record that is the very object
    dumped last time dumps the same. The records are held with their dumps, so that no other
    object can take the identity of one while it is known here. The dumped dicts are shared by
    successive patch bodies: nothing may edit them.
    """

    def __init__(self) -> None:
        self._held: list[tuple[DecisionRecord, dict]] = []

    def dump(self, decisions: list[DecisionRecord]) -> list[dict]:
        known = {id(record): dumped for record, dumped in self._held}
        held = [(record, known.get(id(record)) or _dump_decision(record)) for record in decisions]
        self._held = held
        return [dumped for _, dumped in held]


def _dump_decision(record: DecisionRecord) -> dict:
    return _DECISION.dump_python(record, by_alias=True, mode="json", exclude_none=True)


def dump_status(status: CanaryStatus, decisions: DecisionDumps | None = None) -> dict:
    """The status as a JSON merge patch body (RFC 7386).

    Cleared fields of objects stay in as ``null``: in a merge patch that deletes them, so a
    held ``weightOverride`` or a finished ``stepSettledAt`` cannot linger from an older
    write. Lists are replaced whole by a merge patch and stored as sent, so inside them
    ``null`` would be stored literally (and fail the schema): there, unset fields are
    left out instead. ``decisions``: the Canary's :class:`DecisionDumps`, when its caller
    keeps them between writes.
    """
    # Two dumps by pydantic's serializer (compiled) and a walk over the few objects outside any
    # list are several times cheaper than one walk over every decision in Python, and this runs
    # at every status write. The decision log, most of the status, is a list dumped apart.
    full = status.model_dump(by_alias=True, mode="json", exclude={"decisions"})
    lean = status.model_dump(by_alias=True, mode="json", exclude_none=True, exclude={"decisions"})
    full["decisions"] = lean["decisions"] = (decisions or DecisionDumps()).dump(status.decisions)
    return _lists_from(full, lean)


def _lists_from(full: dict, lean: dict) -> dict:
    """``full`` with every list (at any depth outside lists) taken from ``lean``."""
    for key, value in full.items():
        if isinstance(value, list):
            full[key] = lean[key]
        elif isinstance(value, dict):
            _lists_from(value, lean[key])
    return full
