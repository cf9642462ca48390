"""Gateway API and core objects as frozen data, parsed from YAML documents.

The proxy reads the same objects whether they come from files or the API; this module turns
their wire form (dicts) into small immutable records holding only the fields routing needs,
and rejects what cannot be routed on with an :class:`InvalidDocument` naming the source.
Nothing here decides attachment or precedence: that is :mod:`gateway_proxy.attachment`.
"""

from __future__ import annotations

import base64
import datetime
import re
from dataclasses import dataclass, field
from typing import Any

from gateway_proxy.errors import InvalidDocument

GATEWAY_GROUP = "gateway.networking.k8s.io"
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")


@dataclass(frozen=True)
class Meta:
    namespace: str
    name: str
    labels: tuple[tuple[str, str], ...] = ()
    created: float = 0.0
    generation: int = 0


@dataclass(frozen=True)
class Namespace:
    meta: Meta


@dataclass(frozen=True)
class LabelSelector:
    match_labels: tuple[tuple[str, str], ...] = ()
    # (key, operator, values): operators In, NotIn, Exists, DoesNotExist as in metav1.
    match_expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        for key, operator, values in self.match_expressions:
            present = key in labels
            if operator == "In" and not (present and labels[key] in values):
                return False
            if operator == "NotIn" and present and labels[key] in values:
                return False
            if operator == "Exists" and not present:
                return False
            if operator == "DoesNotExist" and present:
                return False
        return True


@dataclass(frozen=True)
class Listener:
    name: str
    port: int
    protocol: str
    hostname: str | None
    namespaces_from: str = "Same"
    selector: LabelSelector | None = None
    kinds: tuple[tuple[str, str], ...] = ()  # (group, kind); empty means the protocol's default
    certificate_refs: tuple[tuple[str, str], ...] = ()  # (namespace, name) of kubernetes.io/tls Secrets


@dataclass(frozen=True)
class Gateway:
    meta: Meta
    class_name: str
    listeners: tuple[Listener, ...]


@dataclass(frozen=True)
class ParentRef:
    group: str
    kind: str
    namespace: str
    name: str
    section_name: str | None
    port: int | None


@dataclass(frozen=True)
class HeaderMatch:
    name: str
    kind: str  # Exact | RegularExpression
    value: str


@dataclass(frozen=True)
class RouteMatch:
    path_kind: str  # Exact | PathPrefix | RegularExpression
    path_value: str
    headers: tuple[HeaderMatch, ...] = ()
    queries: tuple[HeaderMatch, ...] = ()
    method: str | None = None


@dataclass(frozen=True)
class HeaderModifier:
    set: tuple[tuple[str, str], ...] = ()
    add: tuple[tuple[str, str], ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True)
class PathModifier:
    kind: str  # ReplaceFullPath | ReplacePrefixMatch
    value: str


@dataclass(frozen=True)
class Redirect:
    scheme: str | None
    hostname: str | None
    port: int | None
    path: PathModifier | None
    status: int


@dataclass(frozen=True)
class Rewrite:
    hostname: str | None
    path: PathModifier | None


@dataclass(frozen=True)
class BackendRef:
    group: str
    kind: str
    namespace: str
    name: str
    port: int | None
    weight: int
    filters: Filters | None = None  # backendRef-level filters, applied after the rule's


@dataclass(frozen=True)
class MirrorRef(BackendRef):
    """A RequestMirror's backendRef and the share of requests it copies (Gateway API v1.2+).

    Kept as written, unset fields None: whether the values are valid is a rule problem
    (``compiling.rule_problem``), reported in the route's status like other bad filters,
    not a reason to reject the whole document.
    """

    percent: int | None = None
    fraction: tuple[int, int] | None = None  # (numerator, denominator)


@dataclass(frozen=True)
class CorsFilter:
    """A CORS filter as written; whether its values are valid is a rule problem (``cors.problem``)."""

    allow_origins: tuple[str, ...] = ()
    allow_credentials: bool = False
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None  # seconds; None = the spec's default


@dataclass(frozen=True)
class Filters:
    request_headers: HeaderModifier | None = None
    response_headers: HeaderModifier | None = None
    redirect: Redirect | None = None
    rewrite: Rewrite | None = None
    mirrors: tuple[MirrorRef, ...] = ()
    unsupported: tuple[str, ...] = ()
    cors: tuple[CorsFilter, ...] = ()  # more than one is a rule problem, not silently merged


