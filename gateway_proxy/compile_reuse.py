"""Recompile only what changed: the previous routing table, with the changed routes' matches swapped.

Why it exists (issue 13): the controller rewrites one route's weights at a time, and a full compile
re-indexes every match of every route (10,000 at scale, tens of milliseconds) although the compile
cache (``compiling.CompileCache``) already hands back the same Rule and Match objects for every
route that did not change. When a reload attaches the same routes to the same listeners under the
same hostnames, and only some route records are new, the new table is the previous one with those
routes' matches taken out of the buckets they were in and theirs put in, each touched bucket sorted
again. Nothing is changed in place: every index and bucket on the way to a change is copied
(copy-on-write), so the table being served, and the weight comparison of
:mod:`gateway_proxy.dataplane.weight_changes`, still see the previous one whole; what no change
touched is shared, which also makes that comparison an identity check for most of the table.

Anything else (an attachment added, removed or moved, a route whose rules were added or removed,
more than a quarter of the routes changed, a Service or the hot-path build changed, which empties
the compile cache) is a full compile. Precedence stays ``compiling``'s: buckets are sorted by its
own ``_Builder.sort_bucket`` and its sort keys are unique, so the order cannot depend on the way
the table was built; the table tests compare both ways.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Index:
    """What one compile leaves for the next to start from."""

    items: tuple  # the attachments, in compile order
    places: tuple  # per item: ((tls table?, listener hostname, route hostname), ...) it put matches at
    rules: dict  # rule key -> Rule, first seen first (Compiled.rules)
    descriptions: dict  # rule key -> description (Compiled.resolved), same keys and order
    table: object
    tls_table: object
    count: int


def rule_key(rule) -> tuple:
    return (rule.namespace, rule.route, rule.index, rule.listener_port, rule.scheme)


def _changed(previous: Index, items, entries: dict) -> list | None:
    """(item index, old parts, new item) of each attachment whose route record is new, or None
    when the attachments differ otherwise (or too many changed to be worth it)."""
    if len(previous.items) != len(items):
        return None
    changed = []
    for number, (old, new) in enumerate(zip(previous.items, items)):
        if old.route is new.route and old.listener is new.listener and old.gateway is new.gateway \
                and old.hostnames == new.hostnames:
            continue
        if (old.listener is not new.listener or old.gateway is not new.gateway or old.hostnames != new.hostnames
                or old.route.meta.namespace != new.route.meta.namespace or old.route.meta.name != new.route.meta.name):
            return None
        entry = entries.get(id(old.route))
        if entry is None or entry[0] is not old.route:
            return None
        parts = entry[1].get(_listener_key(old.listener))
        if parts is None:
            return None
        changed.append((number, parts, new))
    if len(changed) > max(16, len(items) // 4):
        return None
    return changed


def _listener_key(listener) -> tuple:
    return (listener.port, "https" if listener.protocol == "HTTPS" else "http")  # compiling._parts' key


def _child(index, hostname):
    if hostname is None:
        return index.default
    if hostname.startswith("*."):
        return index.wildcard.get(hostname[1:])
    return index.exact.get(hostname)


def _put_child(index, hostname, value) -> None:
    if hostname is None:
        index.default = value
    elif hostname.startswith("*."):
        index.wildcard[hostname[1:]] = value
    else:
        index.exact[hostname] = value


class _Copies:
    """Copy-on-write of the indexes and path tables on the way to a change, each copied once."""

    def __init__(self, impl):
        self.impl = impl
        self.made: set[int] = set()  # ids of the copies made here (alive: reachable from the roots)

    def index(self, old):
        if id(old) in self.made:
            return old
        new = self.impl.HostIndex()
        new.exact, new.wildcard, new.default = dict(old.exact), dict(old.wildcard), old.default
        self.made.add(id(new))
        return new

    def paths(self, old):
        if id(old) in self.made:
            return old
        new = self.impl.PathTable()
        new.exact, new.prefix, new.regex = dict(old.exact), dict(old.prefix), list(old.regex)
        self.made.add(id(new))
        return new


def reuse(builder, previous: Index | None, items) -> bool:
    """Fill ``builder`` (a ``compiling._Builder`` whose cache holds ``previous``'s routes) from
    ``previous`` when only route records changed; False, with nothing of it changed but its
    compile cache use, when a full compile is needed."""
    if previous is None:
        return False
    entries = builder.cache.entries
    changed = _changed(previous, items, entries)
    if changed is None:
        return False
    rules, descriptions = dict(previous.rules), dict(previous.descriptions)
    swaps = []
    for number, old_parts, item in changed:
        new_parts = builder._parts(item.route, item.listener)
        if [rule_key(rule) for rule in old_parts[0]] != [rule_key(rule) for rule in new_parts[0]]:
            return False  # rules added or removed: their order among all rules is a full compile's
        for rule, description in zip(new_parts[0], new_parts[1]):
            key = rule_key(rule)
            rules[key] = rule
            descriptions[key] = description
        swaps.append((previous.places[number], old_parts[2], new_parts[2]))
    impl = builder.impl
    copies = _Copies(impl)
    roots = [copies.index(previous.table), copies.index(previous.tls_table)]
    count = previous.count
    touched: dict[int, tuple] = {}  # id(path table copy) -> (the copy, {(kind, value) of its own lists})
    for places, old_matches, new_matches in swaps:
        gone = {id(match) for _, _, match in old_matches}
        for tls, listener_hostname, hostname in places:
            root = roots[tls]
            listener_index = copies.index(_child(root, listener_hostname))
            _put_child(root, listener_hostname, listener_index)
            paths = copies.paths(_child(listener_index, hostname))
            _put_child(listener_index, hostname, paths)
            own = touched.setdefault(id(paths), (paths, set()))[1]
            for kind, value, _ in old_matches + new_matches:
                if (kind, value) not in own:
                    own.add((kind, value))
                    _own_bucket(impl, paths, kind, value)
            for kind, value, _ in old_matches:
                bucket = _bucket(impl, paths, kind, value)
                bucket[:] = [match for match in bucket if id(match) not in gone]
            for kind, value, match in new_matches:
                _bucket(impl, paths, kind, value).append(match)
            if not tls:
                count += len(new_matches) - len(old_matches)
    for paths, own in touched.values():
        for kind, value in own:
            bucket = _bucket(impl, paths, kind, value)
            if bucket or kind not in (impl.PATH_EXACT, impl.PATH_PREFIX):
                builder.sort_bucket(kind, bucket)
            else:
                # A bucket left empty goes, as a full compile would never have made it.
                del (paths.exact if kind == impl.PATH_EXACT else paths.prefix)[value]
    builder.table, builder.tls_table = roots
    builder.rules, builder.descriptions, builder.count = rules, descriptions, count
    builder.places = list(previous.places)
    # The compile cache keeps the routes of this table: the unchanged ones and the new records.
    routes = {id(item.route) for item in items}
    carried = {key: entry for key, entry in entries.items() if key in routes and entry[0] is not None}
    carried.update(builder.used)
    builder.used = carried
    return True


def _bucket(impl, paths, kind, value) -> list:
    if kind == impl.PATH_EXACT:
        return paths.exact[value]
    if kind == impl.PATH_PREFIX:
        return paths.prefix[value]
    return paths.regex


def _own_bucket(impl, paths, kind, value) -> None:
    """Give a copied path table its own list for ``kind`` and ``value``: the copy shares the
    previous table's lists, which must not change under the table being served."""
    if kind == impl.PATH_EXACT:
        paths.exact[value] = list(paths.exact.get(value, ()))
    elif kind == impl.PATH_PREFIX:
        paths.prefix[value] = list(paths.prefix.get(value, ()))
    # paths.regex was copied with the path table
