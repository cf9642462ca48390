"""A reload that reuses the previous routing table compiles to the same table as one built whole.

``compile_reuse`` swaps only the changed routes' matches into the previous table (what keeps a
weight change at 10,000 rules fast enough to reach the C data plane in under 100 ms). Each case
edits a base config and compiles it twice: with the cache of the previous compile (reusing when
it can) and from nothing. Both must be equal in every field the data path reads (rules, matches
in precedence order, buckets, counts, what /config describes). Whether the reuse happened is
asserted too, so that a case cannot pass by always compiling whole; and the previous table, still
being served while the new one is built, must not have changed.
"""

from __future__ import annotations

import copy

import pytest

from gateway_proxy import compiling
from gw_harness import backend, gateway, path_match, route, rule, service
from test_weight_changes import _compile, _route

_STATE = frozenset(("metrics", "cursor"))  # runtime state, not configuration


def _plain(value):
    """A hot-path object as nested tuples and dicts of its configuration fields (either build)."""
    slots = getattr(type(value), "__slots__", None)
    if slots and not isinstance(value, (str, bytes, tuple)):
        return (type(value).__name__,) + tuple(_plain(getattr(value, name)) for name in slots if name not in _STATE)
    if isinstance(value, (list, tuple)):
        return tuple(_plain(item) for item in value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _table_of(compiled) -> tuple:
    return (_plain(compiled.table), _plain(compiled.tls_table), _plain(compiled.rules), compiled.resolved,
            compiled.rule_count, compiled.describe())


def _base() -> list[dict]:
    return ([gateway()] + service("a", 9001) + service("b", 9002)
            + [route("r", [rule([backend("a", weight=3), backend("b", weight=1)], matches=[path_match("/")]),
                           rule([backend("b")], matches=[path_match("/r/exact", kind="Exact")])],
                     created="2024-01-01T00:00:00Z"),
               route("s", [rule([backend("a")], matches=[path_match("/")])], created="2024-01-02T00:00:00Z"),
               # never edited: its path table shows whether the previous table was reused
               route("u", [rule([backend("b")])], hostnames=["u.example"])])


def _set(path, value):
    def edit(documents):
        target = _route(documents, path[0])["spec"]
        for key in path[1:-1]:
            target = target[key]
        target[path[-1]] = value
    return edit


def _both(*edits):
    def edit(documents):
        for one in edits:
            one(documents)
    return edit


def _add_route(documents):
    documents.append(route("t", [rule([backend("a")], matches=[path_match("/t")])]))


def _remove_route(documents):
    documents.remove(_route(documents, "s"))


def _edit_endpoint(documents):
    next(d for d in documents if d["kind"] == "EndpointSlice" and d["metadata"]["name"] == "b-abc")["ports"][0][
        "port"] = 9999


REUSED, WHOLE = True, False


@pytest.mark.parametrize("edit, reused", [
    pytest.param(_set(("r", "rules", 0, "backendRefs"), [backend("a", weight=0), backend("b", weight=1)]), REUSED,
                 id="weights"),
    pytest.param(_set(("r", "rules", 1, "matches"), [path_match("/r/moved", kind="Exact")]), REUSED,
                 id="exact-path-moved"),
    pytest.param(_set(("s", "rules", 0, "matches"), [path_match("/"), path_match("/s")]), REUSED, id="match-added"),
    pytest.param(_set(("s", "rules", 0, "matches"), [path_match("/", headers=[{"name": "x", "value": "1"}])]),
                 REUSED, id="precedence-in-a-shared-bucket"),
    pytest.param(_set(("r", "rules", 1, "matches"), [path_match("/r/[a-z]+", kind="RegularExpression")]), REUSED,
                 id="regex"),
    pytest.param(_both(_set(("r", "rules", 0, "backendRefs"), [backend("b")]),
                       _set(("s", "rules", 0, "backendRefs"), [backend("b")])), REUSED, id="two-routes"),
    pytest.param(_set(("r", "rules", 1, "matches"), [path_match("/", method="POST")]), REUSED,
                 id="method-into-a-shared-bucket"),
    pytest.param(lambda documents: _route(documents, "r")["spec"]["rules"].pop(), WHOLE, id="rule-removed"),
    pytest.param(_add_route, WHOLE, id="route-added"),
    pytest.param(_remove_route, WHOLE, id="route-removed"),
    pytest.param(_set(("s", "hostnames"), ["s.example"]), WHOLE, id="route-hostnames"),
    pytest.param(_edit_endpoint, WHOLE, id="endpoint-changed"),
])
def test_a_reused_table_equals_one_compiled_whole(impl, edit, reused):
    cache, parsed = compiling.CompileCache(), {}
    documents = _base()
    before = _compile(documents, impl, cache, parsed)
    served = _table_of(before)
    edited = copy.deepcopy(documents)
    edit(edited)
    after = _compile(edited, impl, cache, parsed)
    assert _table_of(after) == _table_of(_compile(edited, impl, compiling.CompileCache(), {}))
    assert (after.table.default.exact["u.example"] is before.table.default.exact["u.example"]) is reused
    assert _table_of(before) == served  # copy-on-write: the table being served did not change
    # And back: the next reload reuses the reused table as well.
    again = _compile(documents, impl, cache, parsed)
    assert _table_of(again) == served


def test_many_changed_routes_compile_whole(impl):
    cache, parsed = compiling.CompileCache(), {}
    documents = [gateway()] + service("a", 9001) + [
        route(f"r{n}", [rule([backend("a")], matches=[path_match(f"/r{n}")])]) for n in range(40)] + [
        route("u", [rule([backend("a")])], hostnames=["u.example"])]
    before = _compile(documents, impl, cache, parsed)
    edited = copy.deepcopy(documents)
    for n in range(20):  # half the routes: the swap would cost about what a whole compile costs
        _route(edited, f"r{n}")["spec"]["rules"][0]["backendRefs"][0]["weight"] = 2
    after = _compile(edited, impl, cache, parsed)
    assert after.table.default.exact["u.example"] is not before.table.default.exact["u.example"]
    assert _table_of(after) == _table_of(_compile(edited, impl, compiling.CompileCache(), {}))
