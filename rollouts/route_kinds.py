"""The Gateway API route kinds a Canary moves traffic on, how each is addressed, and what each can say.

HTTPRoute and GRPCRoute rules carry backendRefs of the same shape (name, namespace, port,
weight), so weight steps, the acceptance check (``status.parents``), workload adoption and
session persistence work the same on both; what differs is what a rule can *match*. A
GRPCRoute match has a gRPC method and headers but no path and no query parameters, so a
Canary whose A/B or preview match tests query parameters cannot be expressed on one. That
is refused when the spec is parsed (``model.CanarySpec``), with the reason, rather than
written and then rejected by the API server or silently ignored by a gateway.

Routes are identified by :class:`RouteId` everywhere (observation, actions, caches, the
status record): an HTTPRoute and a GRPCRoute may share a name in one namespace.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

GROUP = "gateway.networking.k8s.io"
VERSION = "v1"


class RouteKind(str, enum.Enum):
    """The kind of a route a Canary references."""

    HTTP_ROUTE = "HTTPRoute"
    GRPC_ROUTE = "GRPCRoute"


PLURALS = {RouteKind.HTTP_ROUTE: "httproutes", RouteKind.GRPC_ROUTE: "grpcroutes"}


class RouteId(NamedTuple):
    """One route: (namespace, name, kind)."""

    namespace: str
    name: str
    kind: RouteKind = RouteKind.HTTP_ROUTE

    @property
    def label(self) -> str:
        """How a person reads it in messages: ``GRPCRoute shop/api``."""
        return f"{self.kind.value} {self.namespace}/{self.name}"


def path(route: RouteId) -> str:
    """The API path of one route."""
    return f"/apis/{GROUP}/{VERSION}/namespaces/{route.namespace}/{PLURALS[route.kind]}/{route.name}"


def unexpressible_match(kind: RouteKind, *, query_params: bool) -> str | None:
    """Why a controller-owned match rule cannot be written on a route of ``kind``, or None.

    The controller's match rule copies each shifted rule's matches and adds the Canary's
    conditions: headers (cookies become a ``Cookie`` header regex) exist on both kinds,
    query parameters only on HTTPRoute (GRPCRouteMatch has ``method`` and ``headers``).
    """
    if kind is RouteKind.GRPC_ROUTE and query_params:
        return "a GRPCRoute match has no query parameters (only a gRPC method and headers): use headers or cookies"
    return None
