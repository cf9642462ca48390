"""The canary state machine: (spec, status, observations, now) -> (new status, actions).

Pure and clock-free, so every path is a table test and a restarted controller makes the
same decision as the one that died. The loop for every step of the plan is the same:
make the routes carry the step's traffic, wait until their parents accept the new
generation (or until the acceptance timeout for implementations that omit
``observedGeneration``), dwell one analysis interval, then act on the verdict:
Successful advances, Inconclusive and Error hold, Failed rolls back in one write. A step
that makes no progress within ``progressDeadlineSeconds`` rolls back too.

Manual operations (``rollouts.operations``) are applied first, then a changed
``spec.release`` starts a rollout, then the current phase runs. Each branch leaves a
one-line reason in the decision log (``rollouts.journal``).
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping

from analysis.model import WebhookSpec, WebhookType
from analysis.verdicts import IntervalVerdict, Verdict
from rollouts import actions, health, manual, model, operations, routes, steps
from rollouts.journal import Journal
from rollouts.model import ConditionStatus as C, Phase
from rollouts.observations import Acceptance, GateOutcome, Observations

# Phases in which the plan's current step drives the route.
_STEPPING = manual.STEPPING
# Phases between rollouts, where a new release may start.
_IDLE = frozenset({Phase.INITIALIZED, Phase.SUCCEEDED, Phase.FAILED})
# How the decision log says the controller did not act; the next decision that acts says so.
_NOT_ACTING, _INVALID_SPEC = "not acting: ", "invalid spec: "


@dataclasses.dataclass(frozen=True)
class Decision:
    status: model.CanaryStatus
    actions: tuple[actions.Action, ...]


def decide(spec: model.CanarySpec, status: model.CanaryStatus, observations: Observations, *,
           now: datetime.datetime) -> Decision:
    """Decide what to do next. ``now`` is the only notion of time."""
    return Decision(*_Machine(spec, status, observations, now).run())


def reject(status: model.CanaryStatus, message: str, *, generation: int, now: datetime.datetime) -> Decision:
    """The decision for a spec that does not even parse: Stalled=True, an Event, no traffic moves."""
    journal = Journal(None, status, now=now)
    journal.status.observed_generation = generation
    if journal.record_health(wanted_release=None, problem=("InvalidSpec", message)):
        journal.event("InvalidSpec", message, warning=True)
    journal.log(f"{_INVALID_SPEC}{message}")
    return Decision(*journal.decision())


def abandon(status: model.CanaryStatus, problem: str, *, owner: str, now: datetime.datetime) -> Decision:
    """Deletion of a Canary whose spec does not parse and whose status recorded no routing.

    Nothing says which routes to restore, so nothing is written. The finalizer must not
    hold the Canary forever for that, but the person deleting it must learn that the
    routes may still send traffic to the canary and carry the controller's rules.
    """
    journal = Journal(None, status, now=now)
    if status.phase == Phase.TERMINATED:
        pass  # said already: kopf may run the delete handler once more from an older event
    elif status.live_backend is None:
        journal.transition(Phase.TERMINATED, "never moved traffic: nothing to restore", event_reason="Terminated")
    else:
        journal.transition(
            Phase.TERMINATED,
            f"deleted with an invalid spec ({problem}) and no routes recorded in status: traffic was NOT restored "
            f"to {status.live_backend.name}; set its HTTPRoute weights by hand and remove rules named "
            f"{routes.owned_rule_prefix(owner)}* and RequestMirror filters to the canary",
            event_reason="TrafficNotRestored", warning=True)
    return Decision(*journal.decision())


def plan_of(spec: model.CanarySpec) -> tuple[steps.Step, ...]:
    return steps.plan(spec)


def current_step(spec: model.CanarySpec, status: model.CanaryStatus) -> steps.Step:
    plan = steps.plan(spec)
    return plan[min(status.step, len(plan) - 1)]


def interval_due(spec: model.CanarySpec, status: model.CanaryStatus, now: datetime.datetime) -> bool:
    """True when the current step has settled, needs analysis, and its interval has elapsed."""
    if status.phase != Phase.PROGRESSING or spec.paused or status.manual_pause or status.weight_override is not None:
        return False
    if steps.required_intervals(current_step(spec, status)) == 0:
        return False
    return status.next_analysis_at is not None and now >= status.next_analysis_at


def analysis_due(spec: model.CanarySpec, status: model.CanaryStatus, now: datetime.datetime) -> bool:
    """True when the adapter should ask analysis for this interval's verdict."""
    return interval_due(spec, status, now) and bool(spec.analysis and spec.analysis.metrics)