@dataclass(frozen=True)
class Retry:
    """``rules[].retry`` as written (seconds for durations, None = unset); checked by ``retries.problem``."""

    codes: tuple[int, ...] = ()
    attempts: int | None = None
    backoff: float | None = None


@dataclass(frozen=True)
class SessionPersistence:
    """``rules[].sessionPersistence`` as written; checked by ``sessions.problem``."""

    name: str | None = None
    kind: str = "Cookie"  # Cookie | Header
    absolute_timeout: float | None = None
    idle_timeout: float | None = None
    lifetime: str = "Session"  # cookieConfig.lifetimeType: Session | Permanent


@dataclass(frozen=True)
class RouteRule:
    matches: tuple[RouteMatch, ...]
    filters: Filters
    backends: tuple[BackendRef, ...]
    request_timeout: float | None = None  # seconds; None = disabled
    backend_timeout: float | None = None
    retry: Retry | None = None
    session: SessionPersistence | None = None


@dataclass(frozen=True)
class HTTPRoute:
    meta: Meta
    parents: tuple[ParentRef, ...]
    hostnames: tuple[str, ...]
    rules: tuple[RouteRule, ...]


@dataclass(frozen=True)
class MethodMatch:
    """A GRPCRoute ``method`` match: ``service`` and/or ``method`` (None = any), Exact or RegularExpression."""

    kind: str  # Exact | RegularExpression
    service: str | None
    method: str | None


@dataclass(frozen=True)
class GRPCMatch:
    method: MethodMatch | None = None  # None matches every service and method
    headers: tuple[HeaderMatch, ...] = ()


@dataclass(frozen=True)
class GRPCRule:
    matches: tuple[GRPCMatch, ...]  # empty matches every request
    filters: Filters
    backends: tuple[BackendRef, ...]
    session: SessionPersistence | None = None


@dataclass(frozen=True)
class GRPCRoute:
    """A GRPCRoute (gateway.networking.k8s.io/v1); served over HTTP/2 by :mod:`gateway_proxy.http2`."""

    meta: Meta
    parents: tuple[ParentRef, ...]
    hostnames: tuple[str, ...]
    rules: tuple[GRPCRule, ...]


@dataclass(frozen=True)
class ServicePort:
    name: str
    port: int
    app_protocol: str = ""  # e.g. kubernetes.io/ws (KEP-3726, GEP-1911); "" when unset


@dataclass(frozen=True)
class Service:
    meta: Meta
    ports: tuple[ServicePort, ...]


@dataclass(frozen=True)
class EndpointSlice:
    meta: Meta
    service_name: str
    ports: tuple[tuple[str, int], ...]  # (port name, port number)
    addresses: tuple[str, ...]  # ready endpoints only


@dataclass(frozen=True)
class ReferenceGrant:
    meta: Meta
    sources: tuple[tuple[str, str, str], ...]  # (group, kind, namespace)
    targets: tuple[tuple[str, str, str | None], ...]  # (group, kind, name or None for all)


@dataclass(frozen=True)
class Secret:
    meta: Meta
    type: str
    data: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)


def parse_duration(text: str, source: str) -> float | None:
    """Gateway API durations ("10s", "1m30s", "500ms"); "0s" means disabled."""
    match = _DURATION.match(str(text).strip())
    if not match or not any(match.groups()):
        raise InvalidDocument(source, f"invalid duration {text!r}")
    hours, minutes, seconds, millis = (int(group or 0) for group in match.groups())
    total = hours * 3600 + minutes * 60 + seconds + millis / 1000
    return total or None


def parse(document: dict[str, Any], source: str) -> Any:
    """One document to its record, or None for kinds the proxy has no use for."""
    if not isinstance(document, dict):
        raise InvalidDocument(source, "a document must be a mapping")
    kind = document.get("kind")
    parser = _PARSERS.get(kind)
    if parser is None:
        return None
    try:
        return parser(document, _meta(document, source), source)
    except InvalidDocument:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, re.error) as error:
        raise InvalidDocument(source, f"{kind}: {error!r}") from error


def _meta(document: dict[str, Any], source: str) -> Meta:
    metadata = document.get("metadata") or {}
    name = metadata.get("name")
    if not name:
        raise InvalidDocument(source, f"{document.get('kind')} without metadata.name")
    namespace = metadata.get("namespace") or "default"
    if document.get("kind") == "Namespace":
        namespace = ""
    labels = tuple(sorted((str(k), str(v)) for k, v in (metadata.get("labels") or {}).items()))
    return Meta(namespace, str(name), labels, _timestamp(metadata.get("creationTimestamp"), source),
                int(metadata.get("generation") or 0))


