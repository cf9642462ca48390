"""Feed the dashboard from two Kubernetes watches: the Canaries and the HTTPRoutes they reference.

The plugin already follows Canaries for ``--watch`` and ``wait`` (``streaming.Follower``:
list, watch from that resourceVersion, resume, relist on 410 Gone, retry after errors).
The dashboard reuses it twice: once for Canaries and once, through :class:`RouteSource`,
for HTTPRoutes, whose backendRef weights are the split the Gateway really serves. A
pump thread per watch hands every snapshot to ``deliver`` (the server passes it on to its
event loop), so nothing polls: a page changes when the API server says something changed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from routeshift.plugin import errors, streaming
from routeshift.plugin.cluster import ROUTE_GROUP, ROUTE_PLURAL, ROUTE_VERSION, REQUEST_TIMEOUT, Cluster, WatchStream

CANARIES = "canaries"
ROUTES = "routes"
# How long a pump waits for a snapshot before checking whether it should stop.
_PUMP_SECONDS = 0.25

Deliver = Callable[[str, streaming.Snapshot], None]  # (CANARIES or ROUTES, snapshot)


class RouteSource:
    """The two calls ``streaming.Follower`` makes on a Cluster, for HTTPRoutes instead of Canaries."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.namespace = cluster.namespace

    def list_with_version(self, *, name: str | None, all_namespaces: bool) -> tuple[list[dict[str, Any]], str]:
        listing = self._request(all_namespaces)
        return listing.get("items") or [], str((listing.get("metadata") or {}).get("resourceVersion") or "")

    def watch(self, *, name: str | None, all_namespaces: bool, resource_version: str,
              timeout_seconds: int) -> WatchStream:
        return WatchStream(self._request(all_namespaces, resource_version=resource_version,
                                         timeout_seconds=timeout_seconds, watch=True, _preload_content=False,
                                         _request_timeout=(REQUEST_TIMEOUT[0], timeout_seconds + 15)))

    def _request(self, all_namespaces: bool, **kwargs: Any) -> Any:
        custom = self.cluster.custom
        what = "HTTPRoutes in all namespaces" if all_namespaces else f"HTTPRoutes in namespace {self.namespace}"
        try:
            if all_namespaces:
                return self.cluster._call(what, custom.list_cluster_custom_object, ROUTE_GROUP, ROUTE_VERSION,
                                          ROUTE_PLURAL, **kwargs)
            return self.cluster._call(what, custom.list_namespaced_custom_object, ROUTE_GROUP, ROUTE_VERSION,
                                      self.namespace, ROUTE_PLURAL, **kwargs)
        except errors.NotFound as error:
            # The Cluster's 404 message is about the Canary CRD; for routes the Gateway API is missing.
            raise errors.ClusterError(f"{what}: the server does not serve {ROUTE_PLURAL}.{ROUTE_GROUP}/"
                                      f"{ROUTE_VERSION}; is the Gateway API installed?", status=404) from error


class Following:
    """Both watches and their pump threads; ``deliver`` is called from those threads."""

    def __init__(self, cluster: Cluster, *, all_namespaces: bool, deliver: Deliver):
        self._deliver = deliver
        self._stop = threading.Event()
        self._followers = {
            CANARIES: streaming.Follower(cluster, all_namespaces=all_namespaces),
            ROUTES: streaming.Follower(RouteSource(cluster), all_namespaces=all_namespaces),  # type: ignore[arg-type]
        }
        self._threads = [threading.Thread(target=self._pump, args=(watch, follower), daemon=True,
                                          name=f"dashboard-{watch}") for watch, follower in self._followers.items()]

    def start(self) -> Following:
        for follower in self._followers.values():
            follower.start()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        for follower in self._followers.values():
            follower.stop(timeout)
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)

    def _pump(self, watch: str, follower: streaming.Follower) -> None:
        while not self._stop.is_set():
            snapshot = follower.latest(_PUMP_SECONDS)
            if snapshot is None:
                continue
            self._deliver(watch, snapshot)
            if snapshot.final:
                return
