"""The load runs in progress, one per (Canary, load spec): deduplication and the server's cap.

A ``rollout`` hook is called every analysis interval with the same metadata. Like
flagger-loadtester, which skips a command that is already running, a call whose Canary and
spec match a running run joins it instead of starting a second one: the load stays at the
rate asked for, however often (or however many controller replicas) call. The results of
the last finished run of each spec are kept (a bounded number, and only the summary
numbers, not the per-request latencies), so the call that starts the next run can still
report how the previous one ended.

A background run whose schedule is over counts as ended even while its last requests are
still in flight: the controller's next interval then starts the next run at once instead
of joining a run that is about to end and leaving an interval without load.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses

from routeshift.loadtester import errors, generator, spec, stats
from routeshift.loadtester import metrics as metrics_module

FINISHED_KEPT = 256


@dataclasses.dataclass(frozen=True)
class Admission:
    """The run a hook call is about, whether the call started it, and how the spec's previous run ended."""

    run: generator.Run
    started: bool
    previous: stats.Results | None


class Runs:
    """Starts, deduplicates and remembers runs; at most ``max_running`` at once."""

    def __init__(self, *, max_running: int, metrics: metrics_module.Metrics):
        self.max_running = max_running
        self.metrics = metrics
        self._running: dict[str, generator.Run] = {}
        self._live: set[generator.Run] = set()  # every run not yet ended, stragglers included
        # key → (start time, final results) of the latest-started run that has ended.
        self._finished: collections.OrderedDict[str, tuple[float, stats.Results]] = collections.OrderedDict()

    def admit(self, load: spec.LoadSpec, canary: tuple[str, str]) -> Admission:
        """Join the running run of this Canary and spec, or start one; :class:`errors.Busy` at the cap."""
        key = load.key("/".join(canary))
        running = self._running.get(key)
        if running is not None and (running.scheduling or load.mode is spec.Mode.BLOCKING):
            return Admission(running, started=False, previous=self._previous(key))
        if running is not None:
            # Only stragglers left: it makes way (and its _retire later records its final results).
            del self._running[key]
            self._record(key, running)
        if len(self._running) >= self.max_running:
            raise errors.Busy(f"{len(self._running)} load runs in progress, the maximum of this loadtester "
                              f"(--max-generators); try again later")
        run = generator.Run(load, canary=canary, metrics=self.metrics)
        self._running[key] = run
        self._live.add(run)
        self.metrics.running.set(len(self._running))
        run.start().add_done_callback(lambda _: self._retire(key, run))
        return Admission(run, started=True, previous=self._previous(key))

    @property
    def running(self) -> int:
        return len(self._running)

    async def close(self) -> None:
        """Cancel every run (server shutdown)."""
        await asyncio.gather(*(run.cancel() for run in list(self._live)))

    def _retire(self, key: str, run: generator.Run) -> None:
        if self._running.get(key) is run:
            del self._running[key]
        self._live.discard(run)
        self._record(key, run)
        self.metrics.running.set(len(self._running))

    def _record(self, key: str, run: generator.Run) -> None:
        """Remember ``run``'s results unless a later-started run of the same spec is already recorded."""
        assert run.started_at is not None
        recorded = self._finished.get(key)
        if recorded is None or recorded[0] <= run.started_at:
            self._finished[key] = (run.started_at, run.snapshot())
        self._finished.move_to_end(key)
        while len(self._finished) > FINISHED_KEPT:
            self._finished.popitem(last=False)

    def _previous(self, key: str) -> stats.Results | None:
        recorded = self._finished.get(key)
        return recorded[1] if recorded is not None else None
