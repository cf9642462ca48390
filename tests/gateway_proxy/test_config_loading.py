"""Reading config directories: every kind parsed, bad files reported, last good content kept."""

from __future__ import annotations


import pytest
import yaml

from gateway_proxy import attachment, compiling, hotpath, loading, resources, yaml_parsing
from gateway_proxy.errors import InvalidDocument

import gw_harness

ALL_KINDS = """
apiVersion: v1
kind: Namespace
metadata: {name: apps, labels: {team: a}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: routeshift
  listeners:
  - name: https
    port: 443
    protocol: HTTPS
    hostname: "*.Example.com"
    tls: {certificateRefs: [{name: cert}]}
    allowedRoutes: {namespaces: {from: Selector, selector: {matchExpressions: [{key: team, operator: In, values: [a]}]}}}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: g, namespace: default}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: apps}]
  to: [{group: "", kind: Service}]
---
apiVersion: v1
kind: Secret
metadata: {name: cert, namespace: default}
type: kubernetes.io/tls
data: {tls.crt: aGVsbG8=, tls.key: d29ybGQ=}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: apps, creationTimestamp: "2024-05-01T10:00:00Z"}
spec:
  parentRefs: [{name: gw, namespace: default, sectionName: https}]
  rules:
  - timeouts: {request: 1m30s, backendRequest: 500ms}
    backendRefs: [{name: svc, namespace: default, port: 80, weight: 7}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ignored}
"""


def test_every_kind_is_parsed():
    objects = loading.parse_text(ALL_KINDS, "all.yaml")
    kinds = sorted(type(o).__name__ for o in objects)
    assert kinds == ["Gateway", "HTTPRoute", "Namespace", "ReferenceGrant", "Secret"]
    config = attachment.Config.of(objects)
    gateway_ = config.gateways[0]
    assert gateway_.listeners[0].hostname == "*.example.com"
    assert gateway_.listeners[0].certificate_refs == (("default", "cert"),)
    route_ = config.routes[0]
    assert route_.rules[0].request_timeout == 90.0 and route_.rules[0].backend_timeout == 0.5
    assert route_.rules[0].backends[0].weight == 7
    assert config.secrets[0].data == (("tls.crt", b"hello"), ("tls.key", b"world"))
    assert [a.route.meta.name for a in attachment.attachments(config)] == ["r"]


def test_objects_are_those_pyyaml_documents_make():
    # The loader parses with ryaml where that is safe (gateway_proxy.yaml_parsing); PyYAML is the reference.
    assert yaml_parsing.fast_load_all(ALL_KINDS) is not None
    documents = yaml.load_all(ALL_KINDS, Loader=yaml_parsing.LOADER)
    expected = [resources.parse(document, f"all.yaml#{number}") for number, document in enumerate(documents)]
    assert loading.parse_text(ALL_KINDS, "all.yaml") == [obj for obj in expected if obj is not None]


@pytest.mark.parametrize("text, reason", [
    pytest.param("kind: HTTPRoute\nmetadata: {}\n", "without metadata.name", id="no-name"),
    pytest.param("kind: HTTPRoute\nmetadata: {name: r}\nspec: {rules: [{matches: [{path: {type: Glob}}]}]}\n",
                 "Glob", id="unknown-path-type"),
    pytest.param("kind: HTTPRoute\nmetadata: {name: r}\nspec: {rules: [{matches: [{path: {type: RegularExpression, "
                 "value: '(['}}]}]}\n", "HTTPRoute", id="bad-regex"),
    pytest.param("kind: HTTPRoute\nmetadata: {name: r}\nspec: {rules: [{timeouts: {request: soon}}]}\n", "duration",
                 id="bad-duration"),
    pytest.param("kind: Gateway\nmetadata: {name: g}\nspec: {listeners: [{name: l, port: 80, allowedRoutes: "
                 "{namespaces: {from: Some}}}]}\n", "namespaces.from", id="bad-from"),
    pytest.param("a: [unclosed", "invalid YAML", id="yaml-syntax"),
    pytest.param("- just a list\n", "mapping", id="not-a-mapping"),
])
def test_invalid_documents_name_the_file_and_reason(text, reason):
    with pytest.raises(InvalidDocument) as caught:
        loading.parse_text(text, "bad.yaml")
    assert "bad.yaml" in str(caught.value) and reason in str(caught.value)


@pytest.mark.parametrize("text, seconds", [("10s", 10), ("1h", 3600), ("1m30s", 90), ("250ms", 0.25), ("0s", None)])
def test_durations(text, seconds):
    assert resources.parse_duration(text, "x") == seconds


