"""The per-request decisions, sans I/O: which rule matches, which backend, which header bytes.

This is the pure-Python reference. ``_hotpath_c`` is the same source compiled by Cython with
``_hotpath_c.pxd`` adding C types (aiohttp's reader_py/reader_c pattern), so this file must stay
plain Python that Cython can type: no closures in the hot functions, no generators, no
comprehension tricks that change meaning when typed. The selector :mod:`gateway_proxy.hotpath`
picks a build; tests run both and a differential test compares them.

Per-request cost stays flat as routes grow because the table is indexed before requests come:
listener by hostname (exact, then wildcard suffixes longest first, then no hostname), route
hostname the same way, then path: one dict lookup for Exact, one per path segment for
PathPrefix. Only RegularExpression paths are scanned, and they are rare. Every bucket is
sorted by the spec's precedence when compiled, so the first candidate whose remaining
conditions hold is the answer.
"""

PATH_EXACT = 0
PATH_REGEX = 1
PATH_PREFIX = 2

BACKEND_OK = 0
BACKEND_INVALID = 500
BACKEND_UNAVAILABLE = 503

# RFC 9110 7.6.1 hop-by-hop fields, plus the legacy ones proxies still see in the wild.
HOP_BY_HOP = frozenset((b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"te",
                        b"trailer", b"upgrade", b"proxy-authenticate", b"proxy-authorization"))
# Replaced by the proxy on the way to the backend rather than passed through.
REQUEST_OWNED = frozenset((b"host", b"content-length", b"x-forwarded-for", b"x-forwarded-proto",
                           b"x-forwarded-host"))
RESPONSE_OWNED = frozenset((b"content-length",))
_NO_TOKENS = frozenset()


class HeaderOps:
    """A compiled Request/ResponseHeaderModifier: names lower-cased bytes, lines pre-encoded."""

    __slots__ = ("set_names", "set_lines", "add_names", "add_items", "remove")

    def __init__(self, set_items, add_items, remove_names):
        self.set_names = frozenset(name.lower().encode("latin-1") for name, _ in set_items)
        self.set_lines = b"".join(name.encode("latin-1") + b": " + value.encode("latin-1") + b"\r\n"
                                  for name, value in set_items if name.lower().encode("latin-1") not in
                                  frozenset(n.lower().encode("latin-1") for n in remove_names))
        self.add_names = frozenset(name.lower().encode("latin-1") for name, _ in add_items)
        self.add_items = tuple((name.encode("latin-1"), name.lower().encode("latin-1"), value.encode("latin-1"))
                               for name, value in add_items)
        self.remove = frozenset(name.lower().encode("latin-1") for name in remove_names)


class Backend:
    """One weighted backendRef as resolved: its ready endpoints, or why it cannot serve."""

    __slots__ = ("namespace", "name", "status", "endpoints", "count", "cursor", "weight", "metrics",
                 "request_headers", "response_headers")

    def __init__(self, namespace, name, status, endpoints, weight, request_headers=None, response_headers=None):
        self.namespace = namespace
        self.name = name
        self.status = status
        self.endpoints = tuple(endpoints)
        self.count = len(self.endpoints)
        self.cursor = 0
        self.weight = weight
        # Filled by the data path with Prometheus children bound once per backend.
        self.metrics = None
        # backendRef-level header modifiers, already merged with the rule's; None means the rule's.
        self.request_headers = request_headers
        self.response_headers = response_headers

    def next_endpoint(self):
        """Round-robin over ready endpoints; None when there are none."""
        if self.count == 0:
            return None
        index = self.cursor
        self.cursor = (index + 1) % self.count
        return self.endpoints[index]


class Rule:
    """One HTTPRoute rule as served: backends with cumulative weights and compiled filters."""

    __slots__ = ("namespace", "route", "index", "backends", "cumulative", "total", "listener_port", "scheme",
                 "request_headers", "response_headers", "redirect", "rewrite", "mirrors",
                 "request_timeout", "backend_timeout", "created", "metrics", "retry", "cors", "session")

    def __init__(self, namespace, route, index, backends, listener_port, scheme, request_headers=None,
                 response_headers=None, redirect=None, rewrite=None, mirrors=(), request_timeout=0.0,
                 backend_timeout=0.0, created=0.0, retry=None, cors=None, session=None):
        self.namespace = namespace
        self.route = route
        self.index = index
        self.backends = tuple(backends)
        cumulative = []
        total = 0
        for backend in self.backends:
            if backend.weight > 0:
                total += backend.weight
            cumulative.append(total)
        self.cumulative = tuple(cumulative)
        self.total = total
        self.listener_port = listener_port
        self.scheme = scheme
        self.request_headers = request_headers
        self.response_headers = response_headers
        self.redirect = redirect
        self.rewrite = rewrite
        self.mirrors = tuple(mirrors)
        # 0.0 means no timeout ("0s" and unset both disable).
        self.request_timeout = request_timeout
        self.backend_timeout = backend_timeout
        self.created = created
        self.metrics = None
        # Policies of the exchange, None when unused: retries.Policy, cors.Policy, sessions.Policy.
        self.retry = retry
        self.cors = cors
        self.session = session


