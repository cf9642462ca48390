"""When each request of a load run starts: an open-model schedule, as pure arithmetic.

A closed loop (send the next request when the previous answers) lets a slow target lower
the offered load, which hides exactly the slowness a canary analysis should see. The
generator instead follows a fixed schedule: request ``i`` starts at ``i / rate`` seconds
after the run began, whatever happened to the earlier ones. When the generator wakes late
it starts every request that is already due at once, so the offered rate holds on average;
when the concurrency cap is reached a due request is dropped and counted, never delayed.
"""

from __future__ import annotations

import math

# Float noise: 0.1 * 30 is 3.0000000000000004; a schedule must not gain or lose a request to it.
_EPSILON = 1e-9


def planned_requests(rate: float, duration: float) -> int:
    """How many requests a run of ``duration`` seconds at ``rate`` per second starts.

    Start times ``0, 1/rate, 2/rate, ...`` that fall before ``duration``: ``ceil(rate * duration)``.
    """
    if rate <= 0 or duration <= 0:
        raise ValueError(f"rate and duration must be positive, got {rate} and {duration}")
    return math.ceil(rate * duration - _EPSILON)


def start_offset(index: int, rate: float) -> float:
    """Seconds after the start of the run at which request ``index`` (0-based) starts."""
    return index / rate


def due(elapsed: float, rate: float, planned: int) -> int:
    """How many requests should have started ``elapsed`` seconds into the run (0..planned)."""
    if elapsed < 0:
        return 0
    return min(planned, math.floor(elapsed * rate + _EPSILON) + 1)
