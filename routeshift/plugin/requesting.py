"""Ask the controller for a manual operation: check it applies, patch the Canary, say what changed.

The protocol is ``rollouts.operations``: the annotation ``routeshift.dev/<operation>`` set
to a fresh value (``set-weight`` carries ``N@value``). The controller acts on each value
once and records it in ``status.handledOperations``, so a retried command cannot act
twice. The plugin writes only metadata and ``spec`` (``resume`` also clears
``spec.paused``, which would otherwise keep holding the rollout), as a JSON merge patch
that carries the ``resourceVersion`` it was checked against: if the Canary changed in
between, the API answers 409 and the check runs again on the fresh object.

The phase checks mirror ``rollouts.machine._operate``. Refusing here is friendlier than an
``OperationRejected`` event nobody reads, and a refused operation changes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import random
import secrets
import time
from typing import Any

from rollouts import operations
from routeshift.plugin import canaries, errors
from routeshift.plugin.cluster import Cluster

Operation = operations.Operation
# Conflicts mean the controller wrote status in between. A Canary whose analysis interval is
# short writes status several times a second, so re-reads back off (with jitter, so that two
# clients do not collide again): 0.05 s doubling, about 6 s in all before giving up.
_ATTEMPTS = 8
_BACKOFF = 0.05


@dataclasses.dataclass(frozen=True)
class Change:
    """A planned patch: the body, one line per changed field, and what the controller will do."""

    operation: str
    patch: dict[str, Any] | None  # None: already in the requested state, nothing to write
    fields: tuple[tuple[str, Any, Any], ...]  # (path, before, after)
    expectation: str


def nonce(now: float | None = None) -> str:
    """A fresh annotation value: readable time plus randomness, so two requests never collide."""
    return f"{int(now if now is not None else time.time())}-{secrets.token_hex(3)}"


def plan(operation: Operation, canary: canaries.Canary, *, value: str,
         weight: int | None = None, now: datetime.datetime | None = None) -> Change:
    """The patch for ``operation`` on ``canary``; raises NotApplicable when it does not apply."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    phase = canary.phase
    where = f"canary {canary.namespace}/{canary.name} is {phase}"
    if not canary.has_status and operation != Operation.RESUME:
        raise errors.NotApplicable(f"{operation.value}: the controller has not processed canary "
                                   f"{canary.namespace}/{canary.name} yet (no status); is it running?")
    stepping = phase in canaries.STEPPING
    step = f"step {canary.step_label()}"
    match operation:
        case Operation.ABORT:
            _require(stepping, operation, f"{where}: no rollout in progress to abort"
                     + ("; use undo to flip traffic back after a success" if phase == "Succeeded" else ""))
            expectation = f"rolling back from {step}: all traffic returns to {_backend(canary, 'stable')}"
        case Operation.RETRY:
            _require(phase == "Failed" and bool(canary.status_release), operation,
                     f"{where}: only a failed or aborted rollout can be retried")
            expectation = f"restarting the rollout of release {canary.status_release} from the first step"
        case Operation.UNDO:
            _check_undo(canary, now)
            expectation = (f"flipping all traffic back to {_backend(canary, 'stable')} "
                           f"(release {canary.status_release} undone)")
        case Operation.PAUSE:
            _require(stepping, operation, f"{where}: no rollout in progress to pause; set spec.paused "
                     "to hold the next one")
            if canary.paused:
                return _unchanged(operation, f"already paused ({canary.paused_reason}): nothing to do")
            expectation = f"holding at {step}, canary {_canary_weight(canary)}%, until resume or promote"
        case Operation.RESUME:
            return _resume(canary, value)
        case Operation.SET_WEIGHT:
            if weight is None or not 0 <= weight <= 100:
                raise errors.UsageError(f"set-weight: weight must be 0..100, got {weight}")
            _require(stepping, operation, f"{where}: set-weight only applies to a rollout in progress")
            value = f"{weight}@{value}"
            expectation = f"holding canary at {weight}% (stable {100 - weight}%) until resume or promote"
        case Operation.SKIP_STEP:
            _require(stepping, operation, f"{where}: no rollout in progress")
            _require(not canary.at_last_step, operation, f"{where} at {step}: already at the promotion")
            expectation = (f"skipping {_step_name(canary, canary.step_index)} to "
                           f"{_step_name(canary, canary.step_index + 1)}")
        case Operation.PROMOTE:
            _require(stepping, operation, f"{where}: no rollout in progress to promote")
            override = canary.weight_override
            _require(override is not None or not canary.at_last_step, operation,
                     f"{where} at {step}: already promoting")
            expectation = (f"ending the set-weight hold at {override}% and continuing" if override is not None
                           else f"completing {step} and moving to {_step_name(canary, canary.step_index + 1)}")
        case Operation.PROMOTE_FULL:
            _require(stepping, operation, f"{where}: no rollout in progress to promote")
            _require(phase != "Promoting", operation, f"{where}: already promoting to 100%")
            expectation = f"skipping the remaining steps and analysis: {_backend(canary, 'canary')} to 100% now"
        case _:
            raise errors.UsageError(f"unknown operation {operation}")
    return _annotate(operation, canary, value, expectation)


