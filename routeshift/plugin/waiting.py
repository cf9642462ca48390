"""``kubectl canary wait``: block a pipeline until the rollout of the current release ends.

Exit codes are the contract: 0 when the release is promoted, 1 when it is rolled back,
fails, is aborted or undone (or the Canary is deleted, or its spec cannot be acted on),
2 when ``--timeout`` passes first.

A Succeeded phase alone proves nothing: right after ``kubectl apply`` of a new release
the status still describes the previous one. An outcome counts only when the controller
has observed the current generation (``status.observedGeneration >= metadata.generation``),
the status is about the release the spec asks for (``status.release == spec.release``),
and no operation annotation is still waiting to be handled (after ``retry`` or ``undo``
the old Failed or Succeeded is stale although the generation did not move). In the
workload form the spec names no release: the release waited for is the revision of the
target Deployment when ``wait`` starts (:mod:`routeshift.plugin.revisions`), so
``kubectl set image ... && kubectl canary wait`` follows the rollout that change starts.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from routeshift.plugin import canaries, errors, revisions, streaming
from routeshift.plugin.cluster import Cluster

EXIT_SUCCEEDED = 0
EXIT_FAILED = 1
EXIT_TIMEOUT = 2

# Stalled=True reasons that only a new spec can clear: waiting longer cannot help. Other
# problems (a route or Service not there yet) may be fixed by the next object applied.
_BLOCKING_REASONS = frozenset({"InvalidSpec", "CanaryIsLive"})


@dataclasses.dataclass(frozen=True)
class Outcome:
    exit_code: int
    result: str  # succeeded, failed, aborted, undone, invalid, deleted, timeout
    message: str


def judge(canary: canaries.Canary | None, expected_release: str | None = None) -> Outcome | None:
    """The outcome the current object proves, or None while the rollout is still undecided.

    ``expected_release`` is the workload form's release (the target's revision); the Service
    form's is ``spec.release``."""
    if canary is None:
        return Outcome(EXIT_FAILED, "deleted", "the canary was deleted")
    if not canary.observed or canary.pending_operations():
        return None
    stalled = canary.condition("Stalled")
    if (stalled and stalled.get("status") == "True" and stalled.get("reason") in _BLOCKING_REASONS
            and stalled.get("observedGeneration") in (None, canary.generation)):
        return Outcome(EXIT_FAILED, "invalid", f"{stalled.get('reason')}: {stalled.get('message', '')}")
    wanted = canary.release or expected_release
    if wanted and canary.status_release != wanted:
        return None
    message = canary.status.get("message", "")
    match canary.phase:
        case "Succeeded":
            return Outcome(EXIT_SUCCEEDED, "succeeded", message)
        case "Failed":
            workload = canary.workload()
            if workload and workload.failed and workload.failed.revision == canary.status_release:
                # The last decision says where traffic went; the pipeline's log needs why.
                message = f"{message}: {workload.failed.reason}" if workload.failed.reason else message
            return Outcome(EXIT_FAILED, canary.status.get("result") or "failed", message)
        case "Terminating" | "Terminated":
            return Outcome(EXIT_FAILED, "deleted", message)
        case "Initialized" if not canary.release:
            return Outcome(EXIT_SUCCEEDED, "idle", "no release to roll out: the stable backend serves all traffic")
    return None


@dataclasses.dataclass(frozen=True)
class Waited:
    outcome: Outcome
    canary: canaries.Canary | None
    seconds: float


def wait(cluster: Cluster, name: str, *, timeout: float, progress: Callable[[str], None],
         clock: Callable[[], float] = time.monotonic) -> Waited:
    """Follow the Canary until :func:`judge` decides or ``timeout`` seconds pass."""
    start = clock()
    deadline = start + timeout
    follower = streaming.Follower(cluster, name=name).start()
    canary: canaries.Canary | None = None
    expected_release: str | None = None
    last_line = ""
    try:
        while True:
            remaining = deadline - clock()
            if remaining <= 0:
                where = canary.summary() if canary else "no status seen"
                return Waited(Outcome(EXIT_TIMEOUT, "timeout", f"timed out after {_seconds(timeout)}: {where}"),
                              canary, clock() - start)
            snapshot = follower.latest(remaining)
            if snapshot is None:
                continue
            if snapshot.error is not None:
                if snapshot.final:
                    raise snapshot.error
                progress(f"warning: {snapshot.error}; retrying")
                continue
            obj = snapshot.objects.get((cluster.namespace, name))
            if obj is None and canary is None:
                raise errors.NotFound(f"canary {cluster.namespace}/{name} not found", status=404)
            current = canaries.Canary(obj) if obj is not None else None
            if current is not None:
                if canary is None:  # first sight: which revision the target asks for now
                    expected_release = revisions.expected(cluster, current)
                canary = current
                line = _progress_line(canary, expected_release)
                if line != last_line:
                    progress(f"[{clock() - start:6.1f}s] {line}")
                    last_line = line
            outcome = judge(current, expected_release)
            if outcome is not None:
                return Waited(outcome, canary, clock() - start)
    finally:
        follower.stop()


def _progress_line(canary: canaries.Canary, expected_release: str | None) -> str:
    line = canary.summary()
    if not canary.observed:
        line += f" (waiting for the controller to observe generation {canary.generation})"
    elif expected_release and not canary.release and canary.status_release != expected_release:
        line += f" (waiting for the controller to pick up revision {expected_release} of {canary.target})"
    pending = canary.pending_operations()
    if pending:
        line += f" (pending: {', '.join(sorted(pending))})"
    return line


def summary(waited: Waited, *, name: str, namespace: str) -> dict[str, Any]:
    """The JSON document ``wait -o json`` prints on stdout."""
    canary = waited.canary
    weights = canary.weights if canary else None
    return {
        "name": name,
        "namespace": namespace,
        "result": waited.outcome.result,
        "exitCode": waited.outcome.exit_code,
        "message": waited.outcome.message,
        "release": canary.release if canary else None,
        "phase": canary.phase if canary else None,
        "step": canary.step_label() if canary and canary.has_status else None,
        "weights": {"stable": weights[0], "canary": weights[1]} if weights else None,
        "lastVerdict": canary.status.get("lastVerdict") if canary else None,
        "elapsedSeconds": round(waited.seconds, 3),
    }


def _seconds(value: float) -> str:
    return f"{value:g}s"
