"""The bookkeeping side of a decision: status mutations, decision log, conditions and events.

Every branch of the state machine must leave a one-line reason in the status decision
log, an Event when something changed, and consistent conditions. Collecting those
chores here keeps ``machine.py`` about *what* to decide; this module is about *recording*
it in a way a person running ``kubectl describe canary`` can follow. Holds are logged
only when their reason changes, so a step that waits for an hour leaves one entry, not
one per reconcile.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

from analysis.model import AnalysisSpec, WebhookType
from analysis.verdicts import IntervalVerdict
from rollouts import actions, health, model
from rollouts.notifications import events as notification_events


def working_copy(status: model.CanaryStatus) -> model.CanaryStatus:
    """A copy that deciding may edit without editing ``status``, at a fraction of a deep copy's cost.

    Deciding assigns fields rather than editing the models they hold (weights, routing,
    backends, analysis state are replaced whole), except for what is copied here: the lists
    and dicts it appends to or updates, the conditions it refreshes in place, and the
    workload record. The decision log's records are only ever appended, never edited. A deep
    copy of the whole status was the largest single cost of a reconciliation at scale
    (``tests/rollouts/test_restarts.py`` checks that a decision leaves its input as it was).
    """
    return status.model_copy(update={
        "decisions": list(status.decisions),
        "conditions": [copy.copy(condition) for condition in status.conditions],
        "handled_operations": dict(status.handled_operations),
        "workload": status.workload.model_copy(deep=True) if status.workload is not None else None,
    })


class Journal:
    """A mutable copy of the status plus the actions decided so far, for one ``decide`` call."""

    def __init__(self, spec: model.CanarySpec | None, status: model.CanaryStatus, *, now: datetime.datetime):
        self.spec = spec
        self.status = working_copy(status)
        self.now = now
        self.actions: list[actions.Action] = []

    # ----------------------------------------------------------------- log and events

    def log(self, reason: str, *, verdict: IntervalVerdict | None = None) -> None:
        """Set the status message and append a decision record (deduplicated for holds)."""
        status = self.status
        status.message = reason
        weight = status.weights.canary if status.weights else 0
        last = status.decisions[-1] if status.decisions else None
        if (verdict is None and last is not None and last.reason == reason and last.phase == status.phase
                and last.step == status.step):
            return
        metrics = [
            model.MetricRecord(
                metric=m.metric, verdict=m.verdict.value, reason=m.reason, value=m.value, bound=m.bound,
                sample_size=m.sample_size, min_sample_size=m.min_sample_size,
            )
            for m in (verdict.metrics if verdict else ())
        ]
        status.decisions.append(model.DecisionRecord(
            time=self.now, phase=status.phase, step=status.step, weight=weight,
            verdict=verdict.verdict.value if verdict else None, reason=reason, metrics=metrics,
        ))
        del status.decisions[:-model.DECISION_LOG_LIMIT]

    def event(self, reason: str, message: str, *, warning: bool = False) -> None:
        kind = actions.EventType.WARNING if warning else actions.EventType.NORMAL
        self.actions.append(actions.RecordEvent(kind, reason, message))
        self.notify(reason, message, warning=warning)

    def hold(self, reason: str, *, event_reason: str = "Waiting", warning: bool = False) -> None:
        """Stay put; log it when the reason is new, and post an Event too unless it is a routine wait.

        Routine waits (for a route to carry its weights, for the gateway to accept them, for
        the dwell to end, for a Deployment to be ready) are the status message and the
        decision log only: as Events they were most of what a rollout posted (three or four
        per step), which buries the transitions in ``kubectl describe`` and loads the API
        server at scale. A warning, or a wait with its own reason (a webhook), is an Event.
        """
        if self.status.message != reason and (warning or event_reason != "Waiting"):
            self.actions.append(actions.RecordEvent(
                actions.EventType.WARNING if warning else actions.EventType.NORMAL, event_reason, reason))
        self.log(reason)

    def transition(self, phase: model.Phase, reason: str, *, event_reason: str, warning: bool = False) -> None:
        self.status.phase = phase
        self.log(reason)
        self.event(event_reason, reason, warning=warning)

    def notify(self, reason: str, message: str, *, warning: bool = False) -> None:
        """Call the spec's ``event`` webhooks about a transition (fire and forget), and tell the
        chat providers when the reason is a notified event (``rollouts.notifications.events``)."""
        for hook in self.hooks(WebhookType.EVENT):
            self.actions.append(actions.CallWebhook(hook, self.payload(reason=reason, message=message)))
        status = self.status
        event = notification_events.of(reason, result=status.result)
        if event is not None:
            self.actions.append(actions.Notify(
                event, reason, message, warning, phase=status.phase.value, release=status.release,
                step=status.step, steps=status.step_count, weight=status.weights.canary if status.weights else 0,
                time=self.now))

    def hooks(self, type_: WebhookType) -> list:
        analysis: AnalysisSpec | None = self.spec.analysis if self.spec else None
        return [hook for hook in (analysis.webhooks if analysis else []) if hook.type == type_]

    def payload(self, **extra: Any) -> dict[str, Any]:
        status = self.status
        return {
            "phase": status.phase.value,
            "release": status.release,
            "step": status.step,
            "weight": status.weights.canary if status.weights else 0,
            **extra,
        }

    # ----------------------------------------------------------------- conditions

    def condition(self, type_: str, state: model.ConditionStatus, reason: str, message: str = "") -> bool:
        """Set a condition; True when its status, reason or message changed."""
        conditions = self.status.conditions
        current = self.status.condition(type_)
        if current is not None and (current.status, current.reason, current.message) == (state, reason, message):
            current.observed_generation = self.status.observed_generation
            return False
        transition = self.now if current is None or current.status != state else current.last_transition_time
        new = model.Condition(
            type=type_, status=state, reason=reason, message=message, last_transition_time=transition,
            observed_generation=self.status.observed_generation,
        )
        if current is None:
            conditions.append(new)
        else:
            conditions[conditions.index(current)] = new
        return True

    def record_health(self, *, wanted_release: str | None, problem: tuple[str, str] | None = None) -> bool:
        """Ready, Reconciling and Stalled for the status as decided (``rollouts.health``).

        True when Stalled now holds for a reason or message it did not hold for before: the
        moment to tell a person about a problem, once.
        """
        verdict = health.assess(self.status, wanted_release=wanted_release, problem=problem)
        changed = {type_: self.condition(type_, state, verdict.reason, verdict.message)
                   for type_, state in verdict.conditions()}
        return verdict.holds == health.STALLED and changed[health.STALLED]

    def record_verdict(self, verdict: IntervalVerdict) -> None:
        self.status.last_verdict = verdict.verdict.value
        state = {
            "Successful": model.ConditionStatus.TRUE,
            "Failed": model.ConditionStatus.FALSE,
        }.get(verdict.verdict.value, model.ConditionStatus.UNKNOWN)
        self.condition("Analysis", state, verdict.verdict.value, verdict.reason)
        if verdict.metrics:
            self.actions.append(actions.RecordVerdict(verdict))

    def pause(self, reason: str, message: str) -> None:
        """Hold the rollout until resume or promote, remembering why for every later message."""
        self.status.manual_pause = True
        self.status.paused_reason = reason
        self.status.paused_message = message

    def unpause(self) -> None:
        self.status.manual_pause = False
        self.status.paused_reason = None
        self.status.paused_message = None

    # ----------------------------------------------------------------- derived fields

    def set_weights(self, canary: int) -> None:
        self.status.weights = model.Weights(stable=100 - canary, canary=canary)
        self.status.canary_weight = canary

    def reset_step_clock(self) -> None:
        """Forget the current step's timings: a new step (or a restart of one) begins."""
        status = self.status
        status.iterations = 0
        status.step_started_at = None
        status.step_settled_at = None
        status.next_analysis_at = None
        status.last_progress_at = self.now

    def seconds_since(self, moment: datetime.datetime | None) -> float:
        return (self.now - moment).total_seconds() if moment is not None else 0.0

    def decision(self) -> tuple[model.CanaryStatus, tuple[actions.Action, ...]]:
        """The status and the actions, keeping only the last route write per route.

        Several branches may ask for a route shape in one decision (an abort, then the
        rollback phase); only the final shape matters, and one route must get one write.
        """
        last_write = {}
        for index, action in enumerate(self.actions):
            if isinstance(action, actions.SetRouteWeights):
                last_write[action.route] = index
        kept = tuple(a for i, a in enumerate(self.actions)
                     if not isinstance(a, actions.SetRouteWeights) or last_write[a.route] == i)
        return self.status, kept