class Match:
    """One HTTPRouteMatch of one rule; ``key`` orders candidates sharing a path bucket."""

    __slots__ = ("rule", "path_kind", "path_value", "path_regex", "method", "header_names", "header_values",
                 "header_regexes", "query_names", "query_values", "query_regexes", "key")

    def __init__(self, rule, path_kind, path_value, path_regex, method, headers, queries, key):
        self.rule = rule
        self.path_kind = path_kind
        self.path_value = path_value
        self.path_regex = path_regex
        self.method = method
        # Parallel tuples: a None regex means an exact value comparison.
        self.header_names = tuple(h[0] for h in headers)
        self.header_values = tuple(h[1] for h in headers)
        self.header_regexes = tuple(h[2] for h in headers)
        self.query_names = tuple(q[0] for q in queries)
        self.query_values = tuple(q[1] for q in queries)
        self.query_regexes = tuple(q[2] for q in queries)
        self.key = key


class PathTable:
    """The candidates of one route hostname: exact paths, prefixes (no trailing slash), regexes."""

    __slots__ = ("exact", "prefix", "regex")

    def __init__(self):
        self.exact = {}
        self.prefix = {}
        self.regex = []


class HostIndex:
    """Values by hostname: exact names, wildcard suffixes (".example.com"), and a catch-all."""

    __slots__ = ("exact", "wildcard", "default")

    def __init__(self):
        self.exact = {}
        self.wildcard = {}
        self.default = None


def normalize_host(host):
    """The Host header's name without port, lower-cased; the port never takes part in matching."""
    if not host:
        return ""
    if host[0] == "[":
        end = host.find("]")
        return host[:end + 1].lower() if end > 0 else host.lower()
    colon = host.rfind(":")
    if colon >= 0:
        host = host[:colon]
    if host and host[len(host) - 1] == ".":
        host = host[:len(host) - 1]
    return host.lower()


def host_candidates(index, host):
    """The entries of ``index`` that accept ``host``, most specific first."""
    out = []
    value = index.exact.get(host)
    if value is not None:
        out.append(value)
    if index.wildcard:
        dot = host.find(".")
        while dot >= 0:
            value = index.wildcard.get(host[dot:])
            if value is not None:
                out.append(value)
            dot = host.find(".", dot + 1)
    if index.default is not None:
        out.append(index.default)
    return out


def parse_query(query):
    """First value of each query parameter, percent- and plus-decoded (names case-sensitive)."""
    params = {}
    if not query:
        return params
    for part in query.split("&"):
        if not part:
            continue
        eq = part.find("=")
        if eq >= 0:
            name = _unquote(part[:eq])
            value = _unquote(part[eq + 1:])
        else:
            name = _unquote(part)
            value = ""
        if name not in params:
            params[name] = value
    return params


def _unquote(text):
    if "%" not in text and "+" not in text:
        return text
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    out = bytearray()
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "%" and i + 2 < n and _is_hex(text[i + 1]) and _is_hex(text[i + 2]):
            out.append(int(text[i + 1:i + 3], 16))
            i += 3
        else:
            out.extend(c.encode("utf-8"))
            i += 1
    return out.decode("utf-8", "replace")


def _is_hex(c):
    return ("0" <= c <= "9") or ("a" <= c <= "f") or ("A" <= c <= "F")


def match_conditions(match, method, headers, params):
    """Everything of ``match`` but the path, which the index already settled."""
    if match.method is not None and match.method != method:
        return False
    names = match.header_names
    for i in range(len(names)):
        value = headers.get(names[i])
        if value is None:
            return False
        regex = match.header_regexes[i]
        if regex is None:
            if value != match.header_values[i]:
                return False
        elif regex.fullmatch(value) is None:
            return False
    names = match.query_names
    for i in range(len(names)):
        value = params.get(names[i])
        if value is None:
            return False
        regex = match.query_regexes[i]
        if regex is None:
            if value != match.query_values[i]:
                return False
        elif regex.fullmatch(value) is None:
            return False
    return True


def _first(candidates, method, headers, params):
    for match in candidates:
        if match_conditions(match, method, headers, params):
            return match
    return None


def match_path_table(table, method, path, headers, params):
    """The best match in one route hostname's table: exact, then regex, then longest prefix."""
    candidates = table.exact.get(path)
    if candidates is not None:
        found = _first(candidates, method, headers, params)
        if found is not None:
            return found
    for match in table.regex:
        if match.path_regex.fullmatch(path) is not None and match_conditions(match, method, headers, params):
            return match
    prefixes = table.prefix
    if not prefixes:
        return None
    # Segment-aware: try the path itself (trailing slash dropped), then each parent, then "/".
    key = path
    while len(key) > 1 and key[len(key) - 1] == "/":
        key = key[:len(key) - 1]
    while True:
        candidates = prefixes.get(key)
        if candidates is not None:
            found = _first(candidates, method, headers, params)
            if found is not None:
                return found
        if key == "/" or not key:
            return None
        cut = key.rfind("/")
        key = key[:cut] if cut > 0 else "/"


