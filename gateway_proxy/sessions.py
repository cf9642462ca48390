"""HTTPRoute ``rules[].sessionPersistence`` (GEP-1619) as pure decisions: which backend a session
is pinned to, and the cookie (or header) that carries it.

Why stateless tokens: the proxy runs as several worker processes and replicas, and a session
must survive landing on any of them, so nothing is remembered server-side. The token names the
backend by an opaque tag (an HMAC of the rule and the backend, never an address or a Service
name) and carries when the session began and when it was last seen; an HMAC over all of it, the
session name and the rule makes it unforgeable and unusable by any other rule (the GEP: rules
never share sessions, even towards the same Service). The key comes from
``ROUTESHIFT_SESSION_KEY`` (shared by every worker; set the same value on every replica), else
one random key per process tree.

Which backend: a request with a valid token goes to the backend it names, whatever the weights,
so a user who landed on the canary stays there while the canary is served. When that backend is
gone from the rule, has no ready endpoints, or has weight 0, the request is weighted afresh and
the token re-issued: that is how a canary user is moved back on rollback (the controller sets the
canary's weight to 0), and how users follow a promotion. GEP-1619 asks that persistence survive a
weight of 0; Routeshift deliberately does not, because its rollback is a weight change.

Timeouts: ``absoluteTimeout`` ends a session that long after it began, ``idleTimeout`` one not
seen for that long; both are checked from the token's own timestamps (whole seconds). With an
idle timeout the token is re-issued at most once a second so that "last seen" moves. A cookie is
a session cookie (no Expires) unless ``cookieConfig.lifetimeType: Permanent``, which sets Max-Age
and Expires to what is left of ``absoluteTimeout``. Cookie attributes: ``Path`` of the matched
route path (GEP-1619: prefix, exact, or the literal start of a regex), ``HttpOnly``,
``SameSite=Lax`` (``Strict`` would drop the cookie on a link from another site, and the weighted
answer to that request would move the user), ``Secure`` on HTTPS listeners. ``type: Header``
carries the same token in a response header of that name, read back from the request header.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

from gateway_proxy import resources as r

KEY_ENVIRONMENT = "ROUTESHIFT_SESSION_KEY"
MAX_NAME = 128  # the spec's limit on sessionName
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$")  # RFC 9110 token: cookie and header names
_REGEX_META = frozenset(".^$*+?{}[]\\|()")
_TAG_BYTES = 8
_MAC_BYTES = 16
_key: bytes | None = None


def signing_key() -> bytes:
    """The HMAC key of this process: from ROUTESHIFT_SESSION_KEY, else random once per process."""
    global _key
    if _key is None:
        configured = os.environ.get(KEY_ENVIRONMENT)
        _key = hashlib.sha256(configured.encode()).digest() if configured else os.urandom(32)
    return _key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Policy:
    """A rule's session persistence as served on one listener."""

    name: str  # cookie or header name
    header: bool  # type Header
    lower_name: str  # the request header to read (type Header)
    absolute: float | None  # seconds
    idle: float | None
    permanent: bool
    secure: bool
    scope: bytes  # which rule: a token is valid for this rule only
    key: bytes
    tags: tuple[str, ...]  # opaque tag of each backend of the rule, by index
    index: dict  # tag -> backend index


@dataclass(frozen=True)
class Affinity:
    """A request's session: the pinned backend index (-1 when weighted afresh) and its timestamps."""

    index: int
    began: int  # whole seconds since the epoch
    seen: int


def problem(session: r.SessionPersistence | None) -> str:
    """Why a rule's ``sessionPersistence`` cannot be served as written, or "" (UnsupportedValue)."""
    if session is None:
        return ""
    if session.kind not in ("Cookie", "Header"):
        return f"sessionPersistence type {session.kind!r} is not Cookie or Header"
    if session.lifetime not in ("Session", "Permanent"):
        return f"sessionPersistence cookieConfig.lifetimeType {session.lifetime!r} is not Session or Permanent"
    if session.lifetime == "Permanent" and session.kind != "Cookie":
        return "sessionPersistence cookieConfig.lifetimeType Permanent applies to type Cookie only"
    if session.lifetime == "Permanent" and session.absolute_timeout is None:
        return "sessionPersistence: absoluteTimeout must be specified when cookie lifetimeType is Permanent"
    if session.name is not None and (len(session.name) > MAX_NAME or not _TOKEN.match(session.name)):
        return f"sessionPersistence sessionName {session.name!r} is not a valid {session.kind.lower()} name"
    for label, value in (("absoluteTimeout", session.absolute_timeout), ("idleTimeout", session.idle_timeout)):
        if value is not None and value <= 0:
            return f"sessionPersistence {label} must be longer than 0s"
    return ""


def scope_of(namespace: str, route: str, index: int) -> bytes:
    return f"{namespace}/{route}/{index}".encode()


def default_name(scope: bytes) -> str:
    """A name unique to the rule, for a sessionPersistence without sessionName (the GEP's advice)."""
    return "routeshift-session-" + hashlib.sha256(scope).hexdigest()[:10]


