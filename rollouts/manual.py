"""Manual operations applied inside a decision: pause, resume, promote, abort, undo and friends.

The annotations are parsed in ``rollouts.operations``; this mixin gives each one its
effect on the state machine. It lives apart from ``machine.py`` because the operations
are a separate concern (what a person asked for) from the automatic loop (what the
route and analysis say), and each reads best next to its siblings. Every operation ends
in an Event: ``OperationHandled`` when it took effect, ``OperationRejected`` with the
reason when the phase does not allow it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from rollouts import model, operations, steps
from rollouts.journal import Journal
from rollouts.model import Phase

# Phases in which a rollout's steps can be paused, promoted, skipped or aborted.
STEPPING = frozenset({Phase.PROGRESSING, Phase.PAUSED, Phase.WAITING_PROMOTION, Phase.PROMOTING})


def same_backend(a: model.BackendRef, b: model.BackendRef) -> bool:
    return (a.name, a.namespace) == (b.name, b.namespace)


class ManualOperations:
    """Mixed into the state machine; uses its journal, plan, spec and rollback/start moves."""

    spec: model.CanarySpec
    status: model.CanaryStatus
    j: Journal
    plan: tuple[steps.Step, ...]
    now: datetime.datetime

    _rollback: Callable[..., None]  # all traffic back to stable (provided by the machine)
    _start: Callable[[str], None]  # (re)start the rollout of spec.release

    def _operate(self, request: operations.Request) -> None:
        status, j = self.status, self.j
        op = operations.Operation
        stepping = status.phase in STEPPING
        match request.operation:
            case op.ABORT if stepping:
                self._rollback("aborted by the abort operation", result="aborted")
                j.event("OperationHandled", "abort: rolling back")
            case op.RETRY if status.phase == Phase.FAILED and status.release:
                release = status.release
                status.release = None  # _start re-arms the same release
                self._start(f"retry of release {release}")
                j.event("OperationHandled", f"retry: rolling out {release} again")
            case op.UNDO:
                self._undo()
            case op.PAUSE if stepping:
                if not status.manual_pause:  # already held (an expired analysis hold): keep that reason
                    j.pause("PauseOperation", "paused by the pause operation")
                j.event("OperationHandled", "pause: holding at the current weight")
            case op.RESUME if stepping:
                j.unpause()
                self._release_hold("resume")
            case op.SET_WEIGHT if stepping:
                try:
                    weight = request.weight()
                except ValueError as error:
                    j.event("OperationRejected", f"set-weight {request.value!r}: {error}", warning=True)
                    return
                status.weight_override = weight
                status.step_started_at = None
                j.event("OperationHandled", f"set-weight: holding canary at {weight}% until resume or promote")
            case op.SKIP_STEP if stepping:
                self._skip("skip-step")
            case op.PROMOTE if stepping:
                j.unpause()
                self._skip("promote") if status.weight_override is None else self._release_hold("promote")
            case op.PROMOTE_FULL if stepping:
                j.unpause()
                status.weight_override = None
                status.promotion_confirmed = True
                status.step = len(self.plan) - 1
                j.reset_step_clock()
                j.event("OperationHandled", "promote-full: promoting to 100% now")
                j.log("promote-full: skipping to the promotion")
            case _:
                j.event("OperationRejected", f"{request.operation.value}: not possible in phase "
                        f"{status.phase.value}", warning=True)

    def _skip(self, name: str) -> None:
        status, j = self.status, self.j
        step = self.plan[min(status.step, len(self.plan) - 1)]
        if isinstance(step, steps.PromoteStep):
            j.event("OperationRejected", f"{name}: already at the promotion", warning=True)
            return
        status.step += 1
        j.reset_step_clock()
        j.event("OperationHandled", f"{name}: {steps.describe(step)} done, next "
                f"{steps.describe(self.plan[status.step])}")
        j.log(f"{name}: skipped {steps.describe(step)}")

    def _release_hold(self, name: str) -> None:
        """Resume/promote: end a set-weight hold (never lowering weight) or a manual pause step."""
        status, j = self.status, self.j
        if status.weight_override is not None:
            target = steps.first_step_at_or_above(self.plan, status.weight_override)
            if name == "promote":
                target = steps.first_step_at_or_above(self.plan, status.weight_override + 1)
            status.step = max(status.step, target) if name == "resume" else target
            status.weight_override = None
            j.reset_step_clock()
            j.event("OperationHandled", f"{name}: continuing at {steps.describe(self.plan[status.step])}")
            return
        step = self.plan[min(status.step, len(self.plan) - 1)]
        if isinstance(step, steps.PauseStep) and step.seconds is None and name == "resume":
            self._skip(name)
            return
        j.event("OperationHandled", f"{name}: continuing")

    def _undo(self) -> None:
        status, j = self.status, self.j
        if status.phase != Phase.SUCCEEDED or status.finished_at is None:
            j.event("OperationRejected", f"undo: only after a success (phase {status.phase.value})", warning=True)
            return
        if j.seconds_since(status.finished_at) > self.spec.undo_window_seconds:
            j.event("OperationRejected", f"undo: the window of {self.spec.undo_window_seconds}s has closed",
                    warning=True)
            return
        if not (status.previous_backend and same_backend(status.previous_backend, self.spec.stable)
                and status.live_backend and same_backend(status.live_backend, self.spec.canary)):
            j.event("OperationRejected", "undo: stable/canary changed since the release", warning=True)
            return
        self._rollback(f"undo: flipping traffic back to {self.spec.stable.name}", result="undone")
        j.event("OperationHandled", f"undo: flipping traffic back to {self.spec.stable.name}")
