"""Which routes attach to which listeners, under which hostnames, and where backendRefs point.

These are the Gateway API's admission rules, kept pure so the file loader and the Kubernetes
watcher share them: parentRefs (sectionName, port), allowedRoutes (namespaces Same/All/Selector,
kinds), hostname intersection between listener and route, ReferenceGrants for cross-namespace
references, and Service resolution through EndpointSlices (ready endpoints only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway_proxy import resources as r

ROUTE_KIND = (r.GATEWAY_GROUP, "HTTPRoute")
SERVED_PROTOCOLS = ("HTTP", "HTTPS")
# Service port appProtocol values (KEP-3726) the proxy cannot speak to a backend. GEP-1911 makes
# such a backendRef invalid (ResolvedRefs False, UnsupportedProtocol; its share answered 500).
# kubernetes.io/ws is spoken: its handshake is HTTP/1.1 and upgrades are tunnelled (tunnel.py).
WEBSOCKET = "kubernetes.io/ws"
UNSPOKEN_APP_PROTOCOLS = {"kubernetes.io/h2c": "HTTP/2 over cleartext", "kubernetes.io/wss": "WebSocket over TLS"}


def app_protocol_problem(app_protocol: str) -> str:
    """Why a Service port's appProtocol cannot be served, or "" when it can."""
    spoken = UNSPOKEN_APP_PROTOCOLS.get(app_protocol)
    if spoken is None:
        return ""
    return f"appProtocol {app_protocol} ({spoken}) is not supported: the proxy speaks HTTP/1.1 to backends"


# What a GRPCRoute backend's Service port may declare: unset, plain HTTP or HTTP/2 names (KEP-3726
# and the names Istio-style port conventions use); kubernetes.io/ws or wss, say, cannot carry gRPC.
GRPC_CARRYING_APP_PROTOCOLS = frozenset(("", "kubernetes.io/h2c", "http", "http2", "h2c", "grpc"))


def grpc_app_protocol_problem(app_protocol: str) -> str:
    """Why a GRPCRoute cannot reach a Service port: it is spoken to in h2c whatever the port says,
    as GRPCBackendRef allows (the protocol inferred from the route type), unless it names
    another protocol the proxy knows it cannot carry gRPC over."""
    if app_protocol.lower() in GRPC_CARRYING_APP_PROTOCOLS:
        return ""
    return f"appProtocol {app_protocol} cannot carry gRPC: a GRPCRoute's backends are spoken to in h2c"


@dataclass(frozen=True)
class Config:
    """Every object the proxy knows, as one immutable snapshot."""

    namespaces: tuple[r.Namespace, ...] = ()
    gateways: tuple[r.Gateway, ...] = ()
    routes: tuple[r.HTTPRoute, ...] = ()
    services: tuple[r.Service, ...] = ()
    slices: tuple[r.EndpointSlice, ...] = ()
    grants: tuple[r.ReferenceGrant, ...] = ()
    secrets: tuple[r.Secret, ...] = ()
    grpc_routes: tuple[r.GRPCRoute, ...] = ()  # served over HTTP/2 (gateway_proxy.grpc, gateway_proxy.http2)

    @classmethod
    def of(cls, objects) -> "Config":
        buckets: dict[type, list] = {}
        for obj in objects:
            buckets.setdefault(type(obj), []).append(obj)
        return cls(*(tuple(buckets.get(kind, ())) for kind in
                     (r.Namespace, r.Gateway, r.HTTPRoute, r.Service, r.EndpointSlice, r.ReferenceGrant, r.Secret,
                      r.GRPCRoute)))


@dataclass(frozen=True)
class Resolved:
    """A backendRef after resolution: ``status`` 0 serves, 500 cannot resolve, 503 none ready."""

    namespace: str
    name: str
    status: int
    endpoints: tuple[tuple[str, int], ...] = ()
    reason: str = ""
    app_protocol: str = ""  # the Service port's, for what serves it (the C data plane does not tunnel)


