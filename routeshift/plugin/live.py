"""``get --watch`` and ``list --watch``: views that redraw in place as the rollout moves.

On a terminal the view is a rich ``Live`` display redrawn whenever the controller writes
the Canary (the watch from ``streaming``) and every ``refresh`` seconds in between, so ages
and Events stay current. When stdout is not a terminal (a log, a pipe), each change is
printed as a new block instead, as ``kubectl get -w`` appends lines. Ctrl-C ends the view.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from routeshift.plugin import canaries, errors, rendering, streaming
from routeshift.plugin.cluster import Cluster

REFRESH_SECONDS = 2.0


def watch_detail(cluster: Cluster, name: str, console: Console, *, refresh: float = REFRESH_SECONDS) -> int:
    key = (cluster.namespace, name)

    def render(snapshot: streaming.Snapshot, seen: bool) -> RenderableType:
        obj = snapshot.objects.get(key)
        if obj is None:
            if not seen:
                raise errors.NotFound(f"canary {cluster.namespace}/{name} not found", status=404)
            return Text(f"canary {cluster.namespace}/{name} was deleted; watching for it to come back",
                        style="yellow")
        canary = canaries.Canary(obj)
        return Group(_title(f"kubectl canary get {name} --watch"), detail_view(cluster, canary))

    return _run(streaming.Follower(cluster, name=name), console, render, refresh)


def watch_list(cluster: Cluster, console: Console, *, all_namespaces: bool, wide: bool,
               refresh: float = REFRESH_SECONDS) -> int:
    def render(snapshot: streaming.Snapshot, seen: bool) -> RenderableType:
        items = [canaries.Canary(obj) for _, obj in sorted(snapshot.objects.items())]
        if not items:
            where = "any namespace" if all_namespaces else f"namespace {cluster.namespace}"
            return Text(f"No canaries found in {where}.")
        return Group(_title("kubectl canary list --watch"),
                     rendering.table(items, now=_now(), all_namespaces=all_namespaces, wide=wide))

    return _run(streaming.Follower(cluster, all_namespaces=all_namespaces), console, render, refresh)


def detail_view(cluster: Cluster, canary: canaries.Canary) -> RenderableType:
    """The ``get`` view with its Events, the routes' real weights and (workload form) the Deployments'
    replicas fetched fresh."""
    routes = []
    for ref in [canary.spec.get("routeRef")] + list(canary.spec.get("routeRefs") or ()):
        if not ref or not ref.get("name"):
            continue
        namespace = ref.get("namespace") or canary.namespace
        kind = ref.get("kind") or "HTTPRoute"
        routes.append((f"{kind} {namespace}/{ref['name']}", cluster.route(namespace, ref["name"], kind)))
    return rendering.detail(canary, events=cluster.events(canary.raw), routes=routes, now=_now(),
                            replicas=canaries.live_replicas(canary, cluster.deployment))


def _run(follower: streaming.Follower, console: Console,
         render: Callable[[streaming.Snapshot, bool], RenderableType], refresh: float) -> int:
    follower.start()
    current: streaming.Snapshot | None = None
    seen = False
    try:
        if console.is_terminal:
            with Live(console=console, auto_refresh=False, transient=False) as live:
                while True:
                    # Redraw on every change and every ``refresh`` seconds: ages and Events move too.
                    current, _ = _merge(current, follower.latest(refresh))
                    if current is None:
                        continue
                    live.update(_with_problem(render(current, seen), current), refresh=True)
                    seen = seen or bool(current.objects)
        else:
            while True:
                snapshot = follower.latest(refresh)
                current, changed = _merge(current, snapshot)
                if current is None or not changed:
                    continue
                rendering.emit(console, _with_problem(render(current, seen), current))
                seen = seen or bool(current.objects)
    except KeyboardInterrupt:
        return 0
    finally:
        follower.stop()


def _merge(current: streaming.Snapshot | None,
           snapshot: streaming.Snapshot | None) -> tuple[streaming.Snapshot | None, bool]:
    """The snapshot to show and whether it is new; errors keep the last good objects."""
    if snapshot is None:
        return current, False
    if snapshot.error is not None:
        if snapshot.final:
            raise snapshot.error
        return (streaming.Snapshot(current.objects, snapshot.error) if current else None), True
    return snapshot, True


def _with_problem(view: RenderableType, snapshot: streaming.Snapshot | None) -> RenderableType:
    if snapshot is not None and snapshot.error is not None:
        return Group(view, Text(f"watch interrupted: {snapshot.error}; retrying", style="red"))
    return view


def _title(command: str) -> Text:
    return Text(f"{command}   {_now().strftime('%H:%M:%S')} UTC   Ctrl-C to quit\n", style="dim")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)
