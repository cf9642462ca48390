"""RequestRedirect and URLRewrite as pure functions of the rule, the match and the request.

Kept apart from the data path so the spec's fiddly parts (which port a redirect names, how
ReplacePrefixMatch treats slashes) are tested as tables, without sockets.
"""

from __future__ import annotations

from gateway_proxy import resources as r

WELL_KNOWN_PORTS = {"http": 80, "https": 443}


def _new_path(path: str, modifier: r.PathModifier | None, match_prefix: str, replace_prefix) -> str:
    if modifier is None:
        return path
    if modifier.kind == "ReplaceFullPath":
        return modifier.value or "/"
    return replace_prefix(path, match_prefix, modifier.value)


def location(redirect: r.Redirect, listener_scheme: str, listener_port: int, host: str, path: str, query: str,
             match_prefix: str, replace_prefix) -> str:
    """The Location of a RequestRedirect.

    Scheme and hostname default to the request's; the port is the redirect's, else the
    well-known port of an explicitly set scheme, else the listener's port (never the Host
    header's), and is left out when it is the scheme's well-known port.
    """
    scheme = redirect.scheme or listener_scheme
    hostname = redirect.hostname or host
    if redirect.port is not None:
        port = redirect.port
    elif redirect.scheme:
        port = WELL_KNOWN_PORTS.get(redirect.scheme, listener_port)
    else:
        port = listener_port
    authority = hostname if WELL_KNOWN_PORTS.get(scheme) == port else f"{hostname}:{port}"
    new_path = _new_path(path, redirect.path, match_prefix, replace_prefix)
    return f"{scheme}://{authority}{new_path}" + (f"?{query}" if query else "")


def rewrite_target(rewrite: r.Rewrite, path: str, query: str, match_prefix: str, replace_prefix) -> str:
    """The origin-form target after URLRewrite's path modifier; the query is kept."""
    new_path = _new_path(path, rewrite.path, match_prefix, replace_prefix)
    return new_path + (f"?{query}" if query else "")
