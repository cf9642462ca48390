"""A read-only view of a Canary as served: the facts every command derives from the raw object.

The plugin reads Canaries as plain dicts, leniently, because it must keep working against
a controller that is older or newer than itself; the strict pydantic models in
``rollouts.model`` are for the controller and for ``lint``. Everything the views, the
operations and ``wait`` need to know (is the status current, which operations are still
pending, what the plan looks like, why the rollout is holding) is answered here once.

The phase sets mirror ``rollouts.machine`` (a test keeps them in step): the plugin refuses
an operation the controller would reject, so the user hears why at once instead of
finding an ``OperationRejected`` event later. So do the names of the objects a workload-form
Canary (``spec.targetRef``) runs, ``<target>-primary`` and ``<target>-canary``, which
``rollouts.workloads`` defines.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from typing import Any

from rollouts import operations

#: Phases in which a rollout is stepping through its plan; the manual operations act here.
STEPPING = frozenset({"Progressing", "Paused", "WaitingPromotion", "Promoting"})
#: Phases in which nothing moves until the next release or operation.
IDLE = frozenset({"Initialized", "Succeeded", "Failed", "Terminated"})
DEFAULT_STEPS = (5, 10, 20, 50, 100)
DEFAULT_UNDO_WINDOW = 3600
PRIMARY_SUFFIX = "-primary"  # Deployment and Service of the live version, in workload form
CANARY_SUFFIX = "-canary"  # Service selecting the target Deployment's pods


@dataclasses.dataclass(frozen=True)
class MetricLine:
    """One metric's latest judgement, as recorded in the decision log."""

    metric: str
    verdict: str
    value: float | None
    bound: str | None
    sample_size: int | None
    min_sample_size: int | None
    reason: str
    time: str


@dataclasses.dataclass(frozen=True)
class Replicas:
    """A live Deployment's ready and desired replicas, or why there are none to show."""

    ready: int | None = None
    desired: int | None = None
    problem: str = "-"  # "not found", "not readable (HTTP 403)"; "-" when not looked up

    @classmethod
    def of(cls, deployment: dict[str, Any] | None, problem: str = "not found") -> Replicas:
        """From a Deployment as served (None: it could not be read, for ``problem``)."""
        if deployment is None:
            return cls(problem=problem)
        wanted = (deployment.get("spec") or {}).get("replicas")
        ready = (deployment.get("status") or {}).get("readyReplicas")
        # kubectl's READY column: readyReplicas over spec.replicas, which defaults to 1.
        return cls(ready=int(ready or 0), desired=1 if wanted is None else int(wanted), problem="")

    def __str__(self) -> str:
        return self.problem or f"{self.ready}/{self.desired}"


@dataclasses.dataclass(frozen=True)
class Failed:
    """The last revision a workload-form rollout rolled back (``status.workload.failed``)."""

    revision: str
    images: dict[str, str]
    reason: str
    time: str | None


@dataclasses.dataclass(frozen=True)
class Workload:
    """What a workload-form Canary runs: the target, both revisions, live replicas, the last failure.

    The primary runs the last promoted revision (``status.workload.revision``); the revision
    being rolled out is ``status.release`` while it differs from that, run by the target
    Deployment behind ``<target>-canary``. After a rollback the target still holds the
    failed revision (scaled down) until its template changes again.
    """

    target: str
    primary: str
    canary_service: str
    primary_revision: str | None
    primary_images: dict[str, str]
    canary_revision: str | None  # None when no revision other than the primary's is rolled out
    canary_images: dict[str, str]
    canary_state: str  # "rolling out", "rolled back" or "" (no rollout)
    primary_replicas: Replicas
    canary_replicas: Replicas
    failed: Failed | None

    def replicas_line(self) -> str:
        return f"primary {self.primary_replicas}, canary {self.canary_replicas}"


def live_replicas(canary: Canary, read: Callable[[str, str], tuple[dict[str, Any] | None, str]]
                  ) -> dict[str, Replicas]:
    """The replicas of the Deployments a workload-form Canary runs, read with ``read(namespace, name)``
    (``Cluster.deployment``); empty in Service form."""
    return {name: Replicas.of(*read(canary.namespace, name)) for name in canary.deployment_names() or ()}


