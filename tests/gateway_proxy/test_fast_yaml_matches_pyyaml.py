"""The fast YAML path gives exactly PyYAML's objects, and hands PyYAML whatever YAML 1.2 reads otherwise.

``ryaml`` resolves plain scalars by YAML 1.2 and PyYAML by 1.1 (``yes``, ``0777``, ``2024-01-01``,
``1e3`` differ), so every case compares against PyYAML's safe loader, the reference, with
``repr`` so that ``True``/``1``/``1.0`` and ``date``/``str`` count as different. Ordinary
manifests must take the fast path (or the reload gets no faster); tricky ones must either come
out the same or be declined to PyYAML.
"""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from gateway_proxy import loading, yaml_parsing
from gateway_proxy.errors import InvalidDocument


def reference(text: str) -> list:
    return [document for document in yaml.load_all(text, Loader=yaml_parsing.LOADER) if document is not None]


def outcome(load, text: str) -> str:
    """What ``load`` makes of ``text``: the documents' repr, or that it raised a YAML error."""
    try:
        return repr(load(text))
    except yaml.YAMLError:
        return "YAMLError"


GATEWAY_API = """\
# Routes for the shop: traffic splits on weights; turn on mirroring for yes-votes only.
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: shop
  namespace: infra
  labels: {team: shop, tier: "1"}
spec:
  gatewayClassName: routeshift
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    hostname: "*.example.com"
    allowedRoutes:
      namespaces:
        from: Selector
        selector: {matchLabels: {shared-gateway-access: "true"}}
  - name: https
    port: 443
    protocol: HTTPS
    tls:
      mode: Terminate
      certificateRefs: [{kind: Secret, group: "", name: shop-cert}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: checkout
  namespace: shop
  annotations:
    routeshift.dev/canary: "true"
    routeshift.dev/port: "8080"
    description: >-
      Checkout goes to v2 for 10% of users,
      and to v1 otherwise.
spec:
  parentRefs:
  - {name: shop, namespace: infra, sectionName: http, port: 80}
  hostnames: ["shop.example.com", "*.shop.example.com"]
  rules:
  - matches:
    - path: {type: PathPrefix, value: /checkout}
      headers:
      - {type: Exact, name: x-canary, value: always}
      - {type: RegularExpression, name: x-user, value: "^[a-z]+-\\\\d{2}$"}
      queryParams:
      - {type: Exact, name: debug, value: "yes"}
      method: POST
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: x-route, value: checkout}]
        add: [{name: x-version, value: "2.0"}]
        remove: [x-legacy]
    - type: RequestMirror
      requestMirror: {backendRef: {name: checkout-shadow, port: 8080}}
    backendRefs:
    - {group: "", kind: Service, name: checkout-v1, port: 8080, weight: 90}
    - {name: checkout-v2, namespace: shop-canary, port: 8080, weight: 10}
    timeouts: {request: 10s, backendRequest: 500ms}
  - matches:
    - path: {type: Exact, value: "/healthz"}
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, statusCode: 301, port: 443}
  - matches:
    - path: {type: RegularExpression, value: '^/api/v[0-9]+/(?!internal).*'}
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}
    backendRefs: [{name: api, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: allow-shop, namespace: shop-canary}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: shop}]
  to: [{group: "", kind: Service}]
"""

SERVICES = """\
apiVersion: v1
kind: Service
metadata: {name: checkout-v1, namespace: shop}
spec:
  selector: {app: checkout, version: v1}
  ports:
  - {name: http, port: 8080, targetPort: 8080, protocol: TCP}
  sessionAffinity: None
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: checkout-v1-abc12
  namespace: shop
  labels:
    kubernetes.io/service-name: checkout-v1
    endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io
addressType: IPv4
ports:
- {name: http, port: 8080, protocol: TCP}
endpoints:
- addresses: ["10.0.0.12"]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: node-1
- addresses: [10.0.0.13]
  conditions: {ready: false}
---
apiVersion: v1
kind: Secret
metadata: {name: shop-cert, namespace: infra}
type: kubernetes.io/tls
data:
  tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
  tls.key: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCg==
"""