def _timestamp(value: Any, source: str) -> float:
    if value is None:
        return 0.0
    if isinstance(value, datetime.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    else:
        try:
            stamp = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as error:
            raise InvalidDocument(source, f"invalid creationTimestamp {value!r}") from error
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.timezone.utc)
    return (stamp - _EPOCH).total_seconds()


def _selector(raw: dict[str, Any] | None) -> LabelSelector:
    raw = raw or {}
    labels = tuple(sorted((str(k), str(v)) for k, v in (raw.get("matchLabels") or {}).items()))
    expressions = []
    for expression in raw.get("matchExpressions") or ():
        operator = expression["operator"]
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"unknown selector operator {operator!r}")
        expressions.append((expression["key"], operator, tuple(str(v) for v in expression.get("values") or ())))
    return LabelSelector(labels, tuple(expressions))


def _namespace(document: dict, meta: Meta, source: str) -> Namespace:
    return Namespace(meta)


def _gateway(document: dict, meta: Meta, source: str) -> Gateway:
    spec = document.get("spec") or {}
    listeners = []
    for raw in spec.get("listeners") or ():
        allowed = (raw.get("allowedRoutes") or {})
        namespaces = allowed.get("namespaces") or {}
        namespaces_from = namespaces.get("from", "Same")
        if namespaces_from not in ("Same", "All", "Selector"):
            raise InvalidDocument(source, f"listener {raw.get('name')}: unknown namespaces.from {namespaces_from!r}")
        selector = _selector(namespaces.get("selector")) if namespaces_from == "Selector" else None
        kinds = tuple((k.get("group", GATEWAY_GROUP) or "", k["kind"]) for k in allowed.get("kinds") or ())
        tls = raw.get("tls") or {}
        certs = tuple((ref.get("namespace") or meta.namespace, ref["name"]) for ref in tls.get("certificateRefs") or ())
        hostname = raw.get("hostname")
        listeners.append(Listener(str(raw["name"]), int(raw["port"]), str(raw.get("protocol", "HTTP")),
                                  str(hostname).lower() if hostname else None, namespaces_from, selector, kinds, certs))
    return Gateway(meta, str(spec.get("gatewayClassName", "")), tuple(listeners))


def _header_matches(raw_list: Any, lower: bool) -> tuple[HeaderMatch, ...]:
    seen: set[str] = set()
    out = []
    for raw in raw_list or ():
        name = str(raw["name"])
        key = name.lower() if lower else name
        # The spec: when names repeat, only the first entry counts.
        if key in seen:
            continue
        seen.add(key)
        kind = raw.get("type", "Exact")
        if kind not in ("Exact", "RegularExpression"):
            raise ValueError(f"unsupported match type {kind!r}")
        if kind == "RegularExpression":
            re.compile(str(raw["value"]))
        out.append(HeaderMatch(key, kind, str(raw["value"])))
    return tuple(out)


def _route_match(raw: dict) -> RouteMatch:
    path = raw.get("path") or {}
    path_kind = path.get("type", "PathPrefix")
    path_value = str(path.get("value", "/"))
    if path_kind not in ("Exact", "PathPrefix", "RegularExpression"):
        raise ValueError(f"unsupported path match type {path_kind!r}")
    if path_kind == "RegularExpression":
        re.compile(path_value)
    elif not path_value.startswith("/"):
        raise ValueError(f"path {path_value!r} must start with '/'")
    method = raw.get("method")
    return RouteMatch(path_kind, path_value, _header_matches(raw.get("headers"), True),
                      _header_matches(raw.get("queryParams"), False), str(method).upper() if method else None)


def _header_modifier(raw: dict) -> HeaderModifier:
    return HeaderModifier(tuple((str(h["name"]), str(h["value"])) for h in raw.get("set") or ()),
                          tuple((str(h["name"]), str(h["value"])) for h in raw.get("add") or ()),
                          tuple(str(name) for name in raw.get("remove") or ()))


def _path_modifier(raw: dict | None) -> PathModifier | None:
    if not raw:
        return None
    kind = raw["type"]
    if kind == "ReplaceFullPath":
        return PathModifier(kind, str(raw.get("replaceFullPath", "/")))
    if kind == "ReplacePrefixMatch":
        return PathModifier(kind, str(raw.get("replacePrefixMatch", "")))
    raise ValueError(f"unsupported path modifier {kind!r}")


