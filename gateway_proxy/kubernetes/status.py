"""What the Gateway API status of our objects should say, decided from one Config snapshot.

The controller (DESIGN.md section 3) counts a weight step as done only when the route's
parents report ``Accepted=True`` for the new generation, so these decisions must agree with
what the proxy actually serves: they reuse :mod:`gateway_proxy.attachment`'s admission rules
(parentRef matching, allowedRoutes, hostname intersection, ReferenceGrants) rather than a
second copy of them. Everything here is pure: no clock, no I/O. Rendering the decisions to
the wire and merging them with what is already written is :mod:`gateway_proxy.kubernetes.conditions`.

Reasons are the spec's (``apis/v1/shared_types.go``, ``gateway_types.go``,
``gatewayclass_types.go``): route Accepted → Accepted | NoMatchingParent |
NotAllowedByListeners | NoMatchingListenerHostname | UnsupportedValue | IncompatibleFilters;
route ResolvedRefs → ResolvedRefs | InvalidKind | RefNotPermitted | BackendNotFound | UnsupportedProtocol.

A Gateway's ``status.addresses`` are where clients reach the proxy, which only the operator
knows (a Service, a LoadBalancer): they come from the command line (:func:`address` checks
each one) and are the same for every Gateway, since every Gateway is served on one socket.
Our GatewayClasses list :data:`gateway_proxy.kubernetes.features.SUPPORTED_FEATURES`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from gateway_proxy import attachment, compiling, resources as r
from gateway_proxy.grpc import attaching as grpc_attaching, table as grpc_table
from gateway_proxy.kubernetes import features as kube_features

CONTROLLER = "routeshift.dev/gateway-proxy"
ROUTE_KIND = {"group": r.GATEWAY_GROUP, "kind": "HTTPRoute"}
GRPC_ROUTE_KIND = {"group": r.GATEWAY_GROUP, "kind": "GRPCRoute"}
# The route kinds a listener takes, as (group, kind) and as status renders them.
_SERVED_KINDS = ((attachment.ROUTE_KIND, ROUTE_KIND), (grpc_attaching.GRPC_KIND, GRPC_ROUTE_KIND))
TLS_SECRET = "kubernetes.io/tls"
# GatewayStatusAddress: a Hostname is an RFC 1123 DNS name without wildcard; at most 16 addresses.
_HOSTNAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
MAX_ADDRESSES = 16


@dataclass(frozen=True)
class Address:
    """One ``GatewayStatusAddress``: type IPAddress or Hostname, and the value."""

    type: str
    value: str


def address(text: str) -> Address:
    """An IP address (normalised) as IPAddress, else a DNS name as Hostname; ValueError otherwise."""
    text = text.strip()
    try:
        return Address("IPAddress", str(ipaddress.ip_address(text.strip("[]"))))
    except ValueError:
        pass
    name = text.lower().rstrip(".")
    if len(name) > 253 or not _HOSTNAME.match(name):
        raise ValueError(f"{text!r} is neither an IP address nor a DNS hostname")
    return Address("Hostname", name)


def listen_address(host: str) -> Address | None:
    """What ``--listen HOST`` tells clients, or None for a wildcard bind (0.0.0.0, ::), which says nothing."""
    try:
        if ipaddress.ip_address(host.strip("[]")).is_unspecified:
            return None
    except ValueError:
        pass
    try:
        return address(host)
    except ValueError:
        return None


@dataclass(frozen=True)
class Condition:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str
    observed_generation: int


@dataclass(frozen=True)
class GatewayClass:
    """The only part of a GatewayClass the proxy needs (the proxy's resources module has none)."""

    name: str
    controller: str
    generation: int


@dataclass(frozen=True)
class RejectedRoute:
    """An HTTPRoute whose current generation could not be parsed; its last good one may still serve."""

    namespace: str
    name: str
    generation: int
    parents: tuple[r.ParentRef, ...]
    message: str
    kind: str = "HTTPRoute"  # or GRPCRoute


@dataclass(frozen=True)
class ParentStatus:
    parent: r.ParentRef
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class ListenerStatus:
    name: str
    supported_kinds: tuple[dict, ...]
    attached_routes: int
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class GatewayStatus:
    listeners: tuple[ListenerStatus, ...]
    conditions: tuple[Condition, ...]
    addresses: tuple[Address, ...] = ()


@dataclass(frozen=True)
class ClassStatus:
    conditions: tuple[Condition, ...]
    features: tuple[str, ...] = ()  # sorted, as the spec requires


@dataclass(frozen=True)
class Statuses:
    """Our desired status of every object we are responsible for, keyed by (namespace, name)."""

    routes: dict[tuple[str, str], tuple[ParentStatus, ...]]
    gateways: dict[tuple[str, str], GatewayStatus]
    classes: dict[str, ClassStatus]
    grpc_routes: dict[tuple[str, str], tuple[ParentStatus, ...]] = field(default_factory=dict)


def parse_class(document: dict[str, Any]) -> GatewayClass:
    metadata = document.get("metadata") or {}
    spec = document.get("spec") or {}
    return GatewayClass(str(metadata.get("name", "")), str(spec.get("controllerName", "")),
                        int(metadata.get("generation") or 0))


def lenient_parents(document: dict[str, Any]) -> tuple[r.ParentRef, ...]:
    """The parentRefs of a route that failed to parse, read as far as they can be."""
    metadata = document.get("metadata") or {}
    namespace = str(metadata.get("namespace") or "default")
    out = []
    for raw in ((document.get("spec") or {}).get("parentRefs") or ()):
        if not isinstance(raw, dict) or not raw.get("name"):
            continue
        port = raw.get("port")
        out.append(r.ParentRef(str(raw.get("group", r.GATEWAY_GROUP) or ""), str(raw.get("kind", "Gateway")),
                               str(raw.get("namespace") or namespace), str(raw["name"]), raw.get("sectionName"),
                               int(port) if isinstance(port, int) else None))
    return tuple(out)


def our_gateways(gateways: tuple[r.Gateway, ...], classes: tuple[GatewayClass, ...],
                 controller: str) -> tuple[r.Gateway, ...]:
    """Gateways whose GatewayClass names ``controller``: the only ones this proxy serves."""
    ours = {c.name for c in classes if c.controller == controller}
    return tuple(g for g in gateways if g.class_name in ours)


def _condition(kind: str, ok: bool, reason: str, message: str, generation: int) -> Condition:
    return Condition(kind, "True" if ok else "False", reason, message, generation)


def _selects(parent: r.ParentRef, gateway: r.Gateway) -> bool:
    return (parent.group == r.GATEWAY_GROUP and parent.kind == "Gateway"
            and parent.namespace == gateway.meta.namespace and parent.name == gateway.meta.name)


def _listener_named(parent: r.ParentRef, listener: r.Listener) -> bool:
    return ((parent.section_name is None or parent.section_name == listener.name)
            and (parent.port is None or parent.port == listener.port))


def _accepts_routes(listener: r.Listener, kind: tuple[str, str] = attachment.ROUTE_KIND) -> bool:
    return listener.protocol in attachment.SERVED_PROTOCOLS and (not listener.kinds or kind in listener.kinds)


def _group_kind(route) -> tuple[str, str]:
    return grpc_attaching.GRPC_KIND if isinstance(route, r.GRPCRoute) else attachment.ROUTE_KIND


def _accepted(route: r.HTTPRoute | r.GRPCRoute, gateway: r.Gateway, parent: r.ParentRef, labels,
              lost: frozenset = frozenset()) -> Condition:
    generation = route.meta.generation
    named = [l for l in gateway.listeners if _listener_named(parent, l)]
    if not named:
        wanted = " ".join(part for part in (parent.section_name and f"sectionName {parent.section_name!r}",
                                            parent.port is not None and f"port {parent.port}") if part)
        return _condition("Accepted", False, "NoMatchingParent", f"no listener matches {wanted}", generation)
    kind = _group_kind(route)
    allowed = [l for l in named if _accepts_routes(l, kind) and attachment.allows(gateway, l, route, labels, kind)]
    if not allowed:
        return _condition("Accepted", False, "NotAllowedByListeners",
                          "no listener's allowedRoutes admits this route", generation)
    if not any(attachment.intersect(l.hostname, route.hostnames) for l in allowed):
        return _condition("Accepted", False, "NoMatchingListenerHostname",
                          "no listener hostname intersects the route's hostnames", generation)
    if lost and all((gateway.meta.namespace, gateway.meta.name, l.name) in lost for l in allowed
                    if attachment.intersect(l.hostname, route.hostnames)):
        return _condition("Accepted", False, grpc_attaching.REJECTED_REASON,
                          "an older route of the other kind (HTTPRoute/GRPCRoute) serves its hostnames here",
                          generation)
    problem_of = grpc_table.rule_problem if kind == grpc_attaching.GRPC_KIND else compiling.rule_problem
    problems = [problem_of(rule) for rule in route.rules]
    if problems and all(problems):
        reason, message = problems[0]
        return _condition("Accepted", False, reason, f"no rule can be programmed: {message}", generation)
    broken = [f"rule {index}: {problem[1]}" for index, problem in enumerate(problems) if problem]
    message = "accepted" + (f"; answered with 500: {'; '.join(broken)}" if broken else "")
    return _condition("Accepted", True, "Accepted", message, generation)


def _backend_problem(ref: r.BackendRef, route: r.HTTPRoute, resolver: attachment.Resolver,
                     services: dict) -> tuple[str, str] | None:
    # The same order of checks as attachment.Resolver.resolve, with the spec's reason names.
    label = f"{ref.kind} {ref.namespace}/{ref.name}"
    if ref.group not in ("", "core") or ref.kind != "Service":
        return "InvalidKind", f"{ref.group or 'core'}/{ref.kind} {ref.name} is not a supported backend kind"
    route_kind = _group_kind(route)[1]
    if ref.namespace != route.meta.namespace and not resolver.granted(route.meta.namespace, ref.namespace,
                                                                      "Service", ref.name, route_kind):
        return "RefNotPermitted", f"{label}: no ReferenceGrant allows this cross-namespace reference"
    if ref.port is None:
        return "UnsupportedValue", f"{label}: backendRef without port"
    service = services.get((ref.namespace, ref.name))
    if service is None:
        return "BackendNotFound", f"{label} not found"
    port = next((port for port in service.ports if port.port == ref.port), None)
    if port is None:
        return "BackendNotFound", f"{label} has no port {ref.port}"
    problem = (attachment.grpc_app_protocol_problem if route_kind == "GRPCRoute"
               else attachment.app_protocol_problem)(port.app_protocol)  # GEP-1911
    if problem:
        return "UnsupportedProtocol", f"{label} port {ref.port}: {problem}"
    return None


# When several backendRefs fail for different reasons, the condition shows the most fundamental.
_REF_REASONS = ("InvalidKind", "RefNotPermitted", "UnsupportedValue", "BackendNotFound", "UnsupportedProtocol")


def _resolved_refs(route: r.HTTPRoute, resolver: attachment.Resolver, services: dict) -> Condition:
    problems = []
    for rule in route.rules:
        for ref in rule.backends + rule.filters.mirrors:
            problem = _backend_problem(ref, route, resolver, services)
            if problem is not None:
                problems.append(problem)
    if not problems:
        return _condition("ResolvedRefs", True, "ResolvedRefs", "all references resolved", route.meta.generation)
    reason = min((reason for reason, _ in problems), key=_REF_REASONS.index)
    message = "; ".join(dict.fromkeys(message for _, message in problems))
    return _condition("ResolvedRefs", False, reason, message, route.meta.generation)


def route_parents(route: r.HTTPRoute | r.GRPCRoute, gateways: dict, labels, resolver, services,
                  lost: frozenset = frozenset()) -> tuple[ParentStatus, ...]:
    """One entry per parentRef of the route that names one of our Gateways.

    ``lost``: the (gateway namespace, name, listener) where the route lost a hostname clash
    with a route of the other kind (grpc.attaching.settle)."""
    out = []
    resolved = None
    for parent in route.parents:
        gateway = gateways.get((parent.namespace, parent.name))
        if gateway is None or not _selects(parent, gateway):
            continue
        if resolved is None:
            resolved = _resolved_refs(route, resolver, services)
        out.append(ParentStatus(parent, (_accepted(route, gateway, parent, labels, lost), resolved)))
    return tuple(out)


def _rejected_parents(rejected: RejectedRoute, gateways: dict) -> tuple[ParentStatus, ...]:
    condition = _condition("Accepted", False, "UnsupportedValue", rejected.message, rejected.generation)
    return tuple(ParentStatus(parent, (condition,)) for parent in rejected.parents
                 if (parent.namespace, parent.name) in gateways and _selects(parent, gateways[(parent.namespace, parent.name)]))


def _certificate_problem(gateway: r.Gateway, listener: r.Listener, secrets: dict,
                         resolver: attachment.Resolver) -> tuple[str, str] | None:
    if listener.protocol != "HTTPS":
        return None
    if not listener.certificate_refs:
        return "InvalidCertificateRef", "an HTTPS listener needs a certificateRef"
    for namespace, name in listener.certificate_refs:
        if namespace != gateway.meta.namespace and not _secret_granted(resolver, gateway.meta.namespace,
                                                                          namespace, name):
            return "RefNotPermitted", f"Secret {namespace}/{name}: no ReferenceGrant allows this reference"
        secret = secrets.get((namespace, name))
        if secret is None or secret.type != TLS_SECRET:
            return "InvalidCertificateRef", f"Secret {namespace}/{name} is not a {TLS_SECRET} Secret"
    return None


def _secret_granted(resolver: attachment.Resolver, from_namespace: str, to_namespace: str, name: str) -> bool:
    for grant in resolver.config.grants:
        if grant.meta.namespace != to_namespace:
            continue
        if any(g == r.GATEWAY_GROUP and k == "Gateway" and ns == from_namespace for g, k, ns in grant.sources) and \
                any(g in ("", "core") and k == "Secret" and n in (None, name) for g, k, n in grant.targets):
            return True
    return False


def _listener_status(gateway: r.Gateway, listener: r.Listener, attached: int, secrets, resolver) -> ListenerStatus:
    generation = gateway.meta.generation
    supported = listener.protocol in attachment.SERVED_PROTOCOLS
    served_kinds = [rendered for kind, rendered in _SERVED_KINDS if not listener.kinds or kind in listener.kinds]
    kinds_ok = not listener.kinds or all(kind in dict(_SERVED_KINDS) for kind in listener.kinds)
    certificate = _certificate_problem(gateway, listener, secrets, resolver)
    conditions = [
        _condition("Accepted", supported, "Accepted" if supported else "UnsupportedProtocol",
                   "listener accepted" if supported else f"protocol {listener.protocol} is not served", generation),
    ]
    if not kinds_ok:
        resolved = _condition("ResolvedRefs", False, "InvalidRouteKinds", "only HTTPRoute and GRPCRoute are supported",
                              generation)
    elif certificate is not None:
        resolved = _condition("ResolvedRefs", False, certificate[0], certificate[1], generation)
    else:
        resolved = _condition("ResolvedRefs", True, "ResolvedRefs", "references resolved", generation)
    programmed = supported and certificate is None
    conditions += [resolved,
                   _condition("Programmed", programmed, "Programmed" if programmed else "Invalid",
                              "listener programmed" if programmed else "listener not programmed", generation),
                   _condition("Conflicted", False, "NoConflicts", "no conflicts", generation)]
    kinds = tuple(dict(rendered) for rendered in served_kinds) if supported else ()
    return ListenerStatus(listener.name, kinds, attached if supported else 0, tuple(conditions))


def _gateway_status(gateway: r.Gateway, attached: dict, secrets, resolver,
                    addresses: tuple[Address, ...]) -> GatewayStatus:
    listeners = tuple(_listener_status(gateway, l, attached.get((gateway.meta.namespace, gateway.meta.name, l.name), 0),
                                       secrets, resolver) for l in gateway.listeners)
    generation = gateway.meta.generation
    valid = any(l.conditions[0].status == "True" for l in listeners)
    programmed = any(c.type == "Programmed" and c.status == "True" for l in listeners for c in l.conditions)
    return GatewayStatus(listeners, (
        _condition("Accepted", valid, "Accepted" if valid else "ListenersNotValid",
                   "gateway accepted" if valid else "no listener is valid", generation),
        _condition("Programmed", programmed, "Programmed" if programmed else "Invalid",
                   "routes served by the gateway proxy" if programmed else "no listener can be programmed",
                   generation),
    ), addresses)


def attached_counts(config: attachment.Config) -> dict[tuple[str, str, str], int]:
    """Routes attached per (gateway namespace, gateway name, listener): by parentRefs and allowedRoutes only.

    The spec counts attachment "based solely on the combination of the AllowedRoutes field on
    the corresponding Listener and the Route's ParentRefs field", so hostnames do not matter here.
    """
    labels = attachment.namespace_labels(config)
    counts: dict[tuple[str, str, str], int] = {}
    for gateway in config.gateways:
        for listener in gateway.listeners:
            key = (gateway.meta.namespace, gateway.meta.name, listener.name)
            for routes, kind in ((config.routes, attachment.ROUTE_KIND), (config.grpc_routes, grpc_attaching.GRPC_KIND)):
                if not _accepts_routes(listener, kind):
                    continue
                counts[key] = counts.get(key, 0) + sum(
                    1 for route in routes
                    if any(_selects(p, gateway) and _listener_named(p, listener) for p in route.parents)
                    and attachment.allows(gateway, listener, route, labels, kind))
    return counts


class RouteMemo:
    """Route statuses of the last :func:`compute`, reused while nothing they depend on changed.

    A route's parent statuses depend only on the route, our Gateways, the Namespaces, the
    Services and the ReferenceGrants. Records that did not change are the very same objects
    from one snapshot to the next (the caller keeps them), so identity tells "unchanged"
    without comparing; a weight patch on one route of thousands recomputes one route.
    """

    def __init__(self) -> None:
        self._environment: tuple = ()
        self._routes: dict[tuple[str, str], tuple[r.HTTPRoute, tuple[ParentStatus, ...]]] = {}

    def check(self, environment: tuple[tuple, ...]) -> None:
        """Forget everything unless ``environment`` holds the same objects as last time."""
        same = len(environment) == len(self._environment) and all(
            len(now) == len(before) and all(a is b for a, b in zip(now, before))
            for now, before in zip(environment, self._environment))
        if not same:
            self._environment = environment
            self._routes = {}

    def get(self, key: tuple, route) -> tuple[ParentStatus, ...] | None:
        found = self._routes.get(key)
        return found[1] if found is not None and found[0] is route else None

    def put(self, key: tuple, route, parents: tuple[ParentStatus, ...]) -> None:
        self._routes[key] = (route, parents)


def compute(config: attachment.Config, classes: tuple[GatewayClass, ...], controller: str = CONTROLLER,
            rejected: tuple[RejectedRoute, ...] = (), memo: RouteMemo | None = None,
            addresses: tuple[Address, ...] = ()) -> Statuses:
    """Desired status of our GatewayClasses, our Gateways (those in ``config``) and every route naming them.

    ``config.gateways`` must already be only ours (see :func:`our_gateways`). A route listed in
    ``rejected`` is reported by its rejection, whatever older generation of it ``config`` holds.
    With a ``memo``, unchanged routes keep the very status objects of the previous call.
    ``addresses`` are published on every Gateway.
    """
    labels = attachment.namespace_labels(config)
    memo = memo if memo is not None else RouteMemo()
    lost: dict[tuple, set] = {}
    environment: tuple = (config.gateways, config.namespaces, config.services, config.grants)
    if config.grpc_routes:
        # A route's acceptance then depends on the routes of the other kind (hostname clashes).
        environment += (config.routes, config.grpc_routes)
        for item in grpc_attaching.settle(config).rejected:
            key = (_group_kind(item.route)[1], item.route.meta.namespace, item.route.meta.name)
            lost.setdefault(key, set()).add((item.gateway.meta.namespace, item.gateway.meta.name, item.listener.name))
    memo.check(environment)
    resolver = attachment.Resolver(config)
    services = {(s.meta.namespace, s.meta.name): s for s in config.services}
    secrets = {(s.meta.namespace, s.meta.name): s for s in config.secrets}
    gateways = {(g.meta.namespace, g.meta.name): g for g in config.gateways}
    by_kind: dict[str, dict] = {"HTTPRoute": {}, "GRPCRoute": {}}
    for kind, kind_routes in (("HTTPRoute", config.routes), ("GRPCRoute", config.grpc_routes)):
        refused = {(item.namespace, item.name): item for item in rejected if item.kind == kind}
        routes = by_kind[kind]
        for route in kind_routes:
            key = (route.meta.namespace, route.meta.name)
            if key in refused:
                continue
            parents = memo.get((kind,) + key, route)
            if parents is None:
                parents = route_parents(route, gateways, labels, resolver, services,
                                        frozenset(lost.get((kind,) + key, ())))
                memo.put((kind,) + key, route, parents)
            routes[key] = parents
        for key, item in refused.items():
            routes[key] = _rejected_parents(item, gateways)
    attached = attached_counts(config)
    return Statuses(
        routes=by_kind["HTTPRoute"],
        grpc_routes=by_kind["GRPCRoute"],
        gateways={key: _gateway_status(g, attached, secrets, resolver, addresses) for key, g in gateways.items()},
        classes={c.name: ClassStatus((_condition("Accepted", True, "Accepted", "handled by the routeshift gateway proxy",
                                                 c.generation),), kube_features.SUPPORTED_FEATURES)
                 for c in classes if c.controller == controller},
    )
