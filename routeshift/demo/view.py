"""What the demo shows while it runs: a live panel, or plain lines for logs and CI.

Both read the same :class:`Snapshot` (the Canary's status plus the traffic split the load
generator actually observed), so ``--plain`` prints exactly what the live view draws. The
live view fits an 80-column terminal.

The observed split is a recent window of replies, not the whole run, and both views say
how long that window is: the last frame stays on screen after a release ends, and a
person reading "v2 90%, v3 10%" next to "Failed" must be able to tell that it describes
the seconds before the rollback, not the gateway now.
"""

from __future__ import annotations

import dataclasses
import datetime
import time

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
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
    error_share: float  # share of server failures (5xx, or failed gRPC calls) in the last window
    metrics: tuple[MetricLine, ...]
    decisions: tuple[str, ...]  # newest last
    elapsed: float
    window_seconds: float | None = None  # how much recent traffic observed/observed_rps/error_share cover
    # Workload form: "<deployment> <revision> <image tags> <ready>/<desired>" for primary, then canary.
    workloads: tuple[str, ...] = ()
    failure_label: str = "5xx"  # what error_share counts, as the views print it


def from_canary(canary: dict, *, scenario: str, release: str, observed: dict[str, float], observed_rps: float,
                error_share: float, started: float, since: datetime.datetime | None = None,
                decisions: int = 6, window_seconds: float | None = None,
                deployments: dict[str, dict | None] | None = None, failure_label: str = "5xx") -> Snapshot:
    """Build a snapshot from a Canary object as read from the API.

    ``since`` drops decision log entries older than the current release's start, so the
    view of one release does not repeat the end of the previous one. ``window_seconds``
    is how many seconds of the most recent traffic ``observed``, ``observed_rps`` and
    ``error_share`` were counted over; the views print it next to the figures.
    ``deployments`` (workload form: the primary's and the target's, by name) give each
    side's revision, images and ready replicas.
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
        **{"stable_name": (spec.get("stable") or {}).get("name", "stable"),
           "canary_name": (spec.get("canary") or {}).get("name", "canary"), **_workload_names(spec)},
        workloads=_workload_lines(spec, status, deployments or {}),
        stable_weight=int(weights.get("stable", 100)), canary_weight=int(weights.get("canary", 0)),
        observed=observed, observed_rps=observed_rps, error_share=error_share,
        metrics=metrics, decisions=lines, elapsed=time.monotonic() - started, window_seconds=window_seconds,
        failure_label=failure_label,
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


def _workload_names(spec: dict) -> dict:
    target = (spec.get("targetRef") or {}).get("name")
    return {"stable_name": f"{target}-primary", "canary_name": f"{target}-canary"} if target else {}


def _workload_lines(spec: dict, status: dict, deployments: dict[str, dict | None]) -> tuple[str, ...]:
    target = (spec.get("targetRef") or {}).get("name")
    if not target:
        return ()
    workload = status.get("workload") or {}
    rolling = status.get("phase") not in (None, "Initializing", "Initialized", "Succeeded", "Failed")
    sides = [("primary", f"{target}-primary", workload.get("revision"), workload.get("images") or {}),
             ("canary", target, status.get("release") if rolling else None,
              (workload.get("canaryImages") or {}) if rolling else {})]
    lines = []
    for role, name, revision, images in sides:
        found = deployments.get(name) or {}
        ready = (found.get("status") or {}).get("readyReplicas", 0)
        desired = (found.get("spec") or {}).get("replicas", 0) if found else 0
        tags = ", ".join(image.rsplit(":", 1)[-1] for image in images.values()) or "-"
        lines.append(f"{role:<8}{name:<18.18} revision {revision or '-':<10} {tags:<6} {ready}/{desired} ready")
    failed = workload.get("failed")
    if failed:
        tags = ", ".join(image.rsplit(":", 1)[-1] for image in (failed.get("images") or {}).values())
        lines.append(f"rolled back: revision {failed.get('revision')} ({tags})")
    return tuple(lines)


def window_label(snapshot: Snapshot) -> str:
    """``last 30 s``: which traffic the observed figures describe."""
    if snapshot.window_seconds is None:
        return "recent"
    return f"last {snapshot.window_seconds:.0f} s"


def _observed(snapshot: Snapshot) -> str:
    return ", ".join(f"{version} {share:.0%}" for version, share in sorted(snapshot.observed.items())) or "-"


class _Panel:
    """The live panel, ending with a line break of its own when drawn off a terminal.

    rich's ``Live`` leaves its last frame without a final newline and adds one when it
    stops only on a terminal; into a pipe or a log the next line printed (the release's
    closing line) would otherwise continue the panel's last decision line.
    """

    def __init__(self, *parts: RenderableType) -> None:
        self.group = Group(*parts)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.group
        if not console.is_terminal:
            yield Text("")


def render(snapshot: Snapshot) -> RenderableType:
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
    traffic = Text(f"observed at the gateway ({window_label(snapshot)}): {_observed(snapshot)}  "
                   f"({snapshot.observed_rps:.0f} req/s, {snapshot.error_share:.1%} {snapshot.failure_label})")
    metrics = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
    for column in ("metric", "value", "bound", "samples", "verdict"):
        metrics.add_column(column)
    for metric in snapshot.metrics:
        metrics.add_row(metric.name, _value(metric), metric.bound or "-",
                        "-" if metric.sample_size is None else str(metric.sample_size),
                        Text(metric.verdict, style=verdict_style.get(metric.verdict, "")))
    decisions = Text("\n".join(line[:78] for line in snapshot.decisions) or "(no decisions yet)", style="dim")
    parts = [header, state, weights, traffic]
    if snapshot.workloads:
        parts.append(Text("\n".join(snapshot.workloads)))
    return _Panel(*parts, metrics, Text("decisions:", style="bold"), decisions)


class PlainPrinter:
    """Line-oriented output: prints only what changed since the last snapshot.

    One event per line, however long (``soft_wrap``): a log line broken at the console's
    width would read as two, and grep would find half of it.
    """

    def __init__(self, console: Console | None = None, traffic_every: float = 5.0) -> None:
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.traffic_every = traffic_every
        self._seen_decisions: set[str] = set()
        self._last_traffic = 0.0
        self._last_workloads: tuple[str, ...] = ()

    def update(self, snapshot: Snapshot) -> None:
        for line in snapshot.decisions:
            if line not in self._seen_decisions:
                self._seen_decisions.add(line)
                self.console.print(f"[{snapshot.release}] {line}", markup=False, soft_wrap=True)
        if snapshot.workloads != self._last_workloads:
            self._last_workloads = snapshot.workloads
            for line in snapshot.workloads:
                self.console.print(f"[{snapshot.release}] {line}", markup=False, soft_wrap=True)
        if snapshot.elapsed - self._last_traffic >= self.traffic_every:
            self._last_traffic = snapshot.elapsed
            metrics = "; ".join(f"{m.name}={_value(m)} ({m.verdict}, n={m.sample_size})" for m in snapshot.metrics)
            self.console.print(
                f"[{snapshot.release}] {snapshot.phase} step {snapshot.step} set canary {snapshot.canary_weight}% "
                f"| observed ({window_label(snapshot)}) {_observed(snapshot)} at {snapshot.observed_rps:.0f} req/s, "
                f"{snapshot.error_share:.1%} {snapshot.failure_label} | {metrics or 'no analysis yet'}",
                markup=False, soft_wrap=True)