# What `kubectl get httproutes -o yaml` writes: a List, quoted timestamps, managedFields.
KUBECTL_EXPORT = """\
apiVersion: v1
items:
- apiVersion: gateway.networking.k8s.io/v1
  kind: HTTPRoute
  metadata:
    annotations:
      kubectl.kubernetes.io/last-applied-configuration: |
        {"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute","metadata":{"annotations":{},"name":"web"}}
    creationTimestamp: "2024-05-01T10:00:00Z"
    generation: 3
    managedFields:
    - apiVersion: gateway.networking.k8s.io/v1
      fieldsType: FieldsV1
      fieldsV1:
        f:spec:
          f:rules: {}
      manager: kubectl-client-side-apply
      operation: Update
      time: "2024-05-01T10:00:00Z"
    name: web
    namespace: default
    resourceVersion: "123456"
    uid: 0b7c1a52-7d1e-4c1f-9e55-3f0e5b1c2d3e
  spec:
    parentRefs:
    - group: gateway.networking.k8s.io
      kind: Gateway
      name: gw
    rules:
    - backendRefs:
      - group: ""
        kind: Service
        name: web
        port: 80
        weight: 1
      matches:
      - path:
          type: PathPrefix
          value: /
  status:
    parents: []
kind: List
metadata:
  resourceVersion: ""
"""

ANCHORS_AND_BLOCKS = """\
--- # a leading empty document and comments on their own
# only a comment here
---
x-backend: &backend {name: web, port: 80, weight: 1}
kind: HTTPRoute
metadata: {name: anchors, namespace: default}
spec:
  rules:
  - backendRefs: [*backend]
  - backendRefs:
    - *backend
    - {name: other, port: 81}
  notes: |
    line one
      indented "quoted" line
    trailing
  folded: >
    folded
    text

    new paragraph
  keep: |+
    kept

  strip: |-
    stripped
  plain: a plain
    multi-line scalar
  quoted: "tab\\tand \\u00e9 and 'single'"
  single: 'it''s'
  empty: ""
  nothing:
  tilde: ~
  version: 1.10
  floats: [0.5, .5, 1., -2.25, .inf, -.Inf]
  ints: [0, -1, +3, 0x1F, 0b101, 8080]
  bools: [true, False, TRUE]
  unicode: héllo wörld
...
"""

JSON_ROUTE = ('{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "j", '
              '"namespace": "default"}, "spec": {"rules": [{"backendRefs": [{"name": "web", "port": 80, "weight": 2}], '
              '"timeouts": {"request": "1.5s"}}], "x": [1.5, -0.25, true, null, "\\u00e9", "a\\/b"]}}')


@pytest.mark.parametrize("text", [
    pytest.param(GATEWAY_API, id="gateway-api"),
    pytest.param(SERVICES, id="services-and-slices"),
    pytest.param(KUBECTL_EXPORT, id="kubectl-list-export"),
    pytest.param(ANCHORS_AND_BLOCKS, id="anchors-and-block-scalars"),
    pytest.param(JSON_ROUTE, id="json"),
    pytest.param("", id="empty-file"),
    pytest.param("# nothing but a comment\n", id="comment-only"),
])
def test_ordinary_manifests_take_the_fast_path_and_match_pyyaml(text):
    fast = yaml_parsing.fast_load_all(text)
    assert fast is not None, "an ordinary manifest fell back to PyYAML: the reload would be slow"
    assert repr(fast) == repr(reference(text))