def quiet(spec: model.CanarySpec, status: model.CanaryStatus, *, generation: int,
          annotations: Mapping[str, str]) -> bool:
    """True when a decision cannot change anything: an idle Canary with nothing new to act on.

    The adapter skips observing (and the API calls that costs) for such Canaries; between
    releases that is nearly all of them.
    """
    return (status.phase in _IDLE and status.observed_generation == generation
            and status.routing is not None  # a status from before status.routing: record it once
            and status.condition(health.STALLED) is not None  # nor Ready/Reconciling/Stalled yet: write them
            and not (spec.release and spec.release != status.release)
            and not operations.pending(annotations, status.handled_operations))


def due_times(spec: model.CanarySpec, status: model.CanaryStatus) -> list[datetime.datetime]:
    """The moments at which the passing of time alone can change the next decision.

    The end of the dwell (``next_analysis_at``, also when a refused gate is asked again),
    the acceptance timeout and the progress deadline of the current step, and the end of a
    timed pause. Everything else a decision waits for is a change of some object (the route's
    status, a Deployment, the Canary itself), which wakes the Canary through a watch. The
    adapter sleeps until the earliest of these still ahead, so a Canary that only waits is
    not reconciled at every poll. Past moments are included: the caller skips them.
    """
    times = [status.next_analysis_at]
    if status.step_started_at is not None:
        times += [status.step_started_at + datetime.timedelta(seconds=spec.acceptance_timeout_seconds),
                  status.step_started_at + datetime.timedelta(seconds=spec.progress_deadline_seconds)]
    if status.last_progress_at is not None:
        times.append(status.last_progress_at + datetime.timedelta(seconds=spec.progress_deadline_seconds))
    step = current_step(spec, status)
    if isinstance(step, steps.PauseStep) and step.seconds is not None and status.step_settled_at is not None:
        times.append(status.step_settled_at + datetime.timedelta(seconds=step.seconds))
    return [time for time in times if time is not None]


def gates_due(spec: model.CanarySpec, status: model.CanaryStatus, now: datetime.datetime) -> tuple[WebhookSpec, ...]:
    """The gating webhooks the adapter should call before the next ``decide``."""
    hooks = spec.analysis.webhooks if spec.analysis else []
    if not hooks or status.phase not in _STEPPING:
        return ()
    due: set[WebhookType] = set()
    # A gate that said no is asked again once per interval, not on every reconciliation.
    asked_recently = status.next_analysis_at is not None and now < status.next_analysis_at
    if not status.pre_rollout_passed and not asked_recently:
        due.add(WebhookType.PRE_ROLLOUT)
    if (isinstance(current_step(spec, status), steps.PromoteStep) and not status.promotion_confirmed
            and not asked_recently):
        due.add(WebhookType.CONFIRM_PROMOTION)
    if interval_due(spec, status, now):
        due |= {WebhookType.ROLLOUT, WebhookType.ROLLBACK}
    return tuple(hook for hook in hooks if hook.type in due)


