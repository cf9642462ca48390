"""The HTTPRoute CORS filter (Gateway API ``HTTPCORSFilter``) as pure decisions and header bytes.

The exchange asks two things, and both are answered here from the compiled :class:`Policy`:

- a preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``, the Fetch
  standard's definition) is answered by the proxy itself, never forwarded: 200 with the
  ``Access-Control-*`` fields when the origin is allowed, 403 without them when it is not (the
  spec allows either 200/204 without the fields or 403; a 403 says plainly what happened);
- an actual request carrying ``Origin`` gets the fields added to the backend's response. On a
  rule with this filter the proxy owns ``Access-Control-Allow-Origin``, ``-Allow-Credentials``
  and ``-Expose-Headers``: the backend's own are dropped, so a disallowed origin is never let
  through by a backend that answers ``*``.

Origins match as the spec says: scheme, host and port, the port defaulting to 80 for http and
443 for https; a ``*`` in the host matches greedily to the left, across any number of labels
(``https://*.bar.com`` matches ``https://a.b.bar.com``, not ``https://bar.com``); ``*`` alone
matches every origin. The allowed origin is always echoed rather than answered with ``*``:
the spec allows echoing in every case and requires it with ``allowCredentials``, and one
behaviour is easier to reason about (``Vary: Origin`` tells caches). The same goes for a ``*``
in ``allowMethods`` and ``allowHeaders``: the requested method and headers are echoed. A ``*``
in ``exposeHeaders`` is sent as ``*`` without credentials; with credentials the spec forbids
the wildcard, so the response's own header names are listed instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway_proxy import resources as r

DEFAULT_MAX_AGE = 5  # seconds, the spec's default for Access-Control-Max-Age
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"))
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ORIGIN = re.compile(r"^(https?)://(\*|\*?[A-Za-z0-9.-]+)(?::([0-9]{1,5}))?$")
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$")
# Dropped from the backend's response on a CORS rule: the filter decides these.
OWNED = frozenset((b"access-control-allow-origin", b"access-control-allow-credentials",
                   b"access-control-expose-headers"))


@dataclass(frozen=True)
class Origin:
    """One allowed origin: ``host`` is exact, or a suffix when ``wildcard`` (``*`` alone: suffix "")."""

    scheme: str
    host: str
    port: int
    wildcard: bool


@dataclass(frozen=True)
class Policy:
    """A rule's CORS filter as served."""

    any_origin: bool
    origins: tuple[Origin, ...]
    credentials: bool
    methods: str  # the Access-Control-Allow-Methods value; "" = omitted
    any_method: bool
    headers: str  # the Access-Control-Allow-Headers value; "" = omitted
    any_header: bool
    expose: str  # the Access-Control-Expose-Headers value; "" = omitted
    expose_any: bool
    max_age: int


def _split_origin(text: str) -> tuple[str, str, int] | None:
    match = _ORIGIN.match(text.strip())
    if match is None:
        return None
    scheme, host, port = match.group(1).lower(), match.group(2).lower(), match.group(3)
    number = int(port) if port else _DEFAULT_PORTS[scheme]
    if not 1 <= number <= 65535:
        return None
    return scheme, host, number


def _wildcard_problem(label: str, values: tuple[str, ...]) -> str:
    if "*" in values and len(values) > 1:
        return f"CORS {label} cannot contain '*' alongside other values"
    return ""


def problem(filters: tuple[r.CorsFilter, ...]) -> str:
    """Why a rule's CORS filters cannot be served as written, or "" (the route reports UnsupportedValue)."""
    if not filters:
        return ""
    if len(filters) > 1:
        return "the CORS filter cannot be repeated"
    cors = filters[0]
    for label, values in (("allowOrigins", cors.allow_origins), ("allowMethods", cors.allow_methods),
                          ("allowHeaders", cors.allow_headers)):
        found = _wildcard_problem(label, values)
        if found:
            return found
    for origin in cors.allow_origins:
        if origin != "*" and _split_origin(origin) is None:
            return f"CORS allowOrigins: {origin!r} is not <scheme>://<host>(:<port>) with scheme http or https"
    for method in cors.allow_methods:
        if method != "*" and method not in METHODS:
            return f"CORS allowMethods: {method!r} is not an HTTP method"
    for label, names in (("allowHeaders", cors.allow_headers), ("exposeHeaders", cors.expose_headers)):
        for name in names:
            if not _TOKEN.match(name):
                return f"CORS {label}: {name!r} is not a header name"
    if cors.max_age is not None and cors.max_age < 1:
        return f"CORS maxAge {cors.max_age} must be at least 1"
    return ""


