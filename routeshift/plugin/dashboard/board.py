"""The dashboard's picture of the cluster: the watched objects, their views, and what changed.

Two watches feed it (Canaries and HTTPRoutes, each a full snapshot after every change);
it keeps the latest of each, rebuilds the views, and answers with the difference from
what it showed before. The server pushes exactly that difference to every open page, so
a page that is up to date stays up to date without ever asking again. A route change
changes the "observed split" of every Canary that references the route, so a route
snapshot rebuilds every view; a Canary snapshot rebuilds only the views of objects that
are not the very ones seen before (the watch shares unchanged objects between snapshots),
which keeps a busy controller's status writes cheap with hundreds of Canaries. No I/O here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from routeshift.plugin.dashboard import views

Key = views.Key


@dataclasses.dataclass(frozen=True)
class Changes:
    """What a page must apply: views that are new or different, and Canaries that are gone."""

    updated: tuple[dict[str, Any], ...] = ()
    deleted: tuple[Key, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.updated or self.deleted)


class Board:
    """Canaries and routes as last watched, with the views built from them."""

    def __init__(self, *, namespace: str | None):
        self.namespace = namespace  # None: all namespaces
        self._canaries: dict[Key, dict[str, Any]] = {}
        self._routes: dict[Key, dict[str, Any]] = {}
        self._scope = views.RouteScope(namespace)
        self._views: dict[Key, dict[str, Any]] = {}
        self._built_from: dict[Key, dict[str, Any]] = {}  # the object each view was built from
        self.problems: dict[str, str] = {}  # watch ("canaries", "routes") -> what interrupted it

    # ------------------------------------------------------------------ reading

    def items(self) -> list[dict[str, Any]]:
        """Every view, by namespace and name."""
        return [self._views[key] for key in sorted(self._views)]

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._views.get((namespace, name))

    # ------------------------------------------------------------------ writing

    def replace_canaries(self, objects: Mapping[Key, dict[str, Any]]) -> Changes:
        self._canaries = dict(objects)
        return self._rebuild(everything=False)

    def replace_routes(self, objects: Mapping[Key, dict[str, Any]]) -> Changes:
        self._routes = dict(objects)
        self._scope = dataclasses.replace(self._scope, listed=True, problem="")
        return self._rebuild(everything=True)

    def routes_unavailable(self, problem: str) -> Changes:
        """Routes cannot be watched for good (e.g. no RBAC): say so in every view instead of a split."""
        self._scope = dataclasses.replace(self._scope, problem=problem)
        return self._rebuild(everything=True)

    def set_problem(self, watch: str, problem: str | None) -> bool:
        """Record (or clear, with None) why a watch is interrupted; True when that changed anything."""
        before = self.problems.get(watch)
        if problem:
            self.problems[watch] = problem
        else:
            self.problems.pop(watch, None)
        return before != self.problems.get(watch)

    def _rebuild(self, *, everything: bool) -> Changes:
        fresh = {}
        for key, obj in self._canaries.items():
            unchanged = not everything and self._built_from.get(key) is obj
            fresh[key] = self._views[key] if unchanged else views.canary_view(obj, self._routes, self._scope)
        self._built_from = dict(self._canaries)
        updated = tuple(fresh[key] for key in sorted(fresh) if self._views.get(key) != fresh[key])
        deleted = tuple(key for key in sorted(self._views) if key not in fresh)
        self._views = fresh
        return Changes(updated, deleted)
