"""The GRPCRoute routing table: compiled once per reload, consulted once per gRPC call.

Listeners are isolated as for HTTPRoutes: the most specific listener hostname that accepts the
``:authority`` owns the call, and within it route hostnames are tried most specific first
(exact, then the longest wildcard), which gives the spec's first two precedence criteria. Each
hostname's matches are sorted once by the rest of the spec's order: most characters in the
matching service, then in the method, then most header matches, then the oldest route, then
"{namespace}/{name}", then rule and match order. A RegularExpression service or method counts
the characters of its pattern (the spec leaves regex precedence to implementations).

Sans I/O and shared by both builds of the proxy: gRPC calls are served by the HTTP/2 path,
which is plain Python in either build (:mod:`gateway_proxy.http2`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gateway_proxy import _hotpath_py as host_index, attachment, compiling, resources as r

# Filters a GRPCRouteRule may hold (GRPCRouteFilterType); ExtensionRef names nothing this proxy has.
_NOT_GRPC_FILTERS = (("RequestRedirect", "redirect"), ("URLRewrite", "rewrite"), ("CORS", "cors"))


class Backend:
    """One weighted backendRef of a rule, resolved: ``status`` 0 serves, otherwise why it cannot."""

    __slots__ = ("namespace", "name", "status", "reason", "endpoints", "cursor", "weight", "metrics",
                 "request_headers", "response_headers")

    def __init__(self, namespace: str, name: str, status: int, endpoints, weight: int, reason: str = "",
                 request_headers: r.HeaderModifier | None = None, response_headers: r.HeaderModifier | None = None):
        self.namespace = namespace
        self.name = name
        self.status = status
        self.reason = reason
        self.endpoints = tuple(endpoints)
        self.cursor = 0
        self.weight = weight
        self.metrics = None  # a metrics.GrpcBackendMetrics, bound by the runtime
        self.request_headers = request_headers
        self.response_headers = response_headers

    def next_endpoint(self) -> tuple[str, int] | None:
        """Round-robin over ready endpoints; None when there are none."""
        if not self.endpoints:
            return None
        index = self.cursor % len(self.endpoints)
        self.cursor = index + 1
        return self.endpoints[index]


class Rule:
    """A GRPCRoute rule as served: its backends with their weights, filters, mirrors, or a problem."""

    __slots__ = ("namespace", "route", "index", "backends", "total", "cumulative", "request_headers",
                 "response_headers", "mirrors", "problem", "metrics")

    def __init__(self, namespace: str, route: str, index: int, backends: list[Backend],
                 request_headers: r.HeaderModifier | None, response_headers: r.HeaderModifier | None,
                 mirrors: list[Backend], problem: str):
        self.namespace = namespace
        self.route = route
        self.index = index
        self.backends = tuple(backends)
        running, cumulative = 0, []
        for backend in self.backends:
            running += max(backend.weight, 0)
            cumulative.append(running)
        self.total = running
        self.cumulative = tuple(cumulative)
        self.request_headers = request_headers
        self.response_headers = response_headers
        self.mirrors = tuple(mirrors)
        self.problem = problem  # non-empty: the rule cannot be programmed; calls get an HTTP 500
        self.metrics = None

    def pick(self, fraction: float) -> Backend | None:
        """The backend for a uniform ``fraction`` in [0, 1); None when no backend has weight."""
        if self.total <= 0:
            return None
        point = min(int(fraction * self.total), self.total - 1)
        for backend, bound in zip(self.backends, self.cumulative):
            if bound > point:
                return backend
        return None


class Match:
    """One GRPCRouteMatch of a rule; ``key`` is its place in the spec's precedence order."""

    __slots__ = ("rule", "exact", "service", "method", "service_regex", "method_regex", "headers", "key")

    def __init__(self, rule: Rule, spec: r.GRPCMatch, key: tuple):
        self.rule = rule
        method = spec.method
        self.exact = method is None or method.kind == "Exact"
        self.service = method.service if method is not None else None
        self.method = method.method if method is not None else None
        regex = not self.exact
        self.service_regex = re.compile(self.service) if regex and self.service else None
        self.method_regex = re.compile(self.method) if regex and self.method else None
        self.headers = tuple((h.name, h.value, re.compile(h.value) if h.kind == "RegularExpression" else None)
                             for h in spec.headers)
        self.key = key

    def accepts(self, service: str, method: str, headers: dict[str, str]) -> bool:
        if self.exact:
            if self.service is not None and self.service != service:
                return False
            if self.method is not None and self.method != method:
                return False
        else:
            if self.service_regex is not None and self.service_regex.fullmatch(service) is None:
                return False
            if self.method_regex is not None and self.method_regex.fullmatch(method) is None:
                return False
        for name, value, regex in self.headers:
            found = headers.get(name)
            if found is None:
                return False
            if (found != value) if regex is None else (regex.fullmatch(found) is None):
                return False
        return True


