"""The resources the controller caches, and the URLs they are listed and watched at.

Routes and Services are read by every Canary; Deployments by Canaries in workload form
(their target and its primary). A ``namespace`` of None means cluster-wide, which is what
a controller started without ``--namespace`` watches; with ``--namespace`` it watches
exactly those namespaces, and a read outside them goes to the API server as before.
"""

from __future__ import annotations

import dataclasses

from rollouts import routes


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


HTTPROUTES = Kind("httproutes", routes.GATEWAY_GROUP, routes.HTTPROUTE_VERSION, routes.HTTPROUTE_PLURAL)
SERVICES = Kind("services", "", "v1", "services")
DEPLOYMENTS = Kind("deployments", "apps", "v1", "deployments")
ALL = (HTTPROUTES, SERVICES, DEPLOYMENTS)
