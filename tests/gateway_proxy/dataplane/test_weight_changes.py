"""Which reloads the C data plane may apply as in-place weight updates, decided on compiled tables.

A reload is compiled the way the proxy compiles it: the documents of a file that did not change
are the very same parsed records (the file loader keeps them), so the compile cache hands back
the same Rule and Match objects for them. Each case edits the base config and expects either the
rules whose weights moved, or "rebuild" (None) for anything that is not a weight.
"""

from __future__ import annotations

import copy

import pytest

import dataplane_support
from gateway_proxy import attachment, compiling, resources
from gateway_proxy.dataplane import weight_changes
from gw_harness import backend, gateway, listener, path_match, route, rule, service

REBUILD = None


def _base() -> list[dict]:
    return ([gateway()] + service("a", 9001) + service("b", 9002) + service("m", 9003)
            + [route("r", [rule([backend("a", weight=3), backend("b", weight=1)])]),
               route("s", [rule([backend("a")], matches=[path_match("/s")])])])


def _route(documents, name) -> dict:
    return next(d for d in documents if d["kind"] == "HTTPRoute" and d["metadata"]["name"] == name)


def _set(path, value):
    """An edit of the base: ``path`` is a route name, then keys/indexes into that route's spec."""
    def edit(documents):
        target = _route(documents, path[0])["spec"]
        for key in path[1:-1]:
            target = target[key]
        target[path[-1]] = value
    return edit


def _edit_gateway(documents):
    documents[0]["spec"]["listeners"] = [listener("http", hostname="example.com", namespaces="All")]


def _edit_endpoint(documents):
    slice_ = next(d for d in documents if d["kind"] == "EndpointSlice" and d["metadata"]["name"] == "b-abc")
    slice_["ports"][0]["port"] = 9999


def _add_rule(documents):
    _route(documents, "s")["spec"]["rules"].append(rule([backend("b")], matches=[path_match("/t")]))


def _nothing(documents):
    pass


_HEADER_FILTER = [{"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "x", "value": "1"}]}}]
_MIRROR = [{"type": "RequestMirror", "requestMirror": {"backendRef": backend("m"), "percent": 10}}]


def _compile(documents, impl, cache, parsed: dict):
    """Compile ``documents``, parsing only those not seen before (as the file loader re-reads
    only changed files)."""
    objects = []
    for number, document in enumerate(documents):
        key = repr(document)
        if key not in parsed:
            parsed[key] = resources.parse(copy.deepcopy(document), f"test#{number}")
        objects.append(parsed[key])
    return compiling.compile_config(attachment.Config.of([o for o in objects if o is not None]), impl, cache)


@pytest.mark.parametrize("edit, moved", [
    pytest.param(_set(("r", "rules", 0, "backendRefs"), [backend("a", weight=1), backend("b", weight=3)]), ["r"],
                 id="weights-of-one-route"),
    pytest.param(_set(("r", "rules", 0, "backendRefs"), [backend("a", weight=0), backend("b", weight=1)]), ["r"],
                 id="weight-to-zero"),
    pytest.param(_set(("s", "rules", 0, "backendRefs"), [backend("a", weight=5)]), ["s"], id="sole-backend-weight"),
    pytest.param(_nothing, [], id="nothing"),
    pytest.param(_set(("r", "rules", 0, "matches"), [path_match("/r")]), REBUILD, id="new-match"),
    pytest.param(_set(("r", "rules", 0, "backendRefs"), [backend("a", weight=3), backend("m", weight=1)]), REBUILD,
                 id="other-backend"),
    pytest.param(_set(("r", "rules", 0, "filters"), _HEADER_FILTER), REBUILD, id="header-filter"),
    pytest.param(_set(("r", "rules", 0, "timeouts"), {"request": "5s"}), REBUILD, id="timeout"),
    pytest.param(_set(("r", "hostnames"), ["example.com"]), REBUILD, id="route-hostname"),
    pytest.param(_edit_gateway, REBUILD, id="listener-hostname"),
    pytest.param(_edit_endpoint, REBUILD, id="endpoint"),
    pytest.param(_add_rule, REBUILD, id="rule-added"),
])
def test_only_weight_changes_update_in_place(impl, edit, moved):
    cache, parsed = compiling.CompileCache(), {}
    documents = _base()
    before = _compile(documents, impl, cache, parsed)
    edited = copy.deepcopy(documents)
    edit(edited)
    after = _compile(edited, impl, cache, parsed)
    pairs = weight_changes.weights_only(before, after)
    if moved is REBUILD:
        assert pairs is None
        return
    assert pairs is not None
    assert sorted(new.route for old, new in pairs if weight_changes.reweighed(old, new)) == moved
    # Every pair is the old and new form of one rule, and nothing else of the table moved.
    assert all((old.namespace, old.route, old.index) == (new.namespace, new.route, new.index) for old, new in pairs)


def test_a_mirror_share_is_not_a_weight(impl):
    cache, parsed = compiling.CompileCache(), {}
    documents = _base()
    _set(("r", "rules", 0, "filters"), _MIRROR)(documents)
    before = _compile(documents, impl, cache, parsed)
    edited = copy.deepcopy(documents)
    _route(edited, "r")["spec"]["rules"][0]["filters"][0]["requestMirror"]["percent"] = 20
    assert weight_changes.weights_only(before, _compile(edited, impl, cache, parsed)) is None


def test_a_reload_that_made_most_rules_new_rebuilds_without_comparing(impl):
    # Past ALWAYS_COMPARED new rule objects (a Service change empties the compile cache), the
    # comparison would cost about as much as the rebuild: the answer is rebuild, equal or not.
    count = weight_changes.ALWAYS_COMPARED + 1
    documents = [gateway()] + service("a", 9001) + [
        route("r", [rule([backend("a")], matches=[path_match(f"/r{n}")]) for n in range(count)])]
    before = _compile(documents, impl, compiling.CompileCache(), {})
    after = _compile(documents, impl, compiling.CompileCache(), {})
    assert weight_changes.weights_only(before, after) is None


def test_the_c_loop_support_check_decides_every_rule_that_changed(impl):
    # worker.unsupported keeps the verdict of the last table it passed and decides only the rules
    # that are new objects: a route that gains what the loop cannot serve must still send the table to
    # asyncio (a retry whose backendRef carries its own RequestHeaderModifier).
    worker = dataplane_support.compiled("worker")  # it drives the C loop: not in a build without it
    cache, parsed, verdicts = compiling.CompileCache(), {}, worker.Verdicts()
    documents = _base()
    assert worker.unsupported(_compile(documents, impl, cache, parsed), verdicts) is None
    pinned = copy.deepcopy(documents)
    _set(("s", "rules", 0, "retry"), {"codes": [503], "attempts": 1})(pinned)
    _set(("s", "rules", 0, "backendRefs"), [dict(backend("a"), filters=[{
        "type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "X-To", "value": "a"}]}}])])(pinned)
    assert "retry with a backendRef RequestHeaderModifier in default/s" in worker.unsupported(
        _compile(pinned, impl, cache, parsed), verdicts)
    assert worker.unsupported(_compile(documents, impl, cache, parsed), verdicts) is None
    grown = copy.deepcopy(pinned)
    _add_rule(grown)  # another length: the rules the verdict does not know are decided
    assert "retry with a backendRef" in worker.unsupported(_compile(grown, impl, cache, parsed), verdicts)
