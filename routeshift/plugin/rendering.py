"""How Canaries look on a terminal: the detail view, the table, the decision log and the summary.

Pure functions from plain data to rich renderables, so the same view serves a one-shot
``get``, the live ``get --watch`` and the tests. The detail view answers the questions a
person asks during a rollout, in that order: where is it (phase, step i/n), who gets the
traffic (a bar per backend, plus what the HTTPRoutes really carry), is it healthy (each
metric's last value against its bound, with verdict and sample size), why is it not
moving (hold reasons), and what happened lately (Events). A workload-form Canary
(``spec.targetRef``) also says what runs where: the target Deployment, the revision and
images of the primary and of the canary, their live replicas, and the last revision rolled
back with its reason.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from routeshift.plugin import canaries

BAR_WIDTH = 30
_PHASE_STYLE = {
    "Succeeded": "bold green", "Failed": "bold red", "RollingBack": "bold red", "Paused": "bold yellow",
    "WaitingPromotion": "bold yellow", "Progressing": "bold cyan", "Promoting": "bold cyan",
    "Finalising": "bold cyan", "Initialized": "green",
}
_VERDICT_STYLE = {"Successful": "green", "Failed": "red", "Inconclusive": "yellow", "Error": "magenta"}


def emit(console: Console, renderable: RenderableType) -> None:
    """Print; off a terminal, without the padding rich adds to fill table cells (kubectl doesn't)."""
    if console.is_terminal:
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    console.file.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
    console.file.flush()


# ---------------------------------------------------------------------- detail view (get)


def detail(canary: canaries.Canary, *, events: Iterable[dict[str, Any]] = (),
           routes: Iterable[tuple[str, dict[str, Any] | None]] = (), now: datetime.datetime,
           replicas: dict[str, canaries.Replicas] | None = None) -> RenderableType:
    """The ``get`` view; ``routes`` are (``"<kind> <namespace>/<name>"``, the route or None), ``replicas`` the
    live Deployments' (workload form), by Deployment name."""
    parts: list[RenderableType] = [_header(canary, replicas, now), Text(""), _weights(canary)]
    route_lines = _route_lines(canary, routes)
    if route_lines:
        parts.append(route_lines)
    parts += [Text(""), _metrics(canary)]
    holds = canary.hold_reasons()
    if holds:
        parts.append(Text(""))
        parts.append(Text("Holding", style="bold"))
        parts += [Text(f"  - {reason}") for reason in holds]
    events = list(events)
    parts += [Text(""), _events(events, now)]
    return Group(*parts)


def _header(canary: canaries.Canary, replicas: dict[str, canaries.Replicas] | None,
            now: datetime.datetime) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Name:", f"{canary.name}  (namespace {canary.namespace})")
    phase = Text(canary.phase, style=_PHASE_STYLE.get(canary.phase, "bold"))
    if canary.has_status:
        phase.append(f"   step {canary.step_label()}", style="bold")
    if canary.paused:
        phase.append(f"   paused ({canary.paused_reason})", style="yellow")
    grid.add_row("Phase:", phase)
    workload = canary.workload(replicas)
    if workload is None:
        grid.add_row("Release:", _release(canary))
    else:
        _workload_rows(grid, canary, workload, now)
    plan = canary.plan()
    if len(plan) == canary.step_count:
        current = min(canary.step_index, len(plan) - 1) if canary.has_status else -1
        steps = Text()
        for index, label in enumerate(plan):
            steps.append(label, style="reverse bold" if index == current else "")
            if index < len(plan) - 1:
                steps.append(" → ")
        grid.add_row("Strategy:", Text.assemble(f"{canary.strategy_name()}  ", steps))
    else:
        grid.add_row("Strategy:", canary.strategy_name())
    if canary.status.get("message"):
        grid.add_row("Message:", canary.status["message"])
    verdict = canary.status.get("lastVerdict")
    if verdict:
        grid.add_row("Verdict:", Text(verdict, style=_VERDICT_STYLE.get(verdict, "")))
    return grid


def _release(canary: canaries.Canary) -> Text:
    text = Text(str(canary.release or "(none)"))
    if canary.status_release and canary.status_release != canary.release:
        text.append(f"   (status still on {canary.status_release})", style="yellow")
    if not canary.observed:
        text.append(f"   generation {canary.generation} not yet observed by the controller", style="yellow")
    return text


def _workload_rows(grid: Table, canary: canaries.Canary, workload: canaries.Workload, now: datetime.datetime) -> None:
    """Workload form: instead of spec.release (there is none), what the two Deployments run."""
    target = Text(f"Deployment {workload.target}   (Services {workload.primary}, {workload.canary_service})")
    if not canary.observed:
        target.append(f"   generation {canary.generation} not yet observed by the controller", style="yellow")
    grid.add_row("Target:", target)
    primary = Text(f"{workload.primary}  revision {workload.primary_revision or '-'}")
    if workload.primary_images:
        primary.append(f"  {canaries.images_text(workload.primary_images)}", style="blue")
    grid.add_row("Primary:", primary)
    if workload.canary_revision:
        state_style = "red" if workload.canary_state == "rolled back" else "yellow"
        canary_row = Text.assemble(f"{workload.target}  revision {workload.canary_revision}  ",
                                   (canaries.images_text(workload.canary_images), state_style),
                                   f"  ({workload.canary_state})")
    else:
        canary_row = Text(f"{workload.target}  no rollout", style="dim")
    grid.add_row("Canary:", canary_row)
    grid.add_row("Replicas:", f"{workload.replicas_line()}  (ready/desired)")
    failed = workload.failed
    if failed is not None:
        when = f" {canaries.age(failed.time, now)} ago" if failed.time else ""
        # The reason on a line of its own: it is the one long part, and what a person looks for.
        grid.add_row("Failed:", Text.assemble(
            f"revision {failed.revision}  ", (canaries.images_text(failed.images), "red"), f"  rolled back{when}",
            f"\n{failed.reason}" if failed.reason else ""))


def bar(percent: int, style: str, width: int = BAR_WIDTH) -> Text:
    filled = round(width * max(0, min(100, percent)) / 100)
    return Text.assemble(("█" * filled, style), ("░" * (width - filled), "dim"))


def _weights(canary: canaries.Canary) -> RenderableType:
    weights = canary.weights
    grid = Table.grid(padding=(0, 2))
    for _ in range(4):
        grid.add_column()
    title = Text("Weights", style="bold")
    if weights is None:
        return Group(title, Text("  no weights set yet", style="dim"))
    stable, canary_weight = weights
    grid.add_row("  stable", _name(canary, "stable"), bar(stable, "blue"), f"{stable:>3}%")
    grid.add_row("  canary", _name(canary, "canary"), bar(canary_weight, "yellow"), f"{canary_weight:>3}%")
    return Group(title, grid)


def _route_lines(canary: canaries.Canary, routes: Iterable[tuple[str, dict[str, Any] | None]]) -> RenderableType | None:
    lines = []
    stable, canary_name = _name(canary, "stable"), _name(canary, "canary")
    for label, route in routes:
        if route is None:
            lines.append(Text(f"  {label}: not found or not readable", style="red"))
            continue
        carried = route_weights(route, stable, canary_name)
        shown = ", ".join(f"{stable}={s} {canary_name}={c}" for s, c in carried) or "no rule with both backends"
        accepted = _accepted(route)
        lines.append(Text(f"  {label}: {shown}  [{accepted}]", style="dim"))
    return Group(*lines) if lines else None


def route_weights(route: dict[str, Any], stable: str, canary: str) -> list[tuple[int, int]]:
    """(stable, canary) weights of every rule that references both backends."""
    found = []
    for rule in (route.get("spec") or {}).get("rules") or ():
        refs = {ref.get("name"): ref for ref in rule.get("backendRefs") or ()}
        if stable in refs and canary in refs:
            found.append((int(refs[stable].get("weight", 1)), int(refs[canary].get("weight", 1))))
    return found


def _accepted(route: dict[str, Any]) -> str:
    generation = (route.get("metadata") or {}).get("generation")
    states = []
    for parent in (route.get("status") or {}).get("parents") or ():
        condition = next((c for c in parent.get("conditions") or () if c.get("type") == "Accepted"), None)
        if condition is None:
            continue
        observed = condition.get("observedGeneration")
        lag = "" if observed in (None, generation) else f" for generation {observed}/{generation}"
        states.append(f"Accepted={condition.get('status')}{lag}")
    return ", ".join(states) or "no parent status"


def _metrics(canary: canaries.Canary) -> RenderableType:
    metrics = canary.latest_metrics()
    configured = [m.get("name") for m in (canary.spec.get("analysis") or {}).get("metrics") or ()]
    title = Text("Analysis", style="bold")
    if not metrics:
        note = "no metric judged yet" if configured else "no metrics configured: each step dwells one interval"
        return Group(title, Text(f"  {note}", style="dim"))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1))
    for column in ("METRIC", "VALUE", "BOUND", "SAMPLES", "VERDICT", "REASON"):
        table.add_column(column, overflow="fold")
    for metric in metrics:
        table.add_row(metric.metric, format_value(metric.value), metric.bound or "-", _samples(metric),
                      Text(metric.verdict, style=_VERDICT_STYLE.get(metric.verdict, "")), metric.reason)
    return Group(title, table)