def backend_tag(key: bytes, scope: bytes, namespace: str, name: str) -> str:
    return _b64(hmac.new(key, b"backend\0" + scope + b"\0" + f"{namespace}/{name}".encode(),
                         hashlib.sha256).digest()[:_TAG_BYTES])


def policy(session: r.SessionPersistence | None, scope: bytes, backends, secure: bool,
           key: bytes) -> Policy | None:
    """The served policy of a rule whose ``sessionPersistence`` passed :func:`problem`.

    ``backends`` are (namespace, name) of the rule's backendRefs in order."""
    if session is None:
        return None
    name = session.name or default_name(scope)
    tags = tuple(backend_tag(key, scope, namespace, backend) for namespace, backend in backends)
    index: dict = {}
    for position, tag in enumerate(tags):
        index.setdefault(tag, position)
    return Policy(name, session.kind == "Header", name.lower(), session.absolute_timeout, session.idle_timeout,
                  session.lifetime == "Permanent", secure, scope, key, tags, index)


def _mac(policy: Policy, body: str) -> str:
    message = policy.name.encode() + b"\0" + policy.scope + b"\0" + body.encode("ascii")
    return _b64(hmac.new(policy.key, message, hashlib.sha256).digest()[:_MAC_BYTES])


def encode(policy: Policy, index: int, began: int, seen: int) -> str:
    """The token pinning a session to backend ``index``."""
    body = f"{policy.tags[index]}.{began:x}.{seen:x}"
    return f"{body}.{_mac(policy, body)}"


def decode(policy: Policy, token: str, now: float) -> Affinity | None:
    """The session a token carries, or None when it is forged, another rule's, or expired."""
    parts = token.split(".")
    if len(parts) != 4:
        return None
    body = ".".join(parts[:3])
    if not hmac.compare_digest(_mac(policy, body), parts[3]):
        return None
    index = policy.index.get(parts[0])
    if index is None:
        return None  # the backend is no longer one of this rule's
    try:
        began, seen = int(parts[1], 16), int(parts[2], 16)
    except ValueError:
        return None
    if policy.absolute is not None and now - began > policy.absolute:
        return None
    if policy.idle is not None and now - seen > policy.idle:
        return None
    return Affinity(index, began, seen)


def _candidates(policy: Policy, headers: dict) -> list[str]:
    if policy.header:
        value = headers.get(policy.lower_name)
        return [value.strip()] if value else []
    cookies = headers.get("cookie")
    if not cookies:
        return []
    found = []
    # Several Cookie lines are joined with "," by the header index; "; " separates pairs (RFC 6265).
    for pair in cookies.replace(",", ";").split(";"):
        name, equals, value = pair.strip().partition("=")
        if equals and name == policy.name:
            found.append(value.strip().strip('"'))
    return found


def resume(policy: Policy, backends, headers: dict, now: float) -> Affinity | None:
    """The request's valid session whose backend can still serve it, or None (weigh afresh).

    ``backends`` are the rule's hot-path backends; one with weight 0 or nothing to serve with does
    not hold its sessions (see the module docstring). Several cookies of the name may arrive (a
    browser sends every cookie whose Path matches): the first valid one wins."""
    for token in _candidates(policy, headers):
        affinity = decode(policy, token, now)
        if affinity is None:
            continue
        backend = backends[affinity.index]
        if backend.weight > 0 and backend.status == 0 and backend.count > 0:
            return affinity
    return None


def cookie_path(regex: bool, path_value: str) -> str:
    """The cookie Path for a matched route path: the prefix or exact path, or the literal start of a regex."""
    if not regex:
        return path_value or "/"
    literal = []
    for char in path_value.lstrip("^"):
        if char in _REGEX_META:
            break
        literal.append(char)
    text = "".join(literal)
    cut = text.rfind("/")
    return text[:cut] if cut > 0 else "/"


def response_field(policy: Policy, affinity: Affinity | None, index: int, now: float, path: str) -> bytes:
    """The Set-Cookie (or header) line owed on the response of a request served by backend ``index``:
    a new session, a re-pinned one, or a refreshed idle timestamp; b"" when the client's token stands."""
    second = int(now)
    if affinity is not None and affinity.index == index:
        if policy.idle is None or affinity.seen == second:
            return b""
        began = affinity.began
    else:
        began = second
    token = encode(policy, index, began, second)
    if policy.header:
        return f"{policy.name}: {token}\r\n".encode("latin-1")
    attributes = [f"{policy.name}={token}", f"Path={path}"]
    if policy.permanent:
        left = max(0, int(began + policy.absolute - second))
        attributes.append(f"Max-Age={left}")
        attributes.append("Expires=" + email.utils.formatdate(second + left, usegmt=True))
    attributes.append("HttpOnly")
    attributes.append("SameSite=Lax")
    if policy.secure:
        attributes.append("Secure")
    return ("set-cookie: " + "; ".join(attributes) + "\r\n").encode("latin-1")