@pytest.mark.parametrize("text", [
    pytest.param("a: yes\nb: on\nc: Off\nd: NO\n", id="yaml11-booleans"),
    pytest.param("mode: 0777\nzero: 00\n", id="leading-zero-octal"),
    pytest.param("w: 0o17\n", id="yaml12-octal"),
    pytest.param("w: 1e3\nv: 1.0e3\nu: 2E-2\n", id="exponent-without-dot-or-sign"),
    pytest.param("f: -.5\n", id="signed-leading-dot"),
    pytest.param("n: 1_000\nf: 1_0.5\n", id="underscores"),
    pytest.param("t: 1:30\nu: 190:20:30\n", id="sexagesimal"),
    pytest.param("d: 2024-01-01\n", id="date"),
    pytest.param("t: 2024-01-01T10:00:00Z\nu: 2001-12-14 21:59:43.10 -5\n", id="timestamps"),
    pytest.param("base: &b {x: 1, y: [1, 2]}\nmerged:\n  <<: *b\n  z: 3\n", id="merge-key"),
    pytest.param("b: !!binary aGVsbG8=\ns: !!str 12\ni: !!int '7'\n", id="explicit-tags"),
    pytest.param("s: !!set {a, b}\no: !!omap [a: 1]\n", id="set-and-omap"),
    pytest.param("a: 1\na: 2\n", id="duplicate-keys"),
    pytest.param("1: a\ntrue: b\n~: c\n1.5: d\n", id="non-string-keys"),
    pytest.param("big: 99999999999999999999\nhex: 0xFFFFFFFFFFFFFFFFFFFF\n", id="big-integers"),
    pytest.param("- on\n- 2024-01-01\n---\nkind: x\nv: \"on\"\n", id="multi-document"),
    pytest.param("a: |\n  yes\nb: yes\n", id="block-scalar-and-plain"),
    pytest.param("k: 'on'\nl: on\n", id="quoted-and-plain-same-word"),
    pytest.param("# turn it on\nk: 'on'\n", id="quoted-word-also-in-a-comment"),
    pytest.param("k: a\n  yes\n", id="multi-line-plain"),
    pytest.param("[on, 0777, 1e3, \"yes\"]\n", id="flow-sequence"),
    pytest.param('{"w": 1e3, "v": 1.0e3, "u": 1.5E+3, "n": 0}', id="json-exponents"),
    pytest.param('{"a": "x\\ud83d\\ude00"}', id="json-surrogate-escape"),
    pytest.param('{"a": "a\x85b"}', id="json-raw-next-line"),
])
def test_yaml11_scalars_come_out_as_pyyaml_gives_them(text):
    assert outcome(yaml_parsing.load_all, text) == outcome(reference, text)


@pytest.mark.parametrize("text", [
    pytest.param("a: yes\n", id="plain-boolean-word"),
    pytest.param("mode: 0777\n", id="octal"),
    pytest.param("w: 1e3\n", id="exponent"),
    pytest.param("w: 0o17\n", id="yaml12-octal"),
    pytest.param("d: 2024-01-01\n", id="date"),
    pytest.param("base: &b {x: 1}\nm: {<<: *b}\n", id="merge-key"),
    pytest.param("b: !!binary aGVsbG8=\n", id="tag"),
    pytest.param("w: 1.5\nv: 1e3\n", id="exponent-beside-a-float"),
    pytest.param('{"w": 1e3}', id="json-exponent"),
])
def test_scalars_yaml12_reads_otherwise_are_left_to_pyyaml(text):
    assert yaml_parsing.fast_load_all(text) is None


@pytest.mark.parametrize("text", [
    pytest.param('a: "on"\nb: \'yes\'\nc: "0777"\nd: "2024-01-01"\ne: "1e3"\nf: "<<"\n', id="quoted-yaml11-words"),
    pytest.param('port: "80"\nflag: "true"\nnone: "null"\nempty: ""\n', id="quoted-yaml12-scalars"),
    pytest.param("path: /a/0777\nid: abc-1e3\nregex: '^/api/(?!x)'\nnote: wow!\n", id="lookalikes-inside-tokens"),
    pytest.param("w: 1.5\nx: [0.25, -3.5, .5]\n", id="floats-without-exponent"),
    pytest.param("yes-votes\n---\n\"on\"\n---\n- 1.5\n", id="scalar-documents"),
])
def test_quoted_lookalikes_keep_the_fast_path(text):
    fast = yaml_parsing.fast_load_all(text)
    assert fast is not None
    assert repr(fast) == repr(reference(text))


@pytest.mark.parametrize("text, where", [
    pytest.param("a: [unclosed\n", "line 2, column 1", id="unclosed-flow"),
    pytest.param("a: b: c\n", "line 1, column 5", id="mapping-in-plain"),
    pytest.param("- a\nb: c\n", "line 2, column 1", id="sequence-then-mapping"),
    pytest.param("kind: A\n---\nkind: B\n  bad: [\n", "line 4", id="second-document"),
    pytest.param("a: !Foo bar\n", "line 1, column 4", id="unknown-tag"),
    pytest.param("a: \"x\n", "line 2", id="unterminated-quote"),
    pytest.param("a:\n\t- b\n", "line 2, column 1", id="tab-indent"),
])
def test_invalid_yaml_is_reported_with_pyyaml_line_and_column(text, where):
    with pytest.raises(InvalidDocument) as caught:
        loading.parse_text(text, "bad.yaml")
    message = str(caught.value)
    assert "bad.yaml" in message and "invalid YAML" in message and where in message, message


def test_kind_list_export_loads_its_items():
    [route] = loading.parse_text(KUBECTL_EXPORT, "export.yaml")
    assert (route.meta.name, route.meta.namespace) == ("web", "default")


