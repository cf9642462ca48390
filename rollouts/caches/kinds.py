"""The resources the controller caches, and the URLs they are listed and watched at.

Routes (HTTPRoutes and GRPCRoutes, one cache each) and Services are read by every Canary;
Deployments by Canaries in workload form
(their target and its primary). A ``namespace`` of None means cluster-wide, which is what
a controller started without ``--namespace`` watches; with ``--namespace`` it watches
exactly those namespaces, and a read outside them goes to the API server as before.
"""

from __future__ import annotations

import dataclasses

from rollouts import route_kinds
from rollouts.route_kinds import RouteKind


@dataclasses.dataclass(frozen=True)
class Kind:
    """One cached resource type."""

    name: str  # how logs and metrics call it
    group: str  # "" for the core API
    version: str
    plural: str

    def path(self, namespace: str | None, name: str | None = None) -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        base = f"{prefix}/namespaces/{namespace}/{self.plural}" if namespace else f"{prefix}/{self.plural}"
        return base if name is None else f"{base}/{name}"


HTTPROUTES = Kind("httproutes", route_kinds.GROUP, route_kinds.VERSION, route_kinds.PLURALS[RouteKind.HTTP_ROUTE])
GRPCROUTES = Kind("grpcroutes", route_kinds.GROUP, route_kinds.VERSION, route_kinds.PLURALS[RouteKind.GRPC_ROUTE])
SERVICES = Kind("services", "", "v1", "services")
DEPLOYMENTS = Kind("deployments", "apps", "v1", "deployments")
ALL = (HTTPROUTES, GRPCROUTES, SERVICES, DEPLOYMENTS)
#: The cache of each route kind.
ROUTES = {RouteKind.HTTP_ROUTE: HTTPROUTES, RouteKind.GRPC_ROUTE: GRPCROUTES}
