"""Reload-time layout of a route table: the compiled hot-path table flattened into lists.

Why it exists apart from ``table.pyx``: this half runs once per reload, in Python, and needs no C
at all; it walks the table :mod:`gateway_proxy.compiling` built and assigns every object an id
(a list position) and every string a span of one byte pool. ``table.pyx`` then copies these
lists into the malloc'd structs of ``table.pxd`` and keeps only the C that runs per request.
Keeping the walk in plain Python lets it be read, and debugged, without the C around it.

The key kinds and rewrite kinds below are the numbers of the C enums in ``table.pyx`` and
``table.pxd``; ``table.pyx`` checks at import that they agree.
"""

import socket

from gateway_proxy import filters, retries, sessions

# Key kinds of the shared hash table (the low two bits of CEntry.scope): table.pyx's KEY_* enum.
KEY_HOST_EXACT = 0
KEY_HOST_WILDCARD = 1
KEY_PATH_EXACT = 2
KEY_PATH_PREFIX = 3

# CRule.rewrite_kind: table.pxd's REWRITE_* enum.
REWRITE_NONE = 0
REWRITE_FULL_PATH = 1
REWRITE_PREFIX = 2

PATH_REGEX = 1  # CMatch.path_kind: table.pxd's PATH_REGEX, _hotpath_py.PATH_REGEX

# CRule.retry_codes: one bit per status retries.LOWEST_CODE..HIGHEST_CODE, table.pxd's RETRY_CODE_BYTES.
RETRY_CODE_BYTES = (retries.HIGHEST_CODE - retries.LOWEST_CODE + 8) // 8