def route(table, host, method, path, query, headers):
    """The winning Match for a request, or None (404).

    ``host`` is normalized, ``headers`` maps lower-cased names to values. Listeners are
    isolated: the most specific listener hostname that accepts ``host`` owns the request.
    Within it, route hostnames are tried most specific first, falling back to wider ones.
    """
    listeners = host_candidates(table, host)
    if not listeners:
        return None
    params = parse_query(query)
    for path_table in host_candidates(listeners[0], host):
        found = match_path_table(path_table, method, path, headers, params)
        if found is not None:
            return found
    return None


def pick_backend(rule, fraction):
    """The backend for a uniform ``fraction`` in [0, 1); None when every weight is zero."""
    total = rule.total
    if total <= 0:
        return None
    point = int(fraction * total)
    if point >= total:
        point = total - 1
    cumulative = rule.cumulative
    for i in range(len(cumulative)):
        if cumulative[i] > point:
            return rule.backends[i]
    return None


def replace_prefix(path, prefix, replacement):
    """ReplacePrefixMatch with the spec's slash rules (trailing slashes of both sides ignored)."""
    while len(prefix) > 1 and prefix[len(prefix) - 1] == "/":
        prefix = prefix[:len(prefix) - 1]
    if prefix == "/":
        prefix = ""
    rest = path[len(prefix):]
    while replacement and replacement[len(replacement) - 1] == "/":
        replacement = replacement[:len(replacement) - 1]
    if not rest:
        return replacement or "/"
    result = replacement + rest
    if not result.startswith("/"):
        result = "/" + result
    return result


def index_headers(raw):
    """Lower-cased name -> value, repeated fields joined with "," (RFC 9110 5.3)."""
    out = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        previous = out.get(key)
        out[key] = text if previous is None else previous + "," + text
    return out


def connection_tokens(value):
    """Field names listed in Connection, which are hop-by-hop for this message only."""
    if not value:
        return _NO_TOKENS
    tokens = []
    for token in value.split(","):
        token = token.strip()
        if token:
            tokens.append(token.lower().encode("latin-1"))
    return frozenset(tokens)


def _apply_ops(lines, ops, headers):
    if ops is None:
        return
    lines.append(ops.set_lines)
    for name, lname, value in ops.add_items:
        if lname in ops.remove or lname in ops.set_names:
            continue
        existing = headers.get(lname.decode("latin-1"))
        if existing is not None:
            value = existing.encode("latin-1") + b"," + value
        lines.append(name + b": " + value + b"\r\n")


def _skip(lname, owned, tokens, ops):
    if lname in HOP_BY_HOP or lname in owned or lname in tokens:
        return True
    if ops is not None and (lname in ops.remove or lname in ops.set_names or lname in ops.add_names):
        return True
    return False


def request_head(method, target, raw, headers, host, ops, client, proto, framing):
    """The request head sent upstream.

    ``framing`` is the body framing line (b"content-length: N\\r\\n", b"transfer-encoding:
    chunked\\r\\n" or b""). X-Forwarded-For gets the client appended, -Proto and -Host are set.
    """
    tokens = connection_tokens(headers.get("connection"))
    lines = [method.encode("latin-1"), b" ", target.encode("latin-1"), b" HTTP/1.1\r\nhost: ",
             host.encode("latin-1"), b"\r\n"]
    for name, value in raw:
        lname = name.lower()
        if not _skip(lname, REQUEST_OWNED, tokens, ops):
            lines.append(name + b": " + value + b"\r\n")
    _apply_ops(lines, ops, headers)
    if ops is None or b"x-forwarded-for" not in ops.remove:
        forwarded = headers.get("x-forwarded-for")
        lines.append(b"x-forwarded-for: " + ((forwarded + ", " + client) if forwarded else client).encode("latin-1")
                     + b"\r\nx-forwarded-proto: " + proto.encode("latin-1")
                     + b"\r\nx-forwarded-host: " + headers.get("host", "").encode("latin-1") + b"\r\n")
    lines.append(framing)
    lines.append(b"\r\n")
    return b"".join(lines)


def response_head(status, reason, raw, headers, ops, framing, keep_alive):
    """The response head sent to the client, with the backend's hop-by-hop fields removed."""
    tokens = connection_tokens(headers.get("connection"))
    lines = [b"HTTP/1.1 ", str(status).encode("latin-1"), b" ", reason, b"\r\n"]
    for name, value in raw:
        lname = name.lower()
        if not _skip(lname, RESPONSE_OWNED, tokens, ops):
            lines.append(name + b": " + value + b"\r\n")
    _apply_ops(lines, ops, headers)
    lines.append(framing)
    if not keep_alive:
        lines.append(b"connection: close\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)
