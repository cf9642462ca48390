"""What the demo shows while it runs: a live panel, or plain lines for logs and CI.

Both read the same :class:`Snapshot` (the Canary's status plus the traffic split the load
generator actually observed), so ``--plain`` prints exactly what the live view draws. The
live view fits an 80-column terminal.
"""

from __future__ import annotations

import dataclasses
import datetime
import time

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

BAR_WIDTH = 30


@dataclasses.dataclass(frozen=True)
class MetricLine:
    name: str
    value: float | None
    bound: str | None
    sample_size: int | None
    verdict: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Snapshot:
    scenario: str
    release: str
    phase: str
    step: str
    stable_name: str
    canary_name: str
    stable_weight: int
    canary_weight: int
    observed: dict[str, float]  # version -> share of answered requests in the last window
    observed_rps: float
    error_share: float  # share of 5xx in the last window
    metrics: tuple[MetricLine, ...]
    decisions: tuple[str, ...]  # newest last
    elapsed: float


def from_canary(canary: dict, *, scenario: str, release: str, observed: dict[str, float], observed_rps: float,
                error_share: float, started: float, since: datetime.datetime | None = None,
                decisions: int = 6) -> Snapshot:
    """Build a snapshot from a Canary object as read from the API.

    ``since`` drops decision log entries older than the current release's start, so the
    view of one release does not repeat the end of the previous one.
    """
    spec = canary.get("spec") or {}
    status = canary.get("status") or {}
    weights = status.get("weights") or {}
    log = [entry for entry in status.get("decisions") or [] if since is None or _after(entry.get("time"), since)]
    metrics: tuple[MetricLine, ...] = ()
    for entry in reversed(log):
        if entry.get("metrics"):
            metrics = tuple(
                MetricLine(m.get("metric", "?"), m.get("value"), m.get("bound"), m.get("sampleSize"),
                           m.get("verdict", "?"), m.get("reason", ""))
                for m in entry["metrics"]
            )
            break
    lines = tuple(f"{_clock(entry.get('time'))} {entry.get('phase', '')}: {entry.get('reason', '')}"
                  for entry in log[-decisions:])
    return Snapshot(
        scenario=scenario, release=release,
        phase=status.get("phase", "Pending"), step=status.get("stepProgress", "-"),
        stable_name=(spec.get("stable") or {}).get("name", "stable"),
        canary_name=(spec.get("canary") or {}).get("name", "canary"),
        stable_weight=int(weights.get("stable", 100)), canary_weight=int(weights.get("canary", 0)),
        observed=observed, observed_rps=observed_rps, error_share=error_share,
        metrics=metrics, decisions=lines, elapsed=time.monotonic() - started,
    )


def _after(stamp: str | None, since: datetime.datetime) -> bool:
    try:
        return datetime.datetime.fromisoformat(stamp) >= since if stamp else False
    except ValueError:
        return True  # an unreadable time is shown rather than hidden


def _clock(stamp: str | None) -> str:
    # RFC 3339 "2026-11-22T10:31:05.123456Z" -> "10:31:05"
    return stamp[11:19] if stamp and len(stamp) >= 19 else "--:--:--"


def _bar(weight: int, style: str) -> Text:
    filled = round(BAR_WIDTH * weight / 100)
    return Text("█" * filled, style=style) + Text("░" * (BAR_WIDTH - filled), style="dim")


def _value(metric: MetricLine) -> str:
    if metric.value is None:
        return "-"
    return f"{metric.value:.4g}"


def render(snapshot: Snapshot) -> Group:
    """The live panel."""
    verdict_style = {"Successful": "green", "Failed": "red", "Inconclusive": "yellow", "Error": "magenta"}
    header = Text.assemble(
        ("routeshift demo ", "bold"), (snapshot.scenario, "cyan"), "  release ", (snapshot.release, "bold"),
        f"  {snapshot.elapsed:5.0f}s")
    state = Text.assemble("phase ", (snapshot.phase, "bold yellow"), f"   step {snapshot.step}")
    weights = Table.grid(padding=(0, 1))
    weights.add_row(Text(f"{snapshot.stable_name:<14.14}"), _bar(snapshot.stable_weight, "blue"),
                    Text(f"{snapshot.stable_weight:3d}% set"))
    weights.add_row(Text(f"{snapshot.canary_name:<14.14}"), _bar(snapshot.canary_weight, "green"),
                    Text(f"{snapshot.canary_weight:3d}% set"))
    observed = ", ".join(f"{version} {share:.0%}" for version, share in sorted(snapshot.observed.items())) or "-"
    traffic = Text(f"observed at the gateway: {observed}  ({snapshot.observed_rps:.0f} req/s, "
                   f"{snapshot.error_share:.1%} 5xx)")
    metrics = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
    for column in ("metric", "value", "bound", "samples", "verdict"):
        metrics.add_column(column)
    for metric in snapshot.metrics:
        metrics.add_row(metric.name, _value(metric), metric.bound or "-",
                        "-" if metric.sample_size is None else str(metric.sample_size),
                        Text(metric.verdict, style=verdict_style.get(metric.verdict, "")))
    decisions = Text("\n".join(line[:78] for line in snapshot.decisions) or "(no decisions yet)", style="dim")
    return Group(header, state, weights, traffic, metrics, Text("decisions:", style="bold"), decisions)


class PlainPrinter:
    """Line-oriented output: prints only what changed since the last snapshot."""

    def __init__(self, console: Console | None = None, traffic_every: float = 5.0) -> None:
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.traffic_every = traffic_every
        self._seen_decisions: set[str] = set()
        self._last_traffic = 0.0

    def update(self, snapshot: Snapshot) -> None:
        for line in snapshot.decisions:
            if line not in self._seen_decisions:
                self._seen_decisions.add(line)
                self.console.print(f"[{snapshot.release}] {line}", markup=False)
        if snapshot.elapsed - self._last_traffic >= self.traffic_every:
            self._last_traffic = snapshot.elapsed
            observed = ", ".join(f"{v} {s:.0%}" for v, s in sorted(snapshot.observed.items())) or "-"
            metrics = "; ".join(f"{m.name}={_value(m)} ({m.verdict}, n={m.sample_size})" for m in snapshot.metrics)
            self.console.print(
                f"[{snapshot.release}] {snapshot.phase} step {snapshot.step} set canary {snapshot.canary_weight}% "
                f"| observed {observed} at {snapshot.observed_rps:.0f} req/s | {metrics or 'no analysis yet'}",
                markup=False)