# A grammar of small documents: plain and quoted spellings YAML 1.1 and 1.2 read alike or not,
# in block and flow collections, so hypothesis explores where the two parsers meet.
PLAIN = ["name", "web", "80", "-1", "+3", "0", "1.5", ".5", "1.", "-2.25", "true", "False", "null", "~", "",
         "yes", "No", "on", "OFF", "y", "n", "0777", "08", "0o17", "0x1F", "0b101", "1_000", "1:30", "1e3", "1E+3",
         "1.0e3", "1.5e+3", "-.5", "+.5", ".inf", "-.Inf", ".nan", "2024-01-01", "2024-01-01T10:00:00Z", "<<", "=",
         "/a/b", "a b", "é", "8e4a2f", "99999999999999999999", "1.10"]
QUOTED = ['"on"', "'yes'", '"0777"', '"2024-01-01"', '"1e3"', '"80"', '""', "''", '"true"', "'it''s'", '"\\u00e9"']
TAGGED = ["!!str 12", "!!int '7'", "!!float 1", "!custom x", "!!binary aGk="]
SCALARS = st.sampled_from(PLAIN + QUOTED + TAGGED)
KEYS = st.sampled_from(["a", "b", "yes", "on", "1", "0777", "1e3", "2024-01-01", '"on"', "'1e3'", "~", "<<"])


def _block(node, indent: int) -> str:
    pad = " " * indent
    if isinstance(node, dict):
        return "".join(f"{pad}{key}: {value}\n" if isinstance(value, str)
                       else f"{pad}{key}:\n{_block(value, indent + 2)}" for key, value in node.items()) or f"{pad}{{}}\n"
    if isinstance(node, list):
        return "".join(f"{pad}- {value}\n" if isinstance(value, str) else f"{pad}-\n{_block(value, indent + 2)}"
                       for value in node) or f"{pad}[]\n"
    return f"{pad}{node}\n"


def _flow(node) -> str:
    if isinstance(node, dict):
        return "{" + ", ".join(f"{key}: {_flow(value)}" for key, value in node.items()) + "}"
    if isinstance(node, list):
        return "[" + ", ".join(_flow(value) for value in node) + "]"
    return node


NODES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(KEYS, inner, max_size=4)), max_leaves=12)


@st.composite
def documents(draw) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        node = draw(st.dictionaries(KEYS, NODES, min_size=1, max_size=4))
        parts.append(_block(node, 0) if draw(st.booleans()) else _flow(node) + "\n")
    return "---\n".join(parts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_random_documents_match_pyyaml(text):
    expected = outcome(reference, text)
    assert outcome(yaml_parsing.load_all, text) == expected
    in_runs = yaml_parsing.fast_load_all(text, chunk=1)  # a run per document
    assert in_runs is None or repr(in_runs) == expected


def _big_stream(tail: str) -> str:
    """Over a few CHUNKs of ordinary route documents, then ``tail`` as the last document."""
    route = GATEWAY_API.split("---\n")[1]
    count = 3 * yaml_parsing.CHUNK // len(route) + 1
    return "---\n".join([route.replace("name: checkout", f"name: checkout-{i}") for i in range(count)] + [tail])


def test_big_streams_parse_in_runs_of_documents_to_the_same_objects():
    # ryaml holds the GIL for a whole call: runs of ~CHUNK keep a worker thread's parse from
    # stalling the event loop for long.
    text = _big_stream("kind: Last\nnote: |\n  ends here\n")
    chunks = yaml_parsing._chunks(text)
    assert len(chunks) >= 3 and "".join(chunks) == text
    assert all(chunk.startswith("---\n") for chunk in chunks[1:])
    fast = yaml_parsing.fast_load_all(text)
    assert fast is not None and repr(fast) == repr(reference(text))


def test_a_yaml11_scalar_in_a_late_run_hands_the_whole_stream_to_pyyaml():
    text = _big_stream("kind: Last\nenabled: yes\nmode: 0644\n")
    assert yaml_parsing.fast_load_all(text) is None
    assert repr(yaml_parsing.load_all(text)) == repr(reference(text))


def test_an_error_in_a_late_run_is_reported_at_its_line_in_the_file():
    text = _big_stream("kind: Last\nbad: [unclosed\n")
    line = text.count("\n") + 1
    with pytest.raises(InvalidDocument) as caught:
        loading.parse_text(text, "big.yaml")
    assert f"line {line}, column 1" in str(caught.value), str(caught.value)
