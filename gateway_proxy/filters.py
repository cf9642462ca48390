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


def location_parts(redirect: r.Redirect, listener_scheme: str, listener_port: int) -> tuple[str, str | None, str]:
    """What a RequestRedirect's Location takes from the rule alone: ``"scheme://"``, the hostname
    (None: the request's) and ``":port"`` (empty for the scheme's well-known port).

    Scheme and hostname default to the request's; the port is the redirect's, else the
    well-known port of an explicitly set scheme, else the listener's port (never the Host
    header's), and is left out when it is the scheme's well-known port. The C data plane builds
    these once per table (dataplane/layout.py) and adds the request's parts per answer.
    """
    scheme = redirect.scheme or listener_scheme
    if redirect.port is not None:
        port = redirect.port
    elif redirect.scheme:
        port = WELL_KNOWN_PORTS.get(redirect.scheme, listener_port)
    else:
        port = listener_port
    return f"{scheme}://", redirect.hostname or None, "" if WELL_KNOWN_PORTS.get(scheme) == port else f":{port}"


def location(redirect: r.Redirect, listener_scheme: str, listener_port: int, host: str, path: str, query: str,
             match_prefix: str, replace_prefix) -> str:
    """The Location of a RequestRedirect (:func:`location_parts`, then the request's path and query)."""
    lead, hostname, port = location_parts(redirect, listener_scheme, listener_port)
    new_path = _new_path(path, redirect.path, match_prefix, replace_prefix)
    return f"{lead}{hostname or host}{port}{new_path}" + (f"?{query}" if query else "")


def rewrite_target(rewrite: r.Rewrite, path: str, query: str, match_prefix: str, replace_prefix) -> str:
    """The origin-form target after URLRewrite's path modifier; the query is kept."""
    new_path = _new_path(path, rewrite.path, match_prefix, replace_prefix)
    return new_path + (f"?{query}" if query else "")