@dataclass
class Resolver:
    """Indexes a Config once so each backendRef resolves in constant time."""

    config: Config
    _services: dict = field(init=False)
    _slices: dict = field(init=False)
    _grants: dict = field(init=False)

    def __post_init__(self):
        self._services = {(s.meta.namespace, s.meta.name): s for s in self.config.services}
        self._slices = {}
        for endpoint_slice in self.config.slices:
            key = (endpoint_slice.meta.namespace, endpoint_slice.service_name)
            self._slices.setdefault(key, []).append(endpoint_slice)
        self._grants = {}
        for grant in self.config.grants:
            self._grants.setdefault(grant.meta.namespace, []).append(grant)

    def granted(self, from_namespace: str, to_namespace: str, kind: str, name: str,
                route_kind: str = "HTTPRoute") -> bool:
        """A ReferenceGrant in the target namespace lets routes of ``from_namespace`` refer."""
        for grant in self._grants.get(to_namespace, ()):
            source_ok = any(group == r.GATEWAY_GROUP and source_kind == route_kind and namespace == from_namespace
                            for group, source_kind, namespace in grant.sources)
            target_ok = any(group in ("", "core") and target_kind == kind and target_name in (None, name)
                            for group, target_kind, target_name in grant.targets)
            if source_ok and target_ok:
                return True
        return False

    def resolve(self, ref: r.BackendRef, route_namespace: str, route_kind: str = "HTTPRoute") -> Resolved:
        """Where ``ref`` points; a GRPCRoute's are spoken to in h2c (gateway_proxy.http2.upstream)."""
        def invalid(reason: str) -> Resolved:
            return Resolved(ref.namespace, ref.name, 500, (), reason)

        if ref.group not in ("", "core") or ref.kind != "Service":
            return invalid(f"unsupported backend kind {ref.group or 'core'}/{ref.kind}")
        if ref.namespace != route_namespace and not self.granted(route_namespace, ref.namespace, "Service", ref.name,
                                                                 route_kind):
            return invalid("cross-namespace reference without a ReferenceGrant")
        if ref.port is None:
            return invalid("backendRef without port")
        service = self._services.get((ref.namespace, ref.name))
        if service is None:
            return invalid("service not found")
        service_port = next((p for p in service.ports if p.port == ref.port), None)
        if service_port is None:
            return invalid(f"service has no port {ref.port}")
        problem = (grpc_app_protocol_problem if route_kind == "GRPCRoute" else app_protocol_problem)(
            service_port.app_protocol)
        if problem:
            return invalid(problem)
        endpoints: list[tuple[str, int]] = []
        for endpoint_slice in self._slices.get((ref.namespace, ref.name), ()):
            for port_name, port in endpoint_slice.ports:
                if port_name == service_port.name:
                    endpoints.extend((address, port) for address in endpoint_slice.addresses)
        unique = tuple(dict.fromkeys(endpoints))
        if not unique:
            return Resolved(ref.namespace, ref.name, 503, (), "no ready endpoints")
        return Resolved(ref.namespace, ref.name, 0, unique, "", service_port.app_protocol)


def namespace_labels(config: Config) -> dict[str, dict[str, str]]:
    """Namespace labels for allowedRoutes selectors, with the well-known name label every namespace has."""
    labels = {ns.meta.name: dict(ns.meta.labels) for ns in config.namespaces}
    for name, values in labels.items():
        values.setdefault("kubernetes.io/metadata.name", name)
    return labels


def allows(gateway: r.Gateway, listener: r.Listener, route: r.HTTPRoute, labels: dict[str, dict[str, str]],
           kind: tuple[str, str] = ROUTE_KIND) -> bool:
    """Listener allowedRoutes: namespaces and kinds."""
    if listener.kinds and kind not in listener.kinds:
        return False
    namespace = route.meta.namespace
    if listener.namespaces_from == "All":
        return True
    if listener.namespaces_from == "Same":
        return namespace == gateway.meta.namespace
    ns_labels = labels.get(namespace, {"kubernetes.io/metadata.name": namespace})
    return listener.selector is not None and listener.selector.matches(ns_labels)


def _wildcard_covers(wildcard: str, hostname: str) -> bool:
    # "*.example.com" covers one or more labels in front of ".example.com", never the apex.
    return hostname.endswith(wildcard[1:]) and len(hostname) > len(wildcard) - 1


def intersect(listener_hostname: str | None, route_hostnames: tuple[str, ...]) -> tuple[str | None, ...]:
    """Effective hostnames of a route on a listener; empty means the route cannot attach."""
    if not route_hostnames:
        return (listener_hostname,)
    if listener_hostname is None:
        return tuple(dict.fromkeys(route_hostnames))
    out = []
    listener_wild = listener_hostname.startswith("*.")
    for hostname in route_hostnames:
        route_wild = hostname.startswith("*.")
        if hostname == listener_hostname:
            out.append(hostname)
        elif listener_wild and not route_wild and _wildcard_covers(listener_hostname, hostname):
            out.append(hostname)
        elif route_wild and not listener_wild and _wildcard_covers(hostname, listener_hostname):
            out.append(listener_hostname)
        elif route_wild and listener_wild:
            if _wildcard_covers(listener_hostname, hostname[2:]) or hostname == listener_hostname:
                out.append(hostname)
            elif _wildcard_covers(hostname, listener_hostname[2:]):
                out.append(listener_hostname)
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class Attachment:
    """A route served on a listener under its effective hostnames."""

    gateway: r.Gateway
    listener: r.Listener
    route: r.HTTPRoute
    hostnames: tuple[str | None, ...]


def attachments(config: Config) -> list[Attachment]:
    """Every (listener, route) pair the spec admits, in a stable order."""
    labels = namespace_labels(config)
    out = []
    for gateway in config.gateways:
        for listener in gateway.listeners:
            if listener.protocol not in SERVED_PROTOCOLS:
                continue
            for route in config.routes:
                if not _referenced(gateway, listener, route):
                    continue
                if not allows(gateway, listener, route, labels):
                    continue
                hostnames = intersect(listener.hostname, route.hostnames)
                if hostnames:
                    out.append(Attachment(gateway, listener, route, hostnames))
    return out


def _referenced(gateway: r.Gateway, listener: r.Listener, route: r.HTTPRoute) -> bool:
    for parent in route.parents:
        if parent.group != r.GATEWAY_GROUP or parent.kind != "Gateway":
            continue
        if parent.namespace != gateway.meta.namespace or parent.name != gateway.meta.name:
            continue
        if parent.section_name is not None and parent.section_name != listener.name:
            continue
        if parent.port is not None and parent.port != listener.port:
            continue
        return True
    return False