def precedence(route: r.GRPCRoute, rule_index: int, match_index: int, spec: r.GRPCMatch) -> tuple:
    """The sort key of a match within one hostname: smaller is tried first."""
    method = spec.method
    service_chars = len(method.service or "") if method is not None else 0
    method_chars = len(method.method or "") if method is not None else 0
    return (-service_chars, -method_chars, -len(spec.headers), route.meta.created, route.meta.namespace,
            route.meta.name, rule_index, match_index)


def split_path(path: str) -> tuple[str, str] | None:
    """``/<service>/<method>`` of a gRPC call's ``:path``, or None when it is not one."""
    if not path.startswith("/"):
        return None
    service, slash, method = path[1:].partition("/")
    if not slash or not service or not method or "/" in method:
        return None
    return service, method


def rule_problem(rule: r.GRPCRule) -> tuple[str, str] | None:
    """(Gateway API reason, message) when a GRPCRoute rule cannot be programmed as written.

    Such a rule is not skipped: the calls it matches are answered with an HTTP 500, which is
    what the spec asks for a filter that cannot be applied, and its status says why.
    """
    filters = rule.filters
    if filters.unsupported:
        return "UnsupportedValue", f"unsupported filters {', '.join(filters.unsupported)}"
    for kind, attribute in _NOT_GRPC_FILTERS:
        if getattr(filters, attribute):
            return "UnsupportedValue", f"{kind} is not a GRPCRoute filter"
    for mirror in filters.mirrors:
        problem = compiling._mirror_problem(mirror)
        if problem:
            return "UnsupportedValue", problem
    if rule.session is not None:
        return "UnsupportedValue", "sessionPersistence is not supported on GRPCRoute"
    for ref in rule.backends:
        if ref.filters is not None and (ref.filters.mirrors or ref.filters.unsupported or any(
                getattr(ref.filters, attribute) for _, attribute in _NOT_GRPC_FILTERS)):
            return "UnsupportedValue", "backendRef filters other than header modifiers are not supported"
    return None


@dataclass
class Table:
    """The GRPCRoute table of one compile: the plain socket's and the TLS socket's indexes."""

    plain: Any = field(default_factory=host_index.HostIndex)
    tls: Any = field(default_factory=host_index.HostIndex)
    rules: list = field(default_factory=list)
    resolved: list = field(default_factory=list)  # (route, rule index, problem, ((BackendRef, Resolved), ...))

    def __bool__(self) -> bool:
        return bool(self.rules)

    def tls_hosts(self):
        """Whether a TLS server name (SNI) reaches a GRPCRoute, as a predicate; None when none can.

        The TLS socket offers ``h2`` by ALPN to those names only: a browser or curl offered h2 for
        an HTTPRoute's hostname would get HTTP/2, which serves GRPCRoutes only."""
        index = self.tls
        if not (index.exact or index.wildcard or index.default is not None):
            return None

        def serves(server_name: str | None) -> bool:
            host = host_index.normalize_host(server_name or "")
            listeners = host_index.host_candidates(index, host)
            return bool(listeners) and bool(host_index.host_candidates(listeners[0], host))
        return serves

    def describe(self) -> dict:
        """The GRPCRoute part of the admin ``/config`` page."""
        routes: dict[str, dict] = {}
        for route, index, problem, backends in self.resolved:
            spec = route.rules[index]
            routes.setdefault(f"{route.meta.namespace}/{route.meta.name}", {"rules": {}})["rules"][str(index)] = {
                "problem": problem,
                "matches": [{"method": None if m.method is None else {
                    "type": m.method.kind, "service": m.method.service, "method": m.method.method},
                    "headers": len(m.headers)} for m in spec.matches],
                "backends": [{"namespace": res.namespace, "name": res.name, "weight": ref.weight,
                              "status": res.status, "endpoints": [f"{host}:{port}" for host, port in res.endpoints],
                              "reason": res.reason} for ref, res in backends],
            }
        return routes