def request(cluster: Cluster, name: str, operation: Operation, *, weight: int | None = None) -> Change:
    """Plan and apply ``operation``, re-planning on 409; returns the change that was written."""
    value = nonce()
    for attempt in range(_ATTEMPTS):
        canary = canaries.Canary(cluster.get(name))
        change = plan(operation, canary, value=value, weight=weight)
        if change.patch is None:
            return change
        body = json.loads(json.dumps(change.patch))
        body.setdefault("metadata", {})["resourceVersion"] = canary.meta.get("resourceVersion")
        try:
            cluster.patch(name, body)
        except errors.Conflict:
            if attempt == _ATTEMPTS - 1:
                raise
            time.sleep(_BACKOFF * 2 ** attempt * random.uniform(0.5, 1.0))
            continue
        return change
    raise AssertionError("unreachable")  # the loop returns or raises


def describe(change: Change, canary_name: str) -> list[str]:
    """What the command prints: the patched fields, then what the controller is asked to do."""
    if change.patch is None:
        return [f"canary.routeshift.dev/{canary_name} unchanged: {change.expectation}"]
    lines = [f"canary.routeshift.dev/{canary_name} patched"]
    for path, before, after in change.fields:
        lines.append(f"  {path}: {_show(before)} -> {_show(after)}")
    lines.append(f"{change.operation}: {change.expectation}")
    return lines


# ---------------------------------------------------------------------- helpers


def _require(ok: bool, operation: Operation, message: str) -> None:
    if not ok:
        raise errors.NotApplicable(f"{operation.value}: {message}")


def _annotate(operation: Operation, canary: canaries.Canary, value: str, expectation: str,
              extra_spec: dict[str, Any] | None = None) -> Change:
    key = operation.annotation
    patch: dict[str, Any] = {"metadata": {"annotations": {key: value}}}
    fields = [(f'metadata.annotations["{key}"]', canary.annotations.get(key), value)]
    for field, after in (extra_spec or {}).items():
        patch.setdefault("spec", {})[field] = after
        fields.append((f"spec.{field}", canary.spec.get(field), after))
    return Change(operation.value, patch, tuple(fields), expectation)


def _unchanged(operation: Operation, why: str) -> Change:
    return Change(operation.value, None, (), why)


def _resume(canary: canaries.Canary, value: str) -> Change:
    """Resume ends every kind of hold at once: spec.paused, a pause, a set-weight, a manual pause step."""
    operation = Operation.RESUME
    spec_paused = bool(canary.spec.get("paused"))
    stepping = canary.phase in canaries.STEPPING
    holding = canary.phase == "Paused" or bool(canary.status.get("manualPause")) or canary.weight_override is not None
    if stepping and (holding or spec_paused):
        return _annotate(operation, canary, value, f"continuing from step {canary.step_label()}",
                         {"paused": False} if spec_paused else None)
    if spec_paused:
        # Outside a rollout only the declaration holds anything: clear it, no annotation
        # (the controller would reject a resume with nothing to resume).
        return Change(operation.value, {"spec": {"paused": False}}, (("spec.paused", True, False),),
                      "the next rollout will not start paused")
    if not canary.has_status:
        raise errors.NotApplicable(f"resume: the controller has not processed canary {canary.namespace}/"
                                   f"{canary.name} yet (no status); is it running?")
    raise errors.NotApplicable(f"resume: canary {canary.namespace}/{canary.name} is {canary.phase}"
                               + (f" at step {canary.step_label()}" if stepping else "") + ": nothing is paused")


def _check_undo(canary: canaries.Canary, now: datetime.datetime) -> None:
    operation = Operation.UNDO
    where = f"canary {canary.namespace}/{canary.name} is {canary.phase}"
    _require(canary.phase == "Succeeded", operation, f"{where}: undo only applies after a successful rollout"
             + ("; use abort to stop the rollout in progress" if canary.phase in canaries.STEPPING else ""))
    finished = canary.finished_at()
    window = canary.undo_window()
    _require(finished is not None, operation, f"{where} but has no finish time")
    elapsed = (now - finished).total_seconds()
    _require(elapsed <= window, operation, f"the undo window of {window}s closed "
             f"{int(elapsed - window)}s ago (succeeded {int(elapsed)}s ago)")
    status = canary.status
    _require(canaries.same_backend(status.get("previousBackend"), canary.spec.get("stable"))
             and canaries.same_backend(status.get("liveBackend"), canary.spec.get("canary")), operation,
             "spec.stable/spec.canary changed since the release: nothing to flip back to")


def _backend(canary: canaries.Canary, role: str) -> str:
    return (canary.spec.get(role) or {}).get("name") or role


def _canary_weight(canary: canaries.Canary) -> int:
    weights = canary.weights
    return weights[1] if weights else 0


def _step_name(canary: canaries.Canary, index: int) -> str:
    labels = canary.plan()
    if index >= len(labels) or len(labels) != canary.step_count:
        return f"step {index + 1}/{canary.step_count}"
    return f"step {index + 1}/{canary.step_count} ({labels[index]})"


def _show(value: Any) -> str:
    return "(unset)" if value is None else json.dumps(value)