def format_value(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.3e}"


def _samples(metric: canaries.MetricLine) -> str:
    if metric.sample_size is None:
        return "-"
    return f"{metric.sample_size}" + (f"/{metric.min_sample_size}" if metric.min_sample_size else "")


def _events(events: list[dict[str, Any]], now: datetime.datetime) -> RenderableType:
    title = Text("Events", style="bold")
    if not events:
        return Group(title, Text("  none", style="dim"))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1))
    for column in ("AGE", "TYPE", "REASON", "MESSAGE"):
        table.add_column(column, overflow="fold")
    for event in events[-5:]:
        when = event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
        kind = event.get("type", "")
        table.add_row(canaries.age(when, now), Text(kind, style="yellow" if kind == "Warning" else ""),
                      event.get("reason", ""), event.get("message", ""))
    return Group(title, table)


def _name(canary: canaries.Canary, role: str) -> str:
    return canary.backend(role)


# ---------------------------------------------------------------------- table (list)


def table(items: Iterable[canaries.Canary], *, now: datetime.datetime, all_namespaces: bool = False,
          wide: bool = False) -> Table:
    """The ``list`` table. RELEASE is spec.release, or in workload form the revision being (last) rolled
    out; ``wide`` adds a TARGET column (the Deployment) when any listed Canary is in workload form."""
    items = list(items)
    out = Table(box=None, pad_edge=False, show_edge=False, padding=(0, 3, 0, 0), header_style="bold")
    columns = (["NAMESPACE"] if all_namespaces else []) + ["NAME", "PHASE", "STEP", "WEIGHT", "RELEASE", "VERDICT",
                                                           "AGE"]
    targets = wide and any(canary.target for canary in items)
    if wide:
        columns += (["TARGET"] if targets else []) + ["STABLE", "CANARY", "MESSAGE"]
    for column in columns:
        out.add_column(column, no_wrap=column != "MESSAGE", overflow="fold")
    for canary in items:
        weights = canary.weights
        row = ([canary.namespace] if all_namespaces else []) + [
            canary.name,
            Text(canary.phase, style=_PHASE_STYLE.get(canary.phase, "")),
            canary.step_label() if canary.has_status else "-",
            f"{weights[1]}%" if weights else "-",
            str(canary.shown_release or "-"),
            canary.status.get("lastVerdict") or "-",
            canary.age(now),
        ]
        if targets:
            row.append(f"deployment/{canary.target}" if canary.target else "-")
        if wide:
            row += [_name(canary, "stable"), _name(canary, "canary"), canary.status.get("message", "")]
        out.add_row(*row)
    return out


# ---------------------------------------------------------------------- decision log (history)


def history(canary: canaries.Canary, *, now: datetime.datetime) -> RenderableType:
    decisions = canary.decisions
    if not decisions:
        return Text(f"canary {canary.namespace}/{canary.name}: no decisions recorded yet")
    out = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1), header_style="bold")
    for column in ("#", "AGE", "PHASE", "STEP", "WEIGHT", "VERDICT", "REASON"):
        out.add_column(column, overflow="fold")
    for index, decision in enumerate(decisions, 1):
        verdict = decision.get("verdict") or ""
        reason = Text(decision.get("reason", ""))
        for metric in decision.get("metrics") or ():
            reason.append(f"\n  {metric.get('metric')}: {format_value(metric.get('value'))} "
                          f"(bound {metric.get('bound') or '-'}, n={metric.get('sampleSize', '-')}) "
                          f"{metric.get('verdict', '')}", style="dim")
        out.add_row(str(index), canaries.age(decision.get("time"), now), decision.get("phase", ""),
                    str(int(decision.get("step", 0)) + 1), f"{decision.get('weight', 0)}%",
                    Text(verdict, style=_VERDICT_STYLE.get(verdict, "")), reason)
    return out