def _merged(rule_level: r.HeaderModifier | None, backend_level: r.HeaderModifier | None) -> r.HeaderModifier | None:
    return compiling._merged(rule_level, backend_level)


def _compile_rule(resolver: attachment.Resolver, route: r.GRPCRoute, index: int) -> tuple[Rule, tuple]:
    spec = route.rules[index]
    found = rule_problem(spec)
    problem = found[1] if found else ""
    namespace = route.meta.namespace
    backends, resolved = [], []
    for ref in () if problem else spec.backends:
        res = resolver.resolve(ref, namespace, "GRPCRoute")
        backend_filters = ref.filters or r.Filters()
        backends.append(Backend(res.namespace, res.name, res.status, res.endpoints, ref.weight, res.reason,
                                _merged(spec.filters.request_headers, backend_filters.request_headers),
                                _merged(spec.filters.response_headers, backend_filters.response_headers)))
        resolved.append(res)
    mirrors = []
    for ref in () if problem else spec.filters.mirrors:
        res = resolver.resolve(ref, namespace, "GRPCRoute")
        if res.status == 0:
            weight = compiling._mirror_weight(ref)
            mirrors.append(Backend(res.namespace, res.name, 0, res.endpoints, weight))
    rule = Rule(namespace, route.meta.name, index, backends, spec.filters.request_headers,
                spec.filters.response_headers, mirrors, problem)
    return rule, (route, index, problem, tuple(zip(spec.backends, resolved)))


def compile_table(config: attachment.Config, items) -> Table:
    """The table serving the GRPCRoute attachments ``items`` (see :func:`attaching.settle`)."""
    table = Table()
    if not items:
        return table
    resolver = attachment.Resolver(config)
    compiled: dict[tuple, list[tuple[Match, ...]]] = {}
    placed: set[tuple] = set()  # (listener index, hostname, route): listeners may share a hostname
    for item in items:
        route = item.route
        key = (route.meta.namespace, route.meta.name)
        if key not in compiled:
            per_rule = []
            for rule_index, spec in enumerate(route.rules):
                rule, description = _compile_rule(resolver, route, rule_index)
                table.rules.append(rule)
                table.resolved.append(description)
                per_rule.append(tuple(Match(rule, match, precedence(route, rule_index, match_index, match))
                                      for match_index, match in enumerate(spec.matches or (r.GRPCMatch(),))))
            compiled[key] = per_rule
        targets = [table.plain] + ([table.tls] if item.listener.protocol == "HTTPS" else [])
        for target in targets:
            listener_index = compiling.host_slot(target, item.listener.hostname, host_index.HostIndex)
            for hostname in item.hostnames:
                if (id(listener_index), hostname, key) in placed:
                    continue
                placed.add((id(listener_index), hostname, key))
                bucket = compiling.host_slot(listener_index, hostname, list)
                for matches in compiled[key]:
                    bucket.extend(matches)
    for target in (table.plain, table.tls):
        for listener_index in _values(target):
            for bucket in _values(listener_index):
                bucket.sort(key=_key)
    return table


def _key(match: Match) -> tuple:
    return match.key


def _values(index) -> list:
    values = list(index.exact.values()) + list(index.wildcard.values())
    if index.default is not None:
        values.append(index.default)
    return values


def route(index, authority: str, path: str, headers: dict[str, str]) -> Match | None:
    """The winning match for a call, or None when no GRPCRoute matches it (or it is not a gRPC path)."""
    parts = split_path(path)
    if parts is None:
        return None
    host = host_index.normalize_host(authority)
    listeners = host_index.host_candidates(index, host)
    if not listeners:
        return None
    service, method = parts
    for bucket in host_index.host_candidates(listeners[0], host):
        for match in bucket:
            if match.accepts(service, method, headers):
                return match
    return None

