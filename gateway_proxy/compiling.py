"""Compile a Config into the indexed routing table the hot path serves from.

All precedence work happens here, once per reload, so a request only walks a few dict lookups
(see :mod:`gateway_proxy._hotpath_py`). Each path bucket is sorted by the spec's order:
method > most header matches > most query matches > oldest route > namespace/name > rule order
> match order; across buckets exact beats regex beats prefix, and longer prefixes are tried first.
``Compiled.describe`` renders the table as JSON for the admin ``/config`` endpoint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from gateway_proxy import attachment, compile_reuse, cors, mirroring, resources as r, retries, sessions, tls
from gateway_proxy.grpc import attaching as grpc_attaching, table as grpc_table

_PATH_KINDS = {"Exact": 0, "RegularExpression": 1, "PathPrefix": 2}


@dataclass(frozen=True)
class Compiled:
    """A routing table, the rules whose metrics the data path binds, and what /config shows."""

    table: Any  # impl.HostIndex of listener HostIndex of PathTable
    rules: tuple
    rule_count: int
    attached: tuple  # (Attachment, ...)
    resolved: tuple  # ((route, rule index, problem, ((BackendRef, Resolved), ...)), ...)
    gateways: int = 0
    tls_table: Any = None
    certificates: tuple = ()  # (listener hostname, cert PEM, key PEM), see gateway_proxy.tls
    grpc: Any = None  # grpc.table.Table: the GRPCRoutes, served over HTTP/2 (gateway_proxy.http2)
    rejected: tuple = ()  # (Attachment, ...) that lost an HTTPRoute/GRPCRoute hostname clash

    def describe(self) -> dict:
        """The table as JSON, built on demand: reloads should not pay for a page nobody reads."""
        listeners: dict[str, list] = {}
        for item in self.attached:
            listeners.setdefault(item.listener.hostname or "*", []).append({
                "gateway": f"{item.gateway.meta.namespace}/{item.gateway.meta.name}",
                "listener": item.listener.name, "port": item.listener.port,
                "route": f"{item.route.meta.namespace}/{item.route.meta.name}",
                "hostnames": [h or "*" for h in item.hostnames]})
        routes: dict[str, dict] = {}
        for route, index, problem, backends in self.resolved:
            spec = route.rules[index]
            routes.setdefault(f"{route.meta.namespace}/{route.meta.name}", {"rules": {}})["rules"][str(index)] = {
                "problem": problem,
                "matches": [{"path": {"type": m.path_kind, "value": m.path_value}, "method": m.method,
                             "headers": len(m.headers), "queryParams": len(m.queries)} for m in spec.matches],
                "backends": [{"namespace": res.namespace, "name": res.name, "weight": ref.weight,
                              "status": res.status, "endpoints": [f"{host}:{port}" for host, port in res.endpoints],
                              "reason": res.reason} for ref, res in backends],
                "filters": sorted(name for name, value in (
                    ("RequestHeaderModifier", spec.filters.request_headers),
                    ("ResponseHeaderModifier", spec.filters.response_headers),
                    ("RequestRedirect", spec.filters.redirect), ("URLRewrite", spec.filters.rewrite),
                    ("RequestMirror", spec.filters.mirrors), ("CORS", spec.filters.cors)) if value),
                "timeouts": {"request": spec.request_timeout, "backendRequest": spec.backend_timeout},
                "retry": None if spec.retry is None else {"codes": list(spec.retry.codes),
                                                          "attempts": spec.retry.attempts,
                                                          "backoff": spec.retry.backoff},
                "sessionPersistence": None if spec.session is None else {
                    "type": spec.session.kind, "sessionName": spec.session.name,
                    "absoluteTimeout": spec.session.absolute_timeout, "idleTimeout": spec.session.idle_timeout,
                    "lifetimeType": spec.session.lifetime},
            }
        described = {"listeners": listeners, "routes": routes, "matches": self.rule_count}
        if self.grpc:
            described["grpcRoutes"] = self.grpc.describe()
        return described


def _header_ops(impl: ModuleType, modifier: r.HeaderModifier | None):
    if modifier is None:
        return None
    return impl.HeaderOps(modifier.set, modifier.add, modifier.remove)


def _merged(rule_level: r.HeaderModifier | None, backend_level: r.HeaderModifier | None) -> r.HeaderModifier | None:
    """One modifier doing the rule's then the backend's work (set by the backend wins)."""
    if backend_level is None or rule_level is None:
        return backend_level or rule_level
    overridden = {name.lower() for name, _ in backend_level.set}
    kept = tuple(item for item in rule_level.set if item[0].lower() not in overridden)
    return r.HeaderModifier(kept + backend_level.set, rule_level.add + backend_level.add,
                            rule_level.remove + backend_level.remove)


def _backend_filter_problem(ref: r.BackendRef) -> str:
    filters = ref.filters
    if filters is not None and (filters.redirect or filters.rewrite or filters.mirrors or filters.unsupported
                                or filters.cors):
        return "backendRef filters other than header modifiers are not supported"
    return ""


def _conditions(items: tuple[r.HeaderMatch, ...]) -> tuple:
    if not items:
        return ()
    return tuple((item.name, item.value, re.compile(item.value) if item.kind == "RegularExpression" else None)
                 for item in items)


def _normalized_prefix(value: str) -> str:
    trimmed = value.rstrip("/")
    return trimmed or "/"


def _mirror_problem(ref: r.MirrorRef) -> str:
    # What the Gateway API CRD's validation rules admit; a file or an older CRD may hold anything.
    label = f"RequestMirror to {ref.namespace}/{ref.name}"
    if ref.percent is not None and ref.fraction is not None:
        return f"{label}: only one of percent and fraction may be set"
    if ref.percent is not None and not 0 <= ref.percent <= 100:
        return f"{label}: percent {ref.percent} is not between 0 and 100"
    if ref.fraction is not None:
        numerator, denominator = ref.fraction
        if denominator <= 0:
            return f"{label}: fraction denominator {denominator} must be greater than 0"
        if not 0 <= numerator <= denominator:
            return f"{label}: fraction numerator {numerator} must be between 0 and the denominator {denominator}"
    return ""


def _mirror_weight(ref: r.MirrorRef) -> int:
    """The share of requests a valid mirror copies, as its data-path weight (see mirroring)."""
    if ref.percent is not None:
        return mirroring.weight(ref.percent, 100)
    if ref.fraction is not None:
        return mirroring.weight(*ref.fraction)
    return mirroring.EVERY


def rule_problem(rule: r.RouteRule) -> tuple[str, str] | None:
    """(Gateway API reason, message) when a rule cannot be programmed; such rules are answered 500.

    Shared with --kubernetes mode, which reports the same reason in the route's status.
    """
    filters = rule.filters
    if filters.redirect is not None and filters.rewrite is not None:
        return "IncompatibleFilters", "RequestRedirect and URLRewrite in one rule"
    if filters.unsupported:
        return "UnsupportedValue", f"unsupported filters {', '.join(filters.unsupported)}"
    for modifier in (filters.redirect, filters.rewrite):
        path = modifier.path if modifier is not None else None
        if path is not None and path.kind == "ReplacePrefixMatch" and any(
                m.path_kind != "PathPrefix" for m in rule.matches):
            return "UnsupportedValue", "ReplacePrefixMatch needs PathPrefix matches"
    for mirror in filters.mirrors:
        problem = _mirror_problem(mirror)
        if problem:
            return "UnsupportedValue", problem
    for problem in (cors.problem(filters.cors), retries.problem(rule.retry), sessions.problem(rule.session)):
        if problem:
            return "UnsupportedValue", problem
    return None


class CompileCache:
    """Compiled routes kept from one compile to the next, so an edit recompiles only what changed.

    Entries are keyed by the identity of the HTTPRoute record: the file loader hands back the
    very same records for files it did not re-read. They stay valid while everything resolution
    reads (the hot-path build, Services, EndpointSlices, ReferenceGrants) compares equal; any
    change there starts from scratch. Reused Rule objects keep their round-robin cursors.
    """

    def __init__(self):
        self.basis: tuple | None = None
        self.entries: dict[int, tuple] = {}  # id(route) -> (route, {listener key: parts})
        self.index: compile_reuse.Index | None = None  # the last compile's table, for the next to reuse

    @staticmethod
    def basis_of(config: attachment.Config, impl: ModuleType) -> tuple:
        return (impl, config.services, config.slices, config.grants)

    def warm(self, config: attachment.Config, impl: ModuleType) -> bool:
        """Whether compiling ``config`` can reuse the cached routes (only routes changed)."""
        return self.basis is not None and self.basis == self.basis_of(config, impl)


class _Builder:
    def __init__(self, impl: ModuleType, config: attachment.Config, cache: CompileCache | None):
        self.impl = impl
        self.resolver = attachment.Resolver(config)
        self.table = impl.HostIndex()  # every served listener: the --listen socket
        self.tls_table = impl.HostIndex()  # HTTPS listeners only: the TLS socket
        self.tls_seen: set[tuple] = set()
        self.rules: dict[tuple, Any] = {}
        self.seen: set[tuple] = set()
        self.memo: dict[tuple, attachment.Resolved] = {}
        self.count = 0
        self.cache = cache if cache is not None else CompileCache()
        basis = CompileCache.basis_of(config, impl)
        if self.cache.basis != basis:
            self.cache.basis = basis
            self.cache.entries = {}
            self.cache.index = None
        self.used: dict[int, tuple] = {}
        self.descriptions: dict[tuple, tuple] = {}  # rule key -> description, as self.rules
        self.places: list[list] = []  # per added item: where it put matches (compile_reuse.Index.places)

    def resolve(self, ref: r.BackendRef, namespace: str) -> attachment.Resolved:
        # Thousands of rules often point at the same few Services: resolve each pair once. The key
        # holds what resolution reads, as a plain tuple: hashing the dataclass costs more.
        key = (ref.group, ref.kind, ref.namespace, ref.name, ref.port, namespace)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = self.resolver.resolve(ref, namespace)
        return found

    def _rule(self, route: r.HTTPRoute, index: int, listener_port: int, scheme: str) -> tuple:
        """(Rule, description entry) for one rule of a route on a listener."""
        spec = route.rules[index]
        found = rule_problem(spec)
        problem = found[1] if found else ""
        resolved = []
        backends = []
        new_backend = self.impl.Backend
        for ref in () if problem else spec.backends:
            res = self.resolve(ref, route.meta.namespace)
            request_ops = response_ops = None
            if ref.filters is not None:
                ref_problem = _backend_filter_problem(ref)
                if ref_problem:
                    res = attachment.Resolved(res.namespace, res.name, 500, (), ref_problem)
                request_ops = _header_ops(self.impl, _merged(spec.filters.request_headers, ref.filters.request_headers))
                response_ops = _header_ops(self.impl, _merged(spec.filters.response_headers,
                                                               ref.filters.response_headers))
            resolved.append(res)
            backends.append(new_backend(res.namespace, res.name, res.status, res.endpoints, ref.weight,
                                        request_ops, response_ops))
        mirrors = []
        for ref in () if problem else spec.filters.mirrors:
            res = self.resolve(ref, route.meta.namespace)
            if res.status == 0:
                mirrors.append(self.impl.Backend(res.namespace, res.name, 0, res.endpoints, _mirror_weight(ref)))
        session = None
        if not problem and spec.session is not None:
            session = sessions.policy(spec.session, sessions.scope_of(route.meta.namespace, route.meta.name, index),
                                      [(res.namespace, res.name) for res in resolved], scheme == "https",
                                      sessions.signing_key())
        built = self.impl.Rule(
            route.meta.namespace, route.meta.name, index, backends, listener_port, scheme,
            _header_ops(self.impl, spec.filters.request_headers), _header_ops(self.impl, spec.filters.response_headers),
            None if problem else spec.filters.redirect, None if problem else spec.filters.rewrite, mirrors,
            spec.request_timeout or 0.0, spec.backend_timeout or 0.0, route.meta.created,
            None if problem else retries.policy(spec.retry), None if problem else cors.policy(spec.filters.cors),
            session)
        return built, (route, index, problem, tuple(zip(spec.backends, resolved)))

    def _parts(self, route: r.HTTPRoute, listener: r.Listener) -> tuple:
        """Rules, descriptions and (kind, path key, Match) of a route on a listener, cached."""
        scheme = "https" if listener.protocol == "HTTPS" else "http"
        listener_key = (listener.port, scheme)
        entry = self.used.get(id(route))
        if entry is None:
            cached = self.cache.entries.get(id(route))
            entry = cached if cached is not None and cached[0] is route else (route, {})
            self.used[id(route)] = entry
        parts = entry[1].get(listener_key)
        if parts is not None:
            return parts
        impl = self.impl
        rules, descriptions, matches = [], [], []
        for rule_index, spec in enumerate(route.rules):
            rule, description = self._rule(route, rule_index, listener.port, scheme)
            rules.append(rule)
            descriptions.append(description)
            for match_index, match in enumerate(spec.matches):
                key = (0 if match.method else 1, -len(match.headers), -len(match.queries), route.meta.created,
                       route.meta.namespace, route.meta.name, rule_index, match_index)
                kind = _PATH_KINDS[match.path_kind]
                value = _normalized_prefix(match.path_value) if kind == impl.PATH_PREFIX else match.path_value
                regex = re.compile(value) if kind == impl.PATH_REGEX else None
                matches.append((kind, value, impl.Match(rule, kind, value, regex, match.method,
                                                        _conditions(match.headers), _conditions(match.queries), key)))
        parts = entry[1][listener_key] = (tuple(rules), tuple(descriptions), tuple(matches))
        return parts

    def add(self, item: attachment.Attachment) -> None:
        self.places.append([])
        self._add_to(self.table, self.seen, item)
        if item.listener.protocol == "HTTPS":
            # The TLS socket serves HTTPS listeners only: its own index keeps them isolated.
            self._add_to(self.tls_table, self.tls_seen, item)

    def _add_to(self, table, seen: set, item: attachment.Attachment) -> None:
        impl = self.impl
        route = item.route
        listener_index = host_slot(table, item.listener.hostname, impl.HostIndex)
        rules, descriptions, matches = self._parts(route, item.listener)
        for rule, description in zip(rules, descriptions):
            key = (route.meta.namespace, route.meta.name, rule.index, rule.listener_port, rule.scheme)
            if key not in self.rules:
                self.rules[key] = rule
                self.descriptions[key] = description
        exact, prefix = impl.PATH_EXACT, impl.PATH_PREFIX
        for hostname in item.hostnames:
            dedupe = (item.listener.hostname, hostname, route.meta.namespace, route.meta.name)
            if dedupe in seen:
                continue
            seen.add(dedupe)
            self.places[-1].append((table is self.tls_table, item.listener.hostname, hostname))
            paths = host_slot(listener_index, hostname, impl.PathTable)
            for kind, value, compiled in matches:
                if kind == exact:
                    paths.exact.setdefault(value, []).append(compiled)
                elif kind == prefix:
                    paths.prefix.setdefault(value, []).append(compiled)
                else:
                    paths.regex.append(compiled)
            if table is self.table:
                self.count += len(matches)

    def finish(self) -> None:
        for listener_index in _values(self.table) + _values(self.tls_table):
            for paths in _values(listener_index):
                for bucket in paths.exact.values():
                    bucket.sort(key=_key)
                for bucket in paths.prefix.values():
                    bucket.sort(key=_key)
                self.sort_bucket(self.impl.PATH_REGEX, paths.regex)

    def sort_bucket(self, kind: int, bucket: list) -> None:
        if kind == self.impl.PATH_REGEX:
            # Regex precedence is implementation-specific: longer patterns first, then the usual order.
            bucket.sort(key=lambda m: (-len(m.path_value),) + m.key)
        else:
            bucket.sort(key=_key)


def _key(match) -> tuple:
    return match.key


def _values(index) -> list:
    values = list(index.exact.values()) + list(index.wildcard.values())
    if index.default is not None:
        values.append(index.default)
    return values


def host_slot(index, hostname: str | None, factory):
    """The entry of a host index (``default``, ``exact`` or ``wildcard`` by hostname) for
    ``hostname``, made with ``factory`` the first time; HTTPRoute and GRPCRoute tables share it."""
    if hostname is None:
        if index.default is None:
            index.default = factory()
        return index.default
    if hostname.startswith("*."):
        bucket, hostname = index.wildcard, hostname[1:]
    else:
        bucket = index.exact
    value = bucket.get(hostname)
    if value is None:
        value = bucket[hostname] = factory()
    return value


def compile_config(config: attachment.Config, impl: ModuleType, cache: CompileCache | None = None) -> Compiled:
    """The routing table for every served listener of every Gateway in ``config``.

    Pass the same ``cache`` to successive compiles to reuse the compiled form of unchanged routes,
    and the previous table itself when only route records changed (:mod:`gateway_proxy.compile_reuse`).
    """
    builder = _Builder(impl, config, cache)
    settled = grpc_attaching.settle(config)
    items = settled.http
    # Only some route records changed: their matches swapped in the previous table (compile_reuse).
    if not compile_reuse.reuse(builder, builder.cache.index, items):
        for item in items:
            builder.add(item)
        builder.finish()
    builder.cache.entries = builder.used  # forget routes that are gone
    builder.cache.index = compile_reuse.Index(tuple(items), tuple(map(tuple, builder.places)), builder.rules,
                                              builder.descriptions, builder.table, builder.tls_table, builder.count)
    return Compiled(builder.table, tuple(builder.rules.values()), builder.count, tuple(items) + settled.grpc,
                    tuple(builder.descriptions.values()), len(config.gateways), builder.tls_table,
                    tls.certificates(config),
                    grpc_table.compile_table(config, settled.grpc), settled.rejected)