def policy(filters: tuple[r.CorsFilter, ...]) -> Policy | None:
    """The served policy of a rule whose filters passed :func:`problem`; None without a CORS filter."""
    if not filters:
        return None
    cors = filters[0]
    origins = []
    for text in cors.allow_origins:
        if text == "*":
            continue
        scheme, host, port = _split_origin(text)
        wildcard = host.startswith("*")
        origins.append(Origin(scheme, host[1:] if wildcard else host, port, wildcard))
    return Policy("*" in cors.allow_origins, tuple(origins), cors.allow_credentials,
                  "" if "*" in cors.allow_methods else ", ".join(cors.allow_methods), "*" in cors.allow_methods,
                  "" if "*" in cors.allow_headers else ", ".join(cors.allow_headers), "*" in cors.allow_headers,
                  "" if "*" in cors.expose_headers else ", ".join(cors.expose_headers), "*" in cors.expose_headers,
                  cors.max_age if cors.max_age is not None else DEFAULT_MAX_AGE)


def origin_allowed(policy: Policy, origin: str) -> bool:
    """Whether a request's ``Origin`` is one of the policy's allowed origins."""
    if policy.any_origin:
        return True
    parts = _split_origin(origin)
    if parts is None or parts[1].startswith("*"):
        return False
    scheme, host, port = parts
    for allowed in policy.origins:
        if allowed.scheme != scheme or allowed.port != port:
            continue
        if allowed.wildcard:
            if len(host) > len(allowed.host) and host.endswith(allowed.host):
                return True
        elif allowed.host == host:
            return True
    return False


def is_preflight(method: str, headers: dict) -> bool:
    """A CORS preflight, as the Fetch standard sends it (``headers`` keyed by lower-case name)."""
    return method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers


def preflight_fields(policy: Policy, headers: dict) -> list[tuple[str, str]] | None:
    """The fields answering an allowed preflight, or None when its origin is not allowed."""
    origin = headers.get("origin", "")
    if not origin_allowed(policy, origin):
        return None
    fields = [("access-control-allow-origin", origin)]
    if policy.credentials:
        fields.append(("access-control-allow-credentials", "true"))
    requested_method = headers.get("access-control-request-method", "").strip()
    if policy.any_method:
        if requested_method:
            fields.append(("access-control-allow-methods", requested_method))
    elif policy.methods:
        fields.append(("access-control-allow-methods", policy.methods))
    requested_headers = headers.get("access-control-request-headers", "").strip()
    if policy.any_header:
        if requested_headers:
            fields.append(("access-control-allow-headers", requested_headers))
    elif policy.headers:
        fields.append(("access-control-allow-headers", policy.headers))
    if policy.expose:
        fields.append(("access-control-expose-headers", policy.expose))
    elif policy.expose_any and not policy.credentials:
        fields.append(("access-control-expose-headers", "*"))
    fields.append(("access-control-max-age", str(policy.max_age)))
    fields.append(("vary", "Origin"))
    return fields


def actual_fields(policy: Policy, origin: str, response_names) -> list[tuple[str, str]]:
    """The fields added to the response of an actual (non-preflight) request from ``origin``;
    ``response_names`` are the backend response's header names, listed for a credentialed ``*``."""
    if not origin_allowed(policy, origin):
        return []
    fields = [("access-control-allow-origin", origin)]
    if policy.credentials:
        fields.append(("access-control-allow-credentials", "true"))
    if policy.expose:
        fields.append(("access-control-expose-headers", policy.expose))
    elif policy.expose_any:
        if policy.credentials:
            names = ", ".join(dict.fromkeys(name for name in response_names
                                            if name.lower().encode("latin-1") not in OWNED))
            if names:
                fields.append(("access-control-expose-headers", names))
        else:
            fields.append(("access-control-expose-headers", "*"))
    fields.append(("vary", "Origin"))
    return fields


def lines(fields: list[tuple[str, str]]) -> bytes:
    """Header lines for ``fields``, as the response-head builder appends them."""
    return b"".join(name.encode("latin-1") + b": " + value.encode("latin-1") + b"\r\n" for name, value in fields)


def preflight_response(policy: Policy, headers: dict, keep_alive: bool) -> tuple[int, bytes]:
    """(status, whole response) answering a preflight: 200 with the fields, or 403 without them."""
    fields = preflight_fields(policy, headers)
    head = b"HTTP/1.1 200 OK\r\n" + lines(fields) if fields is not None else b"HTTP/1.1 403 Forbidden\r\n"
    tail = b"content-length: 0\r\n" + (b"" if keep_alive else b"connection: close\r\n") + b"\r\n"
    return (200 if fields is not None else 403), head + tail


def response_fields(policy: Policy, origin: str, raw: list) -> tuple[list, bytes]:
    """The backend's header lines without the fields this filter owns, and the lines it adds."""
    kept = [item for item in raw if item[0].lower() not in OWNED]
    names = [name.decode("latin-1") for name, _ in kept]
    return kept, lines(actual_fields(policy, origin, names))