class _Machine(manual.ManualOperations):
    def __init__(self, spec: model.CanarySpec, status: model.CanaryStatus, obs: Observations,
                 now: datetime.datetime):
        self.spec = spec
        self.obs = obs
        self.j = Journal(spec, status, now=now)
        self.status = self.j.status
        self.now = now
        self.plan = steps.plan(spec)
        self.rollback_decided = False
        # (reason, message) of what keeps the controller from acting: Stalled, with one Event.
        self.stall: tuple[str, str] | None = None

    # ------------------------------------------------------------------ entry

    def run(self):
        status = self.status
        status.observed_generation = self.obs.generation
        status.step_count = len(self.plan)
        if self.obs.routes:
            # What a deletion needs should the spec stop parsing later (model.recorded_spec).
            status.routing = model.RoutingRecord(
                routes=[model.RouteRef(namespace=r.namespace, name=r.name, kind=r.kind) for r in self.obs.routes],
                stable=self.spec.stable, canary=self.spec.canary)
        if self.obs.deleting:
            self._terminate()
            return self._finish()
        problem = self._problem()
        if problem is not None:
            self.stall = problem
            self.j.log(f"{_NOT_ACTING}{problem[1]}")
            return self._finish()
        if not status.decisions or status.message.startswith((_NOT_ACTING, _INVALID_SPEC)):
            self.j.log("canary is valid")
        for request in operations.pending(self.obs.annotations, status.handled_operations):
            status.handled_operations[request.operation.value] = request.value
            self._operate(request)
        # A rollback or a promotion in flight finishes first; the new release starts after.
        if self.spec.release and self.spec.release != status.release and status.phase not in (
                Phase.ROLLING_BACK, Phase.FINALISING, Phase.TERMINATING):
            self._start(f"release {self.spec.release} detected")
        self._step_phase()
        return self._finish()

    def _finish(self):
        status = self.status
        step = min(status.step, len(self.plan) - 1)
        status.step_progress = f"{step + 1}/{len(self.plan)}"
        self._pause_condition()
        if self.j.record_health(wanted_release=self.spec.release, problem=self.stall) and self.stall:
            self.j.event(*self.stall, warning=True)
        return self.j.decision()

    def _pause_condition(self) -> None:
        """``Paused`` says why the rollout holds, for as long as it does (set once first paused)."""
        status, j = self.status, self.j
        if status.phase != Phase.PAUSED:
            if status.condition("Paused") is not None:
                j.condition("Paused", C.FALSE, "NotPaused")
            return
        step = self.plan[min(status.step, len(self.plan) - 1)]
        if self.spec.paused:
            j.condition("Paused", C.TRUE, "SpecPaused", "paused by spec.paused")
        elif status.manual_pause:
            j.condition("Paused", C.TRUE, status.paused_reason or "PauseOperation",
                        status.paused_message or "paused by the pause operation")
        elif isinstance(step, steps.PauseStep):
            j.condition("Paused", C.TRUE, "PauseStep", f"{steps.describe(step)}: waiting for resume or promote")

    def _problem(self) -> tuple[str, str] | None:
        for route in self.obs.routes:
            if not route.found:
                return "RouteNotFound", f"{route.kind.value} {route.label} not found"
            if not route.rules:
                return "BackendNotInRoute", (f"{route.kind.value} {route.label} has no rule referencing both stable "
                                             f"{self.spec.stable.name} and canary {self.spec.canary.name}")
        if self.obs.missing_services:
            return "BackendNotFound", f"Service {', '.join(self.obs.missing_services)} not found"
        live = self.status.live_backend
        if (live is not None and self.spec.release and self.spec.release != self.status.release
                and self.status.phase in _IDLE and _same(live, self.spec.canary)):
            return "CanaryIsLive", (f"{self.spec.canary.name} serves live traffic: name it stable and the idle "
                                    f"Service canary to roll out release {self.spec.release}")
        return None

    # ------------------------------------------------------------------ phases

    def _step_phase(self) -> None:
        match self.status.phase:
            case Phase.INITIALIZING:
                self._initialize()
            case Phase.PROGRESSING | Phase.PAUSED | Phase.WAITING_PROMOTION | Phase.PROMOTING:
                self._progress(depth=0)
            case Phase.FINALISING:
                self._finalise()
            case Phase.ROLLING_BACK:
                self._rolling_back()
            case Phase.INITIALIZED | Phase.SUCCEEDED | Phase.FAILED | Phase.TERMINATING | Phase.TERMINATED:
                pass  # idle: the route belongs to the user until the next release

    def _initialize(self) -> None:
        self.j.set_weights(0)
        if self.status.step_started_at is None:
            self.status.step_started_at = self.now
        settled, why = self._settle(steps.STABLE_ONLY, timeout_from=self.status.step_started_at)
        if not settled:
            self.j.hold(f"initializing: {why}")
            return
        self.status.live_backend = self.spec.stable
        self.status.step = 0
        self.j.reset_step_clock()
        self.j.transition(Phase.INITIALIZED, f"stable {self.spec.stable.name} serves all traffic; "
                          "waiting for a release", event_reason="Initialized")

    def _start(self, reason: str) -> None:
        status, j = self.status, self.j
        if status.phase in _STEPPING:
            reason = f"{reason}, replacing {status.release} mid-rollout: restarting from the first step"
        status.release = self.spec.release
        status.step = 0
        j.unpause()
        status.weight_override = None
        status.pre_rollout_passed = False
        status.promotion_confirmed = False
        status.analysis_state = None
        status.result = None
        status.finished_at = None
        status.previous_backend = None
        status.live_backend = self.spec.stable
        status.rollout_started_at = self.now
        j.reset_step_clock()
        j.condition("Promoted", C.FALSE, "Progressing", f"rolling out {status.release}")
        plan = ", ".join(steps.describe(s) for s in self.plan)
        j.transition(Phase.PROGRESSING, f"{reason}: plan {plan}", event_reason="RolloutStarted")

    def _progress(self, depth: int) -> None:
        status, j, spec = self.status, self.j, self.spec
        step = self.plan[min(status.step, len(self.plan) - 1)]
        if spec.paused or status.manual_pause:
            # Say the real reason for as long as it holds (an expired analysis hold, not "an operation").
            why = "paused by spec.paused" if spec.paused else status.paused_message or "paused by the pause operation"
            # A paused rollout cannot miss its deadline (_deadline_exceeded); the deadline starts
            # afresh when it resumes. Not refreshed here at every decision: that made every wake
            # of a paused Canary a status write.
            if status.phase != Phase.PAUSED:
                j.transition(Phase.PAUSED, why, event_reason="Paused")
            else:
                j.hold(why)
            return
        if status.phase == Phase.PAUSED and not isinstance(step, steps.PauseStep):
            j.transition(Phase.PROGRESSING, f"resumed at {steps.describe(step)}", event_reason="Resumed")
            status.last_progress_at = self.now  # the progress deadline starts when the pause ends
        if self._deadline_exceeded():
            return
        if any(g.ok for g in self.obs.gate(WebhookType.ROLLBACK.value)):
            hook = next(g for g in self.obs.gates if g.type == WebhookType.ROLLBACK.value and g.ok)
            self._rollback(f"rollback webhook {hook.name} asked for a rollback", result="failed")
            return
        if not status.pre_rollout_passed:
            if not self._gate(WebhookType.PRE_ROLLOUT):
                return
            status.pre_rollout_passed = True
        if status.weight_override is not None:
            self._hold_override()
            return
        if self._catch_up(step):
            return self._progress(depth + 1)
        if isinstance(step, steps.PromoteStep) and not status.promotion_confirmed:
            if not self._gate(WebhookType.CONFIRM_PROMOTION, waiting_phase=Phase.WAITING_PROMOTION):
                return
            status.promotion_confirmed = True
            status.last_progress_at = self.now  # the wait for confirmation is over: the deadline starts now
        if isinstance(step, steps.PromoteStep) and status.phase != Phase.PROMOTING:
            j.transition(Phase.PROMOTING, f"promoting {spec.canary.name} to 100%", event_reason="Promoting")
        traffic = steps.traffic(step)
        j.set_weights(traffic.canary)
        if status.step_started_at is None:
            status.step_started_at = self.now
        settled, why = self._settle(traffic, timeout_from=status.step_started_at)
        if not settled:
            j.hold(f"{steps.describe(step)}: {why}")
            return
        if status.step_settled_at is None:
            # The dwell starts only now; the hold below logs until when it lasts.
            status.step_settled_at = self.now
            status.next_analysis_at = self.now + datetime.timedelta(seconds=spec.interval_seconds())
        match step:
            case steps.PromoteStep():
                self._promoted()
            case steps.PauseStep(seconds=None):
                if status.phase != Phase.PAUSED:
                    j.transition(Phase.PAUSED, f"{steps.describe(step)}: waiting for resume or promote",
                                 event_reason="Paused")
                status.last_progress_at = self.now
            case steps.PauseStep(seconds=seconds):
                until = status.step_settled_at + datetime.timedelta(seconds=seconds)
                if self.now >= until:
                    self._complete(f"{steps.describe(step)} elapsed", depth)
                else:
                    j.hold(f"{steps.describe(step)}: until {until.isoformat()}")
            case steps.WeightStep() | steps.MirrorStep() | steps.MatchStep():
                self._judge(step, depth)

    def _judge(self, step: steps.Step, depth: int) -> None:
        status, j, spec = self.status, self.j, self.spec
        if not interval_due(spec, status, self.now):
            j.hold(f"{steps.describe(step)}: dwelling until {status.next_analysis_at.isoformat()}")
            return
        failed_hooks = [g for g in self.obs.gate(WebhookType.ROLLOUT.value) if not g.ok]
        if len(self.obs.gate(WebhookType.ROLLOUT.value)) < len(j.hooks(WebhookType.ROLLOUT)):
            j.hold(f"{steps.describe(step)}: waiting for rollout webhooks")
            return
        if failed_hooks:
            status.next_analysis_at = self.now + datetime.timedelta(seconds=spec.interval_seconds())
            j.hold(f"{steps.describe(step)}: rollout webhook {failed_hooks[0].name} failed: "
                   f"{failed_hooks[0].reason}", event_reason="WebhookFailed", warning=True)
            return
        verdict = self.obs.verdict
        if verdict is None and not (spec.analysis and spec.analysis.metrics):
            verdict = IntervalVerdict(Verdict.SUCCESSFUL, "no metrics configured: the dwell time passed")
        if verdict is None:
            j.hold(f"{steps.describe(step)}: waiting for the analysis of this interval")
            return
        if self.obs.analysis_state is not None:
            status.analysis_state = self.obs.analysis_state
        status.next_analysis_at = self.now + datetime.timedelta(seconds=spec.interval_seconds())
        passed_hooks = self.obs.gate(WebhookType.ROLLOUT.value)
        if passed_hooks:
            # What the hooks answered (a load test's results, say) belongs beside the verdict.
            j.log(f"{steps.describe(step)}: rollout webhooks passed: {_replies(passed_hooks)}")
        j.record_verdict(verdict)
        match verdict.verdict:
            case Verdict.SUCCESSFUL:
                status.iterations += 1
                needed = steps.required_intervals(step)
                if status.iterations >= needed:
                    self._complete(f"{steps.describe(step)}: analysis {verdict.verdict.value}: {verdict.reason}",
                                   depth, verdict=verdict)
                else:
                    status.last_progress_at = self.now
                    j.log(f"{steps.describe(step)}: interval {status.iterations}/{needed} successful: "
                          f"{verdict.reason}", verdict=verdict)
            case Verdict.FAILED:
                self._rollback(f"analysis failed at {steps.describe(step)}: {verdict.reason}", result="failed",
                               verdict=verdict)
            case Verdict.INCONCLUSIVE if verdict.hold_expired:
                # holdOutcome Inconclusive: too little traffic for too long is a question for a
                # person, not a rollback by the progress deadline. Resume, promote or abort decide.
                reason = (f"{steps.describe(step)}: paused for a person, the hold deadline passed without enough "
                          f"evidence: {verdict.reason}")
                j.pause("AnalysisHoldExpired", reason)
                status.last_progress_at = self.now
                status.phase = Phase.PAUSED
                j.log(reason, verdict=verdict)
                j.event("AnalysisHoldExpired", reason, warning=True)
            case Verdict.INCONCLUSIVE | Verdict.ERROR:
                reason = f"{steps.describe(step)}: holding, analysis {verdict.verdict.value}: {verdict.reason}"
                j.log(reason, verdict=verdict)
                j.actions.append(actions.RecordEvent(actions.EventType.WARNING, "AnalysisHold", reason))

    def _complete(self, reason: str, depth: int, *, verdict: IntervalVerdict | None = None) -> None:
        """The current step is done: move to the next and start moving traffic at once."""
        status, j = self.status, self.j
        nxt = self.plan[min(status.step + 1, len(self.plan) - 1)]
        message = f"{reason}; next: {steps.describe(nxt)}"
        j.log(message, verdict=verdict)  # recorded at the step that completed
        j.event("StepCompleted", message)
        status.step = min(status.step + 1, len(self.plan) - 1)
        j.reset_step_clock()
        if status.phase == Phase.PAUSED:
            status.phase = Phase.PROGRESSING
        if depth < 3:
            self._progress(depth + 1)

    def _promoted(self) -> None:
        status, j = self.status, self.j
        for hook in j.hooks(WebhookType.POST_ROLLOUT):
            j.actions.append(actions.CallWebhook(hook, j.payload(reason="Promoted")))
        status.previous_backend = self.spec.stable
        status.live_backend = self.spec.canary
        j.transition(Phase.FINALISING, f"{self.spec.canary.name} carries all traffic; finalising",
                     event_reason="Finalising")

    def _finalise(self) -> None:
        status, j = self.status, self.j
        status.finished_at = self.now
        status.result = "succeeded"
        j.condition("Promoted", C.TRUE, "Succeeded", f"release {status.release} promoted")
        j.actions.append(actions.RecordRolloutResult("succeeded", j.seconds_since(status.rollout_started_at)))
        j.transition(Phase.SUCCEEDED, f"release {status.release} promoted: {self.spec.canary.name} is live",
                     event_reason="Succeeded")

    def _rollback(self, reason: str, *, result: str, verdict: IntervalVerdict | None = None) -> None:
        """All traffic back to the live backend, in one write per route."""
        status, j = self.status, self.j
        self.rollback_decided = True
        status.phase = Phase.ROLLING_BACK
        status.result = result
        j.unpause()
        status.weight_override = None
        j.reset_step_clock()
        status.step_started_at = self.now
        j.set_weights(0)
        self._write(steps.STABLE_ONLY)
        j.log(reason, verdict=verdict)
        j.event("RollingBack", reason, warning=True)
        for hook in j.hooks(WebhookType.POST_ROLLOUT):
            j.actions.append(actions.CallWebhook(hook, j.payload(reason="RolledBack", message=reason)))

    def _rolling_back(self) -> None:
        status, j = self.status, self.j
        if self.rollback_decided:
            return  # decided in this very call: its write is already queued
        j.set_weights(0)
        settled, why = self._settle(steps.STABLE_ONLY, timeout_from=status.step_started_at)
        expired = j.seconds_since(status.step_started_at) >= self.spec.acceptance_timeout_seconds
        back = self._shaped(steps.STABLE_ONLY)
        if not settled and not (expired and all(r.carries(back) for r in self.obs.routes)):
            j.hold(f"rolling back: {why}")
            return
        status.finished_at = self.now
        status.live_backend = self.spec.stable
        status.previous_backend = None
        j.condition("Promoted", C.FALSE, status.result.capitalize() if status.result else "Failed",
                    f"release {status.release} rolled back")
        j.actions.append(actions.RecordRolloutResult(status.result or "failed",
                                                     j.seconds_since(status.rollout_started_at)))
        j.transition(Phase.FAILED, f"rolled back: {self.spec.stable.name} serves all traffic ({status.result})",
                     event_reason="RolledBack", warning=True)

    def _terminate(self) -> None:
        """Deletion: hand all traffic to the live backend and drop the controller's rules."""
        status, j = self.status, self.j
        if status.phase == Phase.TERMINATED:
            return  # done already: kopf may run the delete handler once more from an older event
        if status.live_backend is None:
            j.transition(Phase.TERMINATED, "never moved traffic: nothing to restore", event_reason="Terminated")
            return
        live_is_canary = _same(status.live_backend, self.spec.canary) and status.phase not in _STEPPING
        traffic = steps.CANARY_ONLY if live_is_canary else steps.STABLE_ONLY
        if status.phase != Phase.TERMINATING:
            source = ""
            if self.obs.invalid_spec is not None:
                source = (f" using the routes and backends recorded in status, as the spec is invalid "
                          f"({self.obs.invalid_spec})")
            j.transition(Phase.TERMINATING, f"deleted: restoring all traffic to {status.live_backend.name}{source}",
                         event_reason="Terminating")
        j.set_weights(traffic.canary)
        present = [r for r in self.obs.routes if r.found and r.rules]
        pending = [r for r in present if not r.carries(traffic)]
        if pending:
            self._write(traffic, only=pending)
            j.hold(f"deleted: waiting for {', '.join(r.label for r in pending)} to carry "
                   f"{status.live_backend.name} 100%")
            return
        restored = f"traffic restored to {status.live_backend.name}"
        gone = [r.label for r in self.obs.routes if not (r.found and r.rules)]
        if not gone:
            j.transition(Phase.TERMINATED, restored, event_reason="Terminated")
            return
        # Nothing to write there, but a person should know those routes were not touched.
        done = f"{restored} on {', '.join(r.label for r in present)}; " if present else ""
        j.transition(Phase.TERMINATED, f"{done}left {', '.join(gone)} alone: not found, or no rule references "
                     f"both {self.spec.stable.name} and {self.spec.canary.name} any more",
                     event_reason="Terminated", warning=True)

    # ------------------------------------------------------------------ helpers

    def _shaped(self, traffic: steps.Traffic) -> steps.Traffic:
        """The traffic with the Canary's session persistence: kept in every phase, dropped on deletion."""
        return dataclasses.replace(traffic, sticky=self.spec.sticky_sessions and not self.obs.deleting)

    def _write(self, traffic: steps.Traffic, *, only=None) -> None:
        traffic = self._shaped(traffic)
        for route in only if only is not None else self.obs.routes:
            self.j.actions.append(actions.SetRouteWeights(
                namespace=route.namespace, name=route.name, stable=self.spec.stable, canary=self.spec.canary,
                stable_weight=traffic.stable, canary_weight=traffic.canary, match=traffic.match,
                mirror=traffic.mirror, sticky=traffic.sticky, kind=route.kind))

    def _settle(self, traffic: steps.Traffic, *, timeout_from: datetime.datetime | None) -> tuple[bool, str]:
        """Write where the routes differ; True once all carry the traffic and are accepted."""
        j = self.j
        traffic = self._shaped(traffic)
        pending = [r for r in self.obs.routes if not r.carries(traffic)]
        if pending:
            self._write(traffic, only=pending)
            return False, f"waiting for {', '.join(r.label for r in pending)} to carry {steps.label(traffic)}"
        for route in self.obs.routes:
            match route.acceptance:
                case Acceptance.REJECTED:
                    j.condition("RouteAccepted", C.FALSE, "Rejected", route.acceptance_message)
                    return False, f"{route.label}: {route.acceptance_message}"
                case Acceptance.PENDING:
                    j.condition("RouteAccepted", C.UNKNOWN, "Pending", route.acceptance_message)
                    return False, f"{route.label}: {route.acceptance_message}"
                case Acceptance.UNREPORTED:
                    waited = j.seconds_since(timeout_from or self.now)
                    if waited < self.spec.acceptance_timeout_seconds:
                        return False, (f"{route.label}: {route.acceptance_message}; assuming accepted after "
                                       f"{self.spec.acceptance_timeout_seconds}s")
                    if j.condition("RouteAccepted", C.UNKNOWN, "ObservedGenerationMissing",
                                   f"{route.label}: {route.acceptance_message}; assumed accepted after "
                                   f"{self.spec.acceptance_timeout_seconds}s"):
                        j.actions.append(actions.RecordEvent(
                            actions.EventType.WARNING, "AcceptanceUnverified",
                            f"{route.label}: {route.acceptance_message}; assumed accepted after timeout"))
        if all(r.acceptance == Acceptance.ACCEPTED for r in self.obs.routes):
            j.condition("RouteAccepted", C.TRUE, "Accepted", "every parent accepted the current generation")
        return True, "route accepted"

    def _gate(self, type_: WebhookType, *, waiting_phase: Phase | None = None) -> bool:
        """True when every hook of this type passed in the observations (or there are none)."""
        hooks = self.j.hooks(type_)
        if not hooks:
            return True
        outcomes = {g.name: g for g in self.obs.gate(type_.value)}
        failing = [f"{h.name}: {outcomes[h.name].reason}" if h.name in outcomes else f"{h.name}: not called yet"
                   for h in hooks if not (h.name in outcomes and outcomes[h.name].ok)]
        if not failing:
            self.j.log(f"{type_.value} webhooks passed" + (f": {_replies(outcomes.values())}" if outcomes else ""))
            return True
        waiting = f"waiting for {type_.value} webhook "
        if outcomes:
            # They were asked and said no: ask again in one interval (see gates_due).
            self.status.next_analysis_at = self.now + datetime.timedelta(seconds=self.spec.interval_seconds())
        elif self.status.message.startswith(waiting) and self.status.next_analysis_at is not None \
                and self.now < self.status.next_analysis_at:
            # Refused within this interval and not asked again yet: keep saying what it answered.
            return False
        reason = f"{waiting}{failing[0]}"
        if waiting_phase is not None and self.status.phase != waiting_phase:
            self.j.transition(waiting_phase, reason, event_reason="WaitingForWebhook")
        else:
            self.j.hold(reason, event_reason="WaitingForWebhook")
        # Waiting for a person's confirmation (waiting_phase) is not a failure to make progress:
        # _deadline_exceeded leaves that phase alone, and the deadline starts afresh once confirmed.
        return False

    def _deadline_exceeded(self) -> bool:
        status = self.status
        waited = self.j.seconds_since(status.last_progress_at)
        if status.phase in (Phase.PAUSED, Phase.WAITING_PROMOTION) or status.weight_override is not None:
            return False  # waiting for a person (or their approval hook), however long that takes
        if status.last_progress_at is None or waited <= self.spec.progress_deadline_seconds:
            return False
        self._rollback(f"progress deadline of {self.spec.progress_deadline_seconds}s exceeded "
                       f"({status.message})", result="failed")
        return True

    def _catch_up(self, step: steps.Step) -> bool:
        """Never regress weights: if the routes are already at a later step's weight, go there.

        This happens when the controller died after patching a route but before its status
        write; the route is the truth about what users already get. Completing a step writes
        the next step's weights in the same decision, so such a route is exactly one step
        ahead; anything else (a new release restarting from the first step) is deliberate.
        """
        nxt = self.status.step + 1
        if not isinstance(step, steps.WeightStep) or nxt >= len(self.plan):
            return False
        observed = {r.canary_weight for r in self.obs.routes}
        later = self.plan[nxt]
        if len(observed) != 1 or not isinstance(later, steps.WeightStep) or observed.pop() != later.weight:
            return False
        weight = later.weight
        self.status.step = nxt
        self.j.reset_step_clock()
        self.j.log(f"routes already carry canary {weight}%: resuming at step {nxt + 1} without lowering it")
        return True

    def _hold_override(self) -> None:
        status, j = self.status, self.j
        traffic = steps.Traffic(canary=status.weight_override)
        j.set_weights(traffic.canary)
        if status.step_started_at is None:
            status.step_started_at = self.now
        settled, why = self._settle(traffic, timeout_from=status.step_started_at)
        # A person chose this weight: no deadline (_deadline_exceeded) until the hold ends, which
        # restarts the step clock.
        j.hold(f"held at canary {status.weight_override}% by set-weight"
               + ("" if settled else f": {why}"))


_same = manual.same_backend


def _replies(outcomes: Iterable[GateOutcome]) -> str:
    """``name: reason`` of each hook outcome, for the decision log (reasons are bounded by analysis.webhooks)."""
    return "; ".join(f"{g.name}: {g.reason}" if g.reason else g.name for g in outcomes)