def _latin1(text):
    """The wire bytes of a configured string, or None when no request can carry it."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return None


def _utf8(text):
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: never the result of decoding a query
        return None


def wire_bytes(value):
    """A str (latin-1, as requests carry it) or bytes-like value as bytes."""
    return value.encode("latin-1") if isinstance(value, str) else bytes(value)


def _address(host):
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return family, socket.inet_pton(family, host)
        except (OSError, ValueError):
            continue
    return 0, b""


def retry_policy(policy):
    """A rule's retries.Policy as CRule holds it, decided by retries.py and only copied here:
    (attempts after the first, base interval, cap, the codes as a bitmap); attempts 0 means the
    rule does not retry (no stanza, or an explicit 0)."""
    if policy is None:
        return 0, 0.0, 0.0, bytes(RETRY_CODE_BYTES)
    bits = bytearray(RETRY_CODE_BYTES)
    for code in policy.codes:
        offset = code - retries.LOWEST_CODE  # retries.problem kept every code within the range
        bits[offset >> 3] |= 1 << (offset & 7)
    return policy.attempts, policy.backoff, retries.cap(policy), bytes(bits)


class Layout:
    """The table flattened into lists of tuples (ids are list positions), then copied into C."""

    def __init__(self):
        self.pool = bytearray()
        self.interned = {}
        self.entries = []  # (scope, key bytes, value)
        self.host_defaults = []
        self.host_wildcards = []
        self.paths = []  # (regex first, regex count, has exact, has prefix)
        self.buckets = []  # (first, count)
        self.items = []
        self.match_ids = {}
        self.matches = []
        self.c_matches = []
        self.conditions = []  # (name, value, regex)
        self.rule_ids = {}
        self.rules = []
        self.c_rules = []
        self.backends = []
        self.c_backends = []
        self.endpoints = []  # (host, port, family, address, backend)
        self.ops_ids = {}
        self.ops = []
        self.names = []
        self.add_items = []
        self.redirects = []  # CRedirect fields (lead, request host, port, path kind, path, unwritable)
        self.rewrites = []
        self.regex_ids = {}
        self.regexes = []
        self.longest_query_text = 0
        self.longest_mirrors = 0
        self.cors = []  # (any origin, credentials, any method, any header, expose any, first origin, origins,
        #                 methods, headers, expose, max age): cors.Policy, strings as pool spans
        self.cors_origins = []  # (https, port, wildcard, host)
        self.sessions = []  # (name, lower name, header, permanent, secure, absolute, idle, scope, key, first tag,
        #                    tags): sessions.Policy, strings as pool spans, timeouts 0 when unset
        self.session_tags = []  # pool spans
        self.keep = []  # objects whose id() keys the dicts above stay alive while building

    def text(self, data):
        found = self.interned.get(data)
        if found is None:
            found = self.interned[data] = (len(self.pool), len(data))
            self.pool += data
        return found

    def host_index(self, index, leaf):
        own = len(self.host_defaults)
        self.host_defaults.append(-1)
        self.host_wildcards.append(0)
        for kind, keys in ((KEY_HOST_EXACT, index.exact), (KEY_HOST_WILDCARD, index.wildcard)):
            for name, value in keys.items():
                key = _latin1(name)
                if key is None:
                    continue  # not a latin-1 name: no Host value can select it
                self.text(key)
                self.entries.append((own << 2 | kind, key, self.path_table(value) if leaf else self.host_index(value, True)))
                if kind == KEY_HOST_WILDCARD:
                    self.host_wildcards[own] = 1
        if index.default is not None:
            self.host_defaults[own] = self.path_table(index.default) if leaf else self.host_index(index.default, True)
        return own

    def path_table(self, table):
        own = len(self.paths)
        self.paths.append(None)
        for kind, keys in ((KEY_PATH_EXACT, table.exact), (KEY_PATH_PREFIX, table.prefix)):
            for path, bucket in keys.items():
                key = _latin1(path)
                if key is not None:
                    self.text(key)
                    self.entries.append((own << 2 | kind, key, self.bucket(bucket)))
        regexes = [self.match(match) for match in table.regex]
        self.paths[own] = (len(self.items), len(regexes), 1 if table.exact else 0, 1 if table.prefix else 0)
        self.items.extend(regexes)
        return own

    def bucket(self, matches):
        ids = [self.match(match) for match in matches]
        self.buckets.append((len(self.items), len(ids)))
        self.items.extend(ids)
        return len(self.buckets) - 1

    def regex(self, pattern):
        if pattern is None:
            return -1
        found = self.regex_ids.get(id(pattern))
        if found is None:
            found = self.regex_ids[id(pattern)] = len(self.regexes)
            self.regexes.append(pattern)
        return found

    def match(self, match):
        found = self.match_ids.get(id(match))
        if found is not None:
            return found
        never = 0
        method = None
        if match.method is not None:
            method = _latin1(match.method)
            never |= method is None
        first = len(self.conditions)
        for name, value, regex in zip(match.header_names, match.header_values, match.header_regexes):
            name, value = _latin1(name), b"" if regex is not None else _latin1(value)
            if name is None or value is None:
                never = 1
                continue
            self.conditions.append((self.text(name), self.text(value), self.regex(regex)))
        headers = len(self.conditions) - first
        for name, value, regex in zip(match.query_names, match.query_values, match.query_regexes):
            name, value = _utf8(name), b"" if regex is not None else _utf8(value)
            if name is None or value is None:
                never = 1
                continue
            self.longest_query_text = max(self.longest_query_text, len(name), len(value))
            self.conditions.append((self.text(name), self.text(value), self.regex(regex)))
        queries = len(self.conditions) - first - headers
        rule = self.rule(match.rule)
        path = match.path_value.encode("latin-1", "replace")
        own = self.match_ids[id(match)] = len(self.matches)
        self.keep.append(match)
        self.matches.append(match)
        cookie_path = b""
        if match.rule.session is not None:
            cookie_path = sessions.cookie_path(match.path_kind == PATH_REGEX, match.path_value).encode("latin-1")
        self.c_matches.append((rule, match.path_kind, self.text(path), self.regex(match.path_regex),
                               method is not None, self.text(method or b""), first, headers, queries, never,
                               self.text(cookie_path)))
        return own

    def header_ops(self, ops):
        if ops is None:
            return -1
        found = self.ops_ids.get(id(ops))
        if found is not None:
            return found
        self.keep.append(ops)
        names_first = len(self.names)
        for group in (ops.remove, ops.set_names, ops.add_names):
            self.names.extend(self.text(name) for name in sorted(group))
        add_first = len(self.add_items)
        self.add_items.extend((self.text(name), self.text(lname), self.text(value))
                              for name, lname, value in ops.add_items)
        found = self.ops_ids[id(ops)] = len(self.ops)
        self.ops.append((self.text(ops.set_lines), names_first, len(ops.remove), len(ops.set_names),
                         len(ops.add_names), add_first, len(ops.add_items)))
        return found

    def rule(self, rule):
        found = self.rule_ids.get(id(rule))
        if found is not None:
            return found
        own = self.rule_ids[id(rule)] = len(self.rules)
        self.keep.append(rule)
        self.rules.append(rule)
        self.c_rules.append(None)
        request_ops, response_ops = self.header_ops(rule.request_headers), self.header_ops(rule.response_headers)
        backend_first = len(self.backends)
        for backend, cumulative in zip(rule.backends, rule.cumulative):
            self.backend(backend, own, cumulative, request_ops, response_ops)
        mirror_first = len(self.backends)
        for mirror in rule.mirrors:
            self.backend(mirror, own, 0, -1, -1)
        self.longest_mirrors = max(self.longest_mirrors, len(rule.mirrors))
        redirect = rewrite = -1
        redirect_status = 0
        if rule.redirect is not None:
            redirect, redirect_status = len(self.redirects), rule.redirect.status
            self.redirects.append(self.redirect_fields(rule))
        rewrite_kind, rewrite_path, rewrite_host, rewrite_hostname = REWRITE_NONE, b"", 0, b""
        if rule.rewrite is not None:
            rewrite = len(self.rewrites)
            self.rewrites.append(rule.rewrite)
            modifier = rule.rewrite.path
            if modifier is not None:
                rewrite_kind = REWRITE_FULL_PATH if modifier.kind == "ReplaceFullPath" else REWRITE_PREFIX
                rewrite_path = modifier.value.encode("latin-1", "replace")
            if rule.rewrite.hostname:
                rewrite_host, rewrite_hostname = 1, rule.rewrite.hostname.encode("latin-1", "replace")
        self.c_rules[own] = (backend_first, len(rule.backends), rule.total, mirror_first, len(rule.mirrors),
                             request_ops, response_ops, redirect, redirect_status, rewrite, rewrite_kind,
                             self.text(rewrite_path), rewrite_host, self.text(rewrite_hostname),
                             rule.request_timeout or 0.0, rule.backend_timeout or 0.0, rule.listener_port or 0,
                             1 if rule.scheme == "https" else 0, self.cors_policy(rule.cors),
                             *retry_policy(rule.retry), self.session_policy(rule.session))
        return own

    def redirect_fields(self, rule):
        """A rule's RequestRedirect as CRedirect fields: what filters.location takes from the rule
        alone (filters.location_parts: "scheme://" and a configured hostname as one lead, the port
        suffix) and the path modifier, as pool spans. The reference encodes the whole Location in
        latin-1 and fails the request when it cannot: ``unwritable`` marks a rule whose every
        answer fails so, since each of these parts always appears in it."""
        redirect = rule.redirect
        lead, hostname, port = filters.location_parts(redirect, rule.scheme, rule.listener_port)
        modifier = redirect.path
        kind = REWRITE_NONE
        if modifier is not None:
            kind = REWRITE_FULL_PATH if modifier.kind == "ReplaceFullPath" else REWRITE_PREFIX
        parts = [_latin1(lead if hostname is None else f"{lead}{hostname}"), _latin1(port),
                 _latin1(modifier.value if modifier is not None else "")]
        unwritable = any(part is None for part in parts)
        lead_bytes, port_bytes, path_bytes = (part or b"" for part in parts)
        return (self.text(lead_bytes), 1 if hostname is None else 0, self.text(port_bytes), kind,
                self.text(path_bytes), 1 if unwritable else 0)

    def session_policy(self, policy):
        """The id of a rule's sessions.Policy in CTable.sessions; -1 without one."""
        if policy is None:
            return -1
        first = len(self.session_tags)
        self.session_tags.extend(self.text(tag.encode("ascii")) for tag in policy.tags)
        self.sessions.append((self.text(policy.name.encode("ascii")), self.text(policy.lower_name.encode("ascii")),
                              1 if policy.header else 0, 1 if policy.permanent else 0, 1 if policy.secure else 0,
                              policy.absolute or 0.0, policy.idle or 0.0, self.text(policy.scope),
                              self.text(policy.key), first, len(policy.tags)))
        return len(self.sessions) - 1

    def cors_policy(self, policy):
        """The id of a rule's cors.Policy in CTable.cors; -1 without one. Every value the policy
        holds passed cors.problem, so it is ASCII."""
        if policy is None:
            return -1
        first = len(self.cors_origins)
        for origin in policy.origins:
            self.cors_origins.append((1 if origin.scheme == "https" else 0, origin.port, 1 if origin.wildcard else 0,
                                      self.text(origin.host.encode("latin-1"))))
        self.cors.append((1 if policy.any_origin else 0, 1 if policy.credentials else 0, 1 if policy.any_method else 0,
                          1 if policy.any_header else 0, 1 if policy.expose_any else 0, first, len(policy.origins),
                          self.text(policy.methods.encode("latin-1")), self.text(policy.headers.encode("latin-1")),
                          self.text(policy.expose.encode("latin-1")), self.text(str(policy.max_age).encode("latin-1"))))
        return len(self.cors) - 1

    def backend(self, backend, rule, cumulative, request_ops, response_ops):
        own = len(self.backends)
        self.backends.append(backend)
        first = len(self.endpoints)
        for host, port in backend.endpoints:
            family, address = _address(host)
            self.endpoints.append((self.text(host.encode("utf-8")), port, family, address, own))
        count = len(backend.endpoints)
        self.c_backends.append((backend.status, backend.weight, cumulative, first, count,
                                backend.cursor % count if count else 0, rule,
                                request_ops if backend.request_headers is None else self.header_ops(backend.request_headers),
                                response_ops if backend.response_headers is None else self.header_ops(backend.response_headers)))
