"""Ready, Reconciling and Stalled: a Canary's status in the words GitOps tools read (kstatus).

Flux's health checks, Argo CD and ``kubectl wait --for=condition=Ready`` know nothing of
phases. They read the conditions of the kstatus conventions (sigs.k8s.io/cli-utils):
``Reconciling=True`` while the controller works toward a new state, ``Stalled=True`` when
it cannot get there without a person, ``Ready=True`` once it is there and healthy, each
about the generation in ``status.observedGeneration``. kstatus looks at Reconciling and
Stalled first and falls back to Ready (older versions call a resource without the first
two "Current"), so exactly one of the three is True at any time and the other two are
False with the same reason and message: whichever one a tool reads, it reads the same
verdict. The one exception is Terminated, the last write before the finalizer lets the
object go, where none is True (kstatus reads a deletion from ``deletionTimestamp``).

"At rest and healthy" means that what the spec asks for is what runs: nothing to roll out
yet (Initialized), the last release promoted (Succeeded), or in the workload form a target
changed back to the revision the primary runs. A rollback is not at rest: the release the
spec names is not running, and a GitOps sync of it must report a failure, so a Failed
phase is Stalled until a new release or a retry.

The whole table is :func:`assess`, a pure function of the status the decision just
produced; ``docs/gitops-health.md`` prints it and the Argo CD health check
(``charts/routeshift/files/argocd/canary-health.lua``) reads its output.
"""

from __future__ import annotations

import dataclasses

from rollouts import model
from rollouts.model import ConditionStatus, Phase

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
TYPES = (READY, RECONCILING, STALLED)

#: Phases in which the controller is working toward a new state, and the reason it gives.
#: Paused and WaitingPromotion count: the rollout is under way and a person (or a
#: confirm-promotion webhook) moves it on, so a tool waiting for the release keeps waiting.
WORKING = {
    Phase.INITIALIZING: "Initializing",
    Phase.PROGRESSING: "Progressing",
    Phase.PAUSED: "Paused",
    Phase.WAITING_PROMOTION: "WaitingPromotion",
    Phase.PROMOTING: "Promoting",
    Phase.FINALISING: "Finalising",
    Phase.ROLLING_BACK: "RollingBack",
    Phase.TERMINATING: "Terminating",
}

#: How a rolled-back rollout ended (``status.result``) -> the Stalled reason.
ROLLED_BACK = {"failed": "RolledBack", "aborted": "Aborted", "undone": "Undone"}


@dataclasses.dataclass(frozen=True)
class Health:
    """Which of Ready, Reconciling and Stalled is True (None: none), and the reason and message all three carry."""

    holds: str | None
    reason: str
    message: str

    def conditions(self) -> tuple[tuple[str, ConditionStatus], ...]:
        """(type, status) for Ready, Reconciling and Stalled, in that order."""
        return tuple((type_, ConditionStatus.TRUE if type_ == self.holds else ConditionStatus.FALSE)
                     for type_ in TYPES)


def assess(status: model.CanaryStatus, *, wanted_release: str | None = None,
           problem: tuple[str, str] | None = None) -> Health:
    """The three conditions for ``status``, as the decision that produced it leaves it.

    ``problem`` is (reason, message) of what keeps the controller from acting (an invalid
    spec, a missing route, target or port, configuration it may not read, a primary not
    ready by the progress deadline, ...). ``wanted_release`` is the release the spec asks
    for (the target's revision in the workload form): an idle status about another one
    is about to start a rollout, not at rest.
    """
    if problem is not None:
        return Health(STALLED, *problem)
    phase = status.phase
    if phase == Phase.TERMINATED:
        return Health(None, "Terminated", status.message)
    if phase in WORKING:
        return Health(RECONCILING, WORKING[phase], status.message)
    if wanted_release and wanted_release != status.release:
        # The rollout before it just ended; the next decision starts this one.
        return Health(RECONCILING, "ReleasePending", f"release {wanted_release} is next: {status.message}")
    if phase == Phase.FAILED:
        failed = status.workload.failed if status.workload else None
        if failed is not None and failed.revision != status.release:
            # The target was changed back to what the primary runs: nothing failed is asked for.
            return Health(READY, "Reverted", status.message)
        reason = ROLLED_BACK.get(status.result or "failed", "RolledBack")
        return Health(STALLED, reason, f"release {status.release} rolled back: {rollback_cause(status)}")
    if phase == Phase.SUCCEEDED:
        return Health(READY, "Succeeded", status.message)
    return Health(READY, "Initialized", status.message)


def rollback_cause(status: model.CanaryStatus) -> str:
    """Why the last rollout was rolled back, for a person reading a failed sync.

    The workload form records it with the failed revision. Otherwise it is the decision
    that entered RollingBack: the first of the last run of RollingBack entries in the
    decision log (later ones are holds while the routes settle). When the bounded log no
    longer holds it, the latest decision's reason has to do.
    """
    failed = status.workload.failed if status.workload else None
    if failed is not None and failed.revision == status.release and failed.reason:
        return failed.reason
    cause = None
    for decision in reversed(status.decisions):
        if decision.phase == Phase.ROLLING_BACK:
            cause = decision.reason
        elif cause is not None:
            break
    return cause or status.message