def _backend_ref(raw: dict, namespace: str) -> BackendRef:
    port = raw.get("port")
    filters = _filters(raw["filters"], namespace) if raw.get("filters") else None
    return BackendRef(str(raw.get("group", "") or ""), str(raw.get("kind", "Service") or "Service"),
                      str(raw.get("namespace") or namespace), str(raw["name"]),
                      int(port) if port is not None else None, int(raw.get("weight", 1)), filters)


def _mirror_ref(raw: dict, namespace: str) -> MirrorRef:
    ref = _backend_ref(raw["backendRef"], namespace)
    percent = raw.get("percent")
    fraction = raw.get("fraction")
    return MirrorRef(ref.group, ref.kind, ref.namespace, ref.name, ref.port, ref.weight, ref.filters,
                     int(percent) if percent is not None else None,
                     (int(fraction["numerator"]), int(fraction.get("denominator", 100)))
                     if fraction is not None else None)


def _filters(raw_list: Any, namespace: str) -> Filters:
    request_headers = response_headers = redirect = rewrite = None
    mirrors: list[MirrorRef] = []
    unsupported: list[str] = []
    cors: list[CorsFilter] = []
    for raw in raw_list or ():
        kind = raw["type"]
        if kind == "RequestHeaderModifier":
            request_headers = _header_modifier(raw.get("requestHeaderModifier") or {})
        elif kind == "ResponseHeaderModifier":
            response_headers = _header_modifier(raw.get("responseHeaderModifier") or {})
        elif kind == "RequestRedirect":
            body = raw.get("requestRedirect") or {}
            status = int(body.get("statusCode", 302))
            if status not in (301, 302, 303, 307, 308):
                raise ValueError(f"unsupported redirect status {status}")
            port = body.get("port")
            redirect = Redirect(body.get("scheme"), body.get("hostname"), int(port) if port else None,
                                _path_modifier(body.get("path")), status)
        elif kind == "URLRewrite":
            body = raw.get("urlRewrite") or {}
            rewrite = Rewrite(body.get("hostname"), _path_modifier(body.get("path")))
        elif kind == "RequestMirror":
            mirrors.append(_mirror_ref(raw.get("requestMirror") or {}, namespace))
        elif kind == "CORS":
            cors.append(_cors(raw.get("cors") or {}))
        else:
            unsupported.append(str(kind))
    return Filters(request_headers, response_headers, redirect, rewrite, tuple(mirrors), tuple(unsupported),
                   tuple(cors))


def _strings(raw: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in raw or ())


def _cors(body: dict) -> CorsFilter:
    max_age = body.get("maxAge")
    return CorsFilter(_strings(body.get("allowOrigins")), body.get("allowCredentials") is True,
                      _strings(body.get("allowMethods")), _strings(body.get("allowHeaders")),
                      _strings(body.get("exposeHeaders")), int(max_age) if max_age is not None else None)


def _length(raw: Any, source: str) -> float | None:
    """A Duration that may be zero (a backoff, a session timeout): None only when unset."""
    return None if raw is None else (parse_duration(raw, source) or 0.0)


def _retry(raw: dict | None, source: str) -> Retry | None:
    if raw is None:
        return None
    attempts = raw.get("attempts")
    return Retry(tuple(int(code) for code in raw.get("codes") or ()), int(attempts) if attempts is not None else None,
                 _length(raw.get("backoff"), source))


def _session(raw: dict | None, source: str) -> SessionPersistence | None:
    if raw is None:
        return None
    name = raw.get("sessionName")
    return SessionPersistence(str(name) if name is not None else None, str(raw.get("type") or "Cookie"),
                              _length(raw.get("absoluteTimeout"), source), _length(raw.get("idleTimeout"), source),
                              str((raw.get("cookieConfig") or {}).get("lifetimeType") or "Session"))


def _parents(spec: dict, meta: Meta) -> tuple[ParentRef, ...]:
    parents = []
    for raw in spec.get("parentRefs") or ():
        port = raw.get("port")
        parents.append(ParentRef(str(raw.get("group", GATEWAY_GROUP) or ""), str(raw.get("kind", "Gateway")),
                                 str(raw.get("namespace") or meta.namespace), str(raw["name"]),
                                 raw.get("sectionName"), int(port) if port is not None else None))
    return tuple(parents)