def images_text(images: dict[str, str]) -> str:
    """``app=ghcr.io/x/app:1.2``, one per container; "-" when none is known."""
    return ", ".join(f"{name}={image}" for name, image in images.items()) or "-"


@dataclasses.dataclass(frozen=True)
class Canary:
    """Accessors over one served Canary object."""

    raw: dict[str, Any]

    # ------------------------------------------------------------------ identity

    @property
    def meta(self) -> dict[str, Any]:
        return self.raw.get("metadata") or {}

    @property
    def name(self) -> str:
        return self.meta.get("name", "")

    @property
    def namespace(self) -> str:
        return self.meta.get("namespace", "")

    @property
    def generation(self) -> int:
        return int(self.meta.get("generation") or 0)

    @property
    def annotations(self) -> dict[str, str]:
        return self.meta.get("annotations") or {}

    @property
    def spec(self) -> dict[str, Any]:
        return self.raw.get("spec") or {}

    @property
    def status(self) -> dict[str, Any]:
        return self.raw.get("status") or {}

    # ------------------------------------------------------------------ workload form

    @property
    def target(self) -> str | None:
        """The target Deployment of a workload-form Canary; None in Service form."""
        return (self.spec.get("targetRef") or {}).get("name") or None

    def backend(self, role: str) -> str:
        """The Service the routes carry for ``role`` (stable or canary), in either form."""
        target = self.target
        if target:
            return target + (PRIMARY_SUFFIX if role == "stable" else CANARY_SUFFIX)
        return (self.spec.get(role) or {}).get("name") or role

    @property
    def shown_release(self) -> str | None:
        """What is (or was last) rolled out: spec.release, or in workload form the revision in status."""
        return self.status_release if self.target else self.release

    def deployment_names(self) -> tuple[str, str] | None:
        """(primary, target): the Deployments whose replicas the views show; None in Service form."""
        target = self.target
        return (target + PRIMARY_SUFFIX, target) if target else None

    def workload(self, replicas: dict[str, Replicas] | None = None) -> Workload | None:
        """The workload facts, with the live replicas of the Deployments named by :meth:`deployment_names`."""
        names = self.deployment_names()
        if names is None:
            return None
        primary, target = names
        replicas = replicas or {}
        recorded = self.status.get("workload") or {}
        revision = recorded.get("revision")
        release = self.status_release
        failed_raw = recorded.get("failed") or None
        failed = None
        if failed_raw and failed_raw.get("revision"):
            failed = Failed(revision=str(failed_raw["revision"]), images=dict(failed_raw.get("images") or {}),
                            reason=failed_raw.get("reason") or "", time=failed_raw.get("time"))
        rolling = bool(revision and release and release != revision)
        state = ""
        if rolling:
            rolled_back = failed is not None and failed.revision == release and self.phase in ("Failed", "RollingBack")
            state = "rolled back" if rolled_back else "rolling out"
        return Workload(
            target=target, primary=primary, canary_service=target + CANARY_SUFFIX,
            primary_revision=revision, primary_images=dict(recorded.get("images") or {}),
            canary_revision=release if rolling else None,
            canary_images=dict(recorded.get("canaryImages") or {}) if rolling else {},
            canary_state=state, primary_replicas=replicas.get(primary, Replicas()),
            canary_replicas=replicas.get(target, Replicas()), failed=failed)

    def workload_lines(self, replicas: dict[str, Replicas] | None = None) -> list[str]:
        """The workload facts as lines under ``status``'s summary; none in Service form."""
        found = self.workload(replicas)
        if found is None:
            return []
        primary = (f"primary {found.primary} revision {found.primary_revision or '-'}"
                   + (f" ({images_text(found.primary_images)})" if found.primary_images else ""))
        if found.canary_revision:
            canary = (f"canary revision {found.canary_revision} ({images_text(found.canary_images)}), "
                      f"{found.canary_state}")
        else:
            canary = "canary: no rollout"
        lines = [f"target deployment/{found.target}: {primary}; {canary}",
                 f"replicas (ready/desired): {found.replicas_line()}"]
        if found.failed is not None:
            failed = found.failed
            lines.append(f"last failed revision {failed.revision} ({images_text(failed.images)})"
                         + (f" at {failed.time}" if failed.time else "") + (f": {failed.reason}" if failed.reason else ""))
        return lines

    # ------------------------------------------------------------------ status facts

    @property
    def has_status(self) -> bool:
        return bool(self.status.get("phase"))

    @property
    def phase(self) -> str:
        return self.status.get("phase") or "Pending"

    @property
    def release(self) -> str | None:
        """The release the spec asks for."""
        return self.spec.get("release")

    @property
    def status_release(self) -> str | None:
        """The release of the current or last rollout, as the controller recorded it."""
        return self.status.get("release")

    @property
    def observed_generation(self) -> int | None:
        value = self.status.get("observedGeneration")
        return int(value) if value is not None else None

    @property
    def observed(self) -> bool:
        """The controller has acted on the current spec (not only an older one)."""
        return self.observed_generation is not None and self.observed_generation >= self.generation

    @property
    def step_index(self) -> int:
        return int(self.status.get("step") or 0)

    @property
    def step_count(self) -> int:
        return int(self.status.get("stepCount") or 0) or len(self.plan())

    @property
    def at_last_step(self) -> bool:
        return self.step_index >= self.step_count - 1

    def step_label(self) -> str:
        return self.status.get("stepProgress") or f"{min(self.step_index, self.step_count - 1) + 1}/{self.step_count}"

    @property
    def weights(self) -> tuple[int, int] | None:
        """Intended (stable, canary) weights, or None before the controller set any."""
        weights = self.status.get("weights")
        if not weights:
            return None
        return int(weights.get("stable", 0)), int(weights.get("canary", 0))

    @property
    def weight_override(self) -> int | None:
        value = self.status.get("weightOverride")
        return int(value) if value is not None else None

    @property
    def paused(self) -> bool:
        return bool(self.spec.get("paused")) or bool(self.status.get("manualPause"))

    @property
    def paused_reason(self) -> str | None:
        """Why it is paused, CamelCase, as the Paused condition says (SpecPaused, AnalysisHoldExpired, ...)."""
        condition = self.condition("Paused")
        if condition and condition.get("status") == "True":
            return condition.get("reason")
        if self.spec.get("paused"):
            return "SpecPaused"
        return self.status.get("pausedReason") or ("PauseOperation" if self.status.get("manualPause") else None)

    def condition(self, type_: str) -> dict[str, Any] | None:
        return next((c for c in self.status.get("conditions") or () if c.get("type") == type_), None)

    @property
    def decisions(self) -> list[dict[str, Any]]:
        return list(self.status.get("decisions") or ())

    def pending_operations(self) -> dict[str, str]:
        """Operation annotations whose value the controller has not handled yet."""
        handled = self.status.get("handledOperations") or {}
        return {request.operation.value: request.value
                for request in operations.pending(self.annotations, handled)}

    # ------------------------------------------------------------------ plan

    def plan(self) -> list[str]:
        """A short label per step of the plan, from the spec, for views before any status."""
        strategy = self.spec.get("strategy") or {}
        if strategy.get("blueGreen") is not None:
            return ["preview", "swap 100%"]
        if strategy.get("abTesting") is not None:
            return ["A/B match", "promote 100%"]
        progressive = strategy.get("progressive") or {}
        if progressive.get("steps"):
            weights = [int(w) for w in progressive["steps"]]
        elif progressive.get("stepWeight"):
            step, top = int(progressive["stepWeight"]), int(progressive.get("maxWeight") or 100)
            weights = list(range(step, top + 1, step))
        else:
            weights = list(DEFAULT_STEPS)
        if not weights or weights[-1] != 100:
            weights.append(100)
        labels = ["mirror"] if progressive.get("mirror") else []
        pauses = {int(p.get("atWeight", 0)): p.get("duration") for p in progressive.get("pauses") or ()}
        for weight in weights:
            if weight == 100:
                labels.append("promote 100%")
                break
            labels.append(f"{weight}%")
            if weight in pauses:
                labels.append(f"pause {pauses[weight]}" if pauses[weight] else "pause")
        return labels

    def strategy_name(self) -> str:
        strategy = self.spec.get("strategy") or {}
        if strategy.get("blueGreen") is not None:
            return "BlueGreen"
        if strategy.get("abTesting") is not None:
            return "ABTesting"
        return "Progressive"

    # ------------------------------------------------------------------ analysis and holds

    def latest_metrics(self) -> list[MetricLine]:
        """Each metric's most recent judgement across the decision log, in spec order."""
        latest: dict[str, MetricLine] = {}
        for decision in self.decisions:
            for record in decision.get("metrics") or ():
                latest[record.get("metric", "?")] = MetricLine(
                    metric=record.get("metric", "?"), verdict=record.get("verdict", ""),
                    value=record.get("value"), bound=record.get("bound"), sample_size=record.get("sampleSize"),
                    min_sample_size=record.get("minSampleSize"), reason=record.get("reason", ""),
                    time=decision.get("time", ""))
        order = [m.get("name") for m in (self.spec.get("analysis") or {}).get("metrics") or ()]
        return sorted(latest.values(), key=lambda m: order.index(m.metric) if m.metric in order else len(order))

    def hold_reasons(self) -> list[str]:
        """Why the rollout is not advancing right now, most specific first; nothing when idle."""
        if self.phase in IDLE or not self.has_status:
            return []
        reasons: list[str] = []
        if self.spec.get("paused"):
            reasons.append("spec.paused is true")
        if self.status.get("manualPause"):
            # The controller records why (an expired analysis hold is not the pause operation);
            # controllers before pausedMessage only ever paused manually through the operation.
            reasons.append(self.status.get("pausedMessage") or "paused by the pause operation")
        if self.weight_override is not None:
            reasons.append(f"held at canary {self.weight_override}% by set-weight")
        for metric in self.latest_metrics():
            if metric.verdict in ("Inconclusive", "Error"):
                reasons.append(f"{metric.metric}: {metric.verdict}: {metric.reason}")
        # Ready is False for every rollout under way; Stalled says when it cannot go on.
        for type_, healthy in (("Stalled", "False"), ("RouteAccepted", "True")):
            condition = self.condition(type_)
            if condition and condition.get("status") != healthy:
                reasons.append(f"{type_}={condition.get('status')} {condition.get('reason', '')}: "
                               f"{condition.get('message', '')}".rstrip(": "))
        message = self.status.get("message")
        if message and not any(message in r for r in reasons):
            reasons.append(message)
        return reasons

    def summary(self) -> str:
        """One line: phase, step, weights, release and the latest reason (``status``, ``wait``)."""
        if not self.has_status:
            return f"{self.name}: Pending (the controller has not processed it yet)"
        weights = self.weights
        weight = f", canary {weights[1]}% / stable {weights[0]}%" if weights else ""
        release = f" release {self.status_release}" if self.status_release else ""
        message = self.status.get("message")
        return (f"{self.name}:{release} {self.phase} at step {self.step_label()}{weight}"
                + (f": {message}" if message else ""))

    # ------------------------------------------------------------------ undo window

    def finished_at(self) -> datetime.datetime | None:
        return parse_time(self.status.get("finishedAt"))

    def undo_window(self) -> int:
        return int(self.spec.get("undoWindowSeconds", DEFAULT_UNDO_WINDOW))

    def age(self, now: datetime.datetime) -> str:
        return age(self.meta.get("creationTimestamp"), now)


def parse_time(value: Any) -> datetime.datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def age(timestamp: Any, now: datetime.datetime) -> str:
    """kubectl's short age: 45s, 3m12s, 5h, 2d."""
    moment = parse_time(timestamp)
    if moment is None:
        return "<unknown>"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 600:
        return f"{seconds // 60}m{seconds % 60}s"
    if seconds < 3 * 3600:
        return f"{seconds // 60}m"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def same_backend(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    return bool(a and b) and (a.get("name"), a.get("namespace")) == (b.get("name"), b.get("namespace"))