def test_invalid_file_keeps_its_last_good_content(tmp_path):
    loader = loading.DirectoryLoader(str(tmp_path))
    (tmp_path / "a.yaml").write_text(yaml.safe_dump_all([gw_harness.gateway()]))
    (tmp_path / "b.yml").write_text(yaml.safe_dump_all([gw_harness.route("r", [gw_harness.rule([])])]))
    (tmp_path / "notes.txt").write_text("not config")
    config = loader.load()
    assert (len(config.gateways), len(config.routes)) == (1, 1)
    assert loader.load() is None  # nothing changed
    (tmp_path / "b.yml").write_text("kind: HTTPRoute\nmetadata: {}\n")
    config = loader.load()
    assert len(config.routes) == 1  # the previous good route stays
    assert "b.yml" in loader.errors
    (tmp_path / "b.yml").write_text(yaml.safe_dump_all([gw_harness.route("r2", [gw_harness.rule([])])]))
    config = loader.load()
    assert [r.meta.name for r in config.routes] == ["r2"] and not loader.errors
    (tmp_path / "b.yml").unlink()
    assert loader.load().routes == ()


def test_ten_thousand_rules_compile_and_each_is_found(impl):
    # How fast this is is bench/route_scaling.py's business (cold reload of 10,000 rules), not a test's.
    routes = [gw_harness.route(f"r{i}", [gw_harness.rule([gw_harness.backend("v1")],
                                                         [gw_harness.path_match(f"/svc{i}/item{j}")])
                                         for j in range(100)]) for i in range(100)]
    documents = [gw_harness.gateway(), *gw_harness.service("v1", 9000), *routes]
    objects = [resources.parse(d, "x") for d in documents]
    config = attachment.Config.of(objects)
    compiled = compiling.compile_config(config, impl)
    assert compiled.rule_count == 10_000
    for route, index in (("r42", 7), ("r0", 0), ("r99", 99)):
        match = impl.route(compiled.table, "example.com", "GET", f"/svc{route[1:]}/item{index}/x", "", {})
        assert (match.rule.route, match.rule.index) == (route, index)


def test_hotpath_selector_honours_no_extensions(monkeypatch):
    import importlib
    monkeypatch.setenv("ROUTESHIFT_NO_EXTENSIONS", "1")
    reloaded = importlib.reload(hotpath)
    try:
        assert reloaded.impl is reloaded.PURE
    finally:
        monkeypatch.delenv("ROUTESHIFT_NO_EXTENSIONS")
        importlib.reload(hotpath)


def test_list_kind_and_json_files_load(tmp_path):
    import json
    loader = loading.DirectoryLoader(str(tmp_path))
    (tmp_path / "list.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List",
                                                        "items": [gw_harness.gateway()]}))
    (tmp_path / "route.yaml").write_text(json.dumps(gw_harness.route("r", [gw_harness.rule([])])))
    config = loader.load()
    assert (len(config.gateways), [r.meta.name for r in config.routes]) == (1, ["r"])


def test_recompile_reuses_unchanged_routes_and_drops_stale_ones(impl, tmp_path):
    loader = loading.DirectoryLoader(str(tmp_path))
    cache = compiling.CompileCache()
    (tmp_path / "infra.yaml").write_text(yaml.safe_dump_all([gw_harness.gateway(), *gw_harness.service("v1", 9001),
                                                             *gw_harness.service("v2", 9002)]))
    (tmp_path / "a.yaml").write_text(yaml.safe_dump_all([gw_harness.route("a", [gw_harness.rule(
        [gw_harness.backend("v1")], [gw_harness.path_match("/a")])])]))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump_all([gw_harness.route("b", [gw_harness.rule(
        [gw_harness.backend("v1")], [gw_harness.path_match("/b")])])]))

    def rule_for(compiled, path):
        return impl.route(compiled.table, "example.com", "GET", path, "", {}).rule

    first = compiling.compile_config(loader.load(), impl, cache)
    (tmp_path / "b.yaml").write_text(yaml.safe_dump_all([gw_harness.route("b", [gw_harness.rule(
        [gw_harness.backend("v2")], [gw_harness.path_match("/b")])])]))
    second = compiling.compile_config(loader.load(), impl, cache)
    assert rule_for(second, "/a") is rule_for(first, "/a")  # untouched file: reused as is
    assert rule_for(second, "/b").backends[0].name == "v2"  # edited file: recompiled
    (tmp_path / "infra.yaml").write_text(yaml.safe_dump_all([gw_harness.gateway(), *gw_harness.service("v1", 9011),
                                                             *gw_harness.service("v2", 9002)]))
    third = compiling.compile_config(loader.load(), impl, cache)
    assert rule_for(third, "/a") is not rule_for(second, "/a")  # a Service changed: everything recompiled
    assert rule_for(third, "/a").backends[0].endpoints == (("127.0.0.1", 9011),)
    (tmp_path / "b.yaml").unlink()
    compiling.compile_config(loader.load(), impl, cache)
    assert [entry[0].meta.name for entry in cache.entries.values()] == ["a"]