def _httproute(document: dict, meta: Meta, source: str) -> HTTPRoute:
    spec = document.get("spec") or {}
    parents = _parents(spec, meta)
    rules = []
    for raw in spec.get("rules") or ({},):
        matches = tuple(_route_match(m) for m in raw.get("matches") or ()) or (RouteMatch("PathPrefix", "/"),)
        timeouts = raw.get("timeouts") or {}
        request_timeout = parse_duration(timeouts["request"], source) if "request" in timeouts else None
        backend_timeout = parse_duration(timeouts["backendRequest"], source) if "backendRequest" in timeouts else None
        rules.append(RouteRule(matches, _filters(raw.get("filters"), meta.namespace),
                               tuple(_backend_ref(b, meta.namespace) for b in raw.get("backendRefs") or ()),
                               request_timeout, backend_timeout, _retry(raw.get("retry"), source),
                               _session(raw.get("sessionPersistence"), source)))
    hostnames = tuple(str(h).lower() for h in spec.get("hostnames") or ())
    return HTTPRoute(meta, tuple(parents), hostnames, tuple(rules))


def _method_match(raw: dict | None) -> MethodMatch | None:
    if not raw:
        return None
    kind = raw.get("type", "Exact")
    if kind not in ("Exact", "RegularExpression"):
        raise ValueError(f"unsupported method match type {kind!r}")
    service, method = raw.get("service"), raw.get("method")
    if not service and not method:
        raise ValueError("a method match needs service or method")
    for value in (service, method):
        if value and kind == "RegularExpression":
            re.compile(str(value))
        elif value and "/" in str(value):
            raise ValueError(f"an Exact service or method cannot contain '/': {value!r}")
    return MethodMatch(kind, str(service) if service else None, str(method) if method else None)


def _grpcroute(document: dict, meta: Meta, source: str) -> GRPCRoute:
    spec = document.get("spec") or {}
    rules = []
    for raw in spec.get("rules") or ({},):
        matches = tuple(GRPCMatch(_method_match(m.get("method")), _header_matches(m.get("headers"), True))
                        for m in raw.get("matches") or ())
        rules.append(GRPCRule(matches, _filters(raw.get("filters"), meta.namespace),
                              tuple(_backend_ref(b, meta.namespace) for b in raw.get("backendRefs") or ()),
                              _session(raw.get("sessionPersistence"), source)))
    hostnames = tuple(str(h).lower() for h in spec.get("hostnames") or ())
    return GRPCRoute(meta, _parents(spec, meta), hostnames, tuple(rules))


def _service(document: dict, meta: Meta, source: str) -> Service:
    spec = document.get("spec") or {}
    return Service(meta, tuple(ServicePort(str(p.get("name") or ""), int(p["port"]), str(p.get("appProtocol") or ""))
                               for p in spec.get("ports") or ()))


def _endpoint_slice(document: dict, meta: Meta, source: str) -> EndpointSlice:
    labels = dict(meta.labels)
    service_name = labels.get("kubernetes.io/service-name", "")
    ports = tuple((str(p.get("name") or ""), int(p["port"])) for p in document.get("ports") or () if p.get("port"))
    addresses = []
    for endpoint in document.get("endpoints") or ():
        # metav1: an unset "ready" means unknown, which consumers treat as ready.
        if (endpoint.get("conditions") or {}).get("ready", True) is False:
            continue
        addresses.extend(str(a) for a in endpoint.get("addresses") or ())
    return EndpointSlice(meta, service_name, ports, tuple(addresses))


def _reference_grant(document: dict, meta: Meta, source: str) -> ReferenceGrant:
    spec = document.get("spec") or {}
    sources = tuple((str(f.get("group", "") or ""), str(f["kind"]), str(f["namespace"])) for f in spec.get("from") or ())
    targets = tuple((str(t.get("group", "") or ""), str(t["kind"]), t.get("name")) for t in spec.get("to") or ())
    return ReferenceGrant(meta, sources, targets)


def _secret(document: dict, meta: Meta, source: str) -> Secret:
    data = {k: base64.b64decode(v) for k, v in (document.get("data") or {}).items()}
    data.update({k: str(v).encode() for k, v in (document.get("stringData") or {}).items()})
    return Secret(meta, str(document.get("type", "Opaque")), tuple(sorted(data.items())))


_PARSERS = {
    "Namespace": _namespace,
    "Gateway": _gateway,
    "HTTPRoute": _httproute,
    "GRPCRoute": _grpcroute,
    "Service": _service,
    "EndpointSlice": _endpoint_slice,
    "ReferenceGrant": _reference_grant,
    "Secret": _secret,
}
