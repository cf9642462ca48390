"""Keep CPython's full garbage collections out of a reload while it builds a table.

Why it exists (issue 13, reload of 10,000 rules under 1 s): a cold reload allocates a few hundred
thousand container objects (parsed documents, route records, Rules, Matches, the C table's layout)
and keeps nearly all of them. The collector takes them for churn, and the full collections it
starts walk the whole heap, the table being built included, again and again while it grows: in
process (``bench/route_scaling.py --data-plane c``) they were a third or more of a cold reload, in
single pauses of up to 250 ms, and found nothing to free.

So during a reload only the young generations are collected (each pass over a few thousand new
objects, a few milliseconds at most): reference cycles the data path makes meanwhile are still
freed, while the full collection waits until the table is installed. Switching the collector off
instead was tried and is worse: the collection it defers then walks every object of the reload
in one pause (70 to 360 ms measured) right after it.

Pauses nest and may overlap (a reload parses and compiles in a worker thread, and tests run
several proxies in one process): the first to start holds off full collections, the last to end
restores the thresholds it found.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

# Young-generation collections between two full ones, while paused: in effect never.
_NEVER = 1 << 30

_lock = threading.Lock()
_depth = 0
_thresholds: tuple[int, ...] = ()


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No full collection inside the block; the collector's thresholds as they were after it."""
    global _depth, _thresholds
    with _lock:
        if _depth == 0:
            _thresholds = gc.get_threshold()
            gc.set_threshold(_thresholds[0], _thresholds[1], _NEVER)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.set_threshold(*_thresholds)
