"""The CRDs in crds/ are exactly what the models generate, structural, and accept the examples."""

from __future__ import annotations

import pathlib

import jsonschema
import pytest
import yaml

from rollouts import crd, model

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = sorted(ROOT.glob("examples/*/*.yaml"))


def _canary_schema():
    return crd.canary_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def _nodes(schema, path="$"):
    yield path, schema
    for name, prop in (schema.get("properties") or {}).items():
        yield from _nodes(prop, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from _nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _nodes(schema["additionalProperties"], f"{path}{{}}")


@pytest.mark.parametrize("name", sorted(crd.all_crds()))
def test_checked_in_crd_matches_the_models(name):
    on_disk = (ROOT / "crds" / name).read_text()
    assert on_disk == crd.render(crd.all_crds()[name]), (
        f"crds/{name} drifted from the models: run `python -m rollouts.crd --out-dir crds`")


@pytest.mark.parametrize("name", sorted(crd.all_crds()))
def test_schema_is_structural(name):
    schema = crd.all_crds()[name]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _nodes(schema):
        # IntOrString is the one structural node without a type (Kubernetes' own rule).
        assert "type" in node or node.get("x-kubernetes-int-or-string") is True, path
        for keyword in ("$ref", "$defs", "anyOf", "allOf", "title"):
            assert keyword not in node, f"{path} has {keyword}"
        # oneOf only as value validation (required lists), which structural schemas allow.
        assert all(set(branch) == {"required"} for branch in node.get("oneOf", [])), path
        if "properties" in node:
            assert "additionalProperties" not in node, path
        if "exclusiveMinimum" in node:
            assert node["exclusiveMinimum"] is True and "minimum" in node, path


def test_crd_has_status_subresource_printer_columns_and_short_name():
    definition = crd.canary_crd()
    version = definition["spec"]["versions"][0]
    assert definition["metadata"]["name"] == "canaries.routeshift.dev"
    assert (definition["spec"]["group"], version["name"], definition["spec"]["names"]["kind"]) == (
        "routeshift.dev", "v1alpha1", "Canary")
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert {"Phase", "Weight", "Step", "Verdict", "Age"} <= set(columns)
    assert "cn" in definition["spec"]["names"]["shortNames"]


def test_enums_and_defaults_come_from_the_models():
    spec = _canary_schema()["properties"]["spec"]["properties"]
    assert spec["progressDeadlineSeconds"]["default"] == 600
    assert spec["paused"]["default"] is False
    header = spec["strategy"]["properties"]["abTesting"]["properties"]["match"]["properties"]["headers"]["items"]
    assert header["properties"]["type"]["enum"] == ["Exact", "RegularExpression"]
    phase = _canary_schema()["properties"]["status"]["properties"]["phase"]
    assert phase["enum"] == [p.value for p in model.Phase]


def _documents(kind):
    for path in EXAMPLES:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == kind:
                yield pytest.param(doc, id=f"{path.parent.name}/{doc['metadata']['name']}")


@pytest.mark.parametrize("document", list(_documents("Canary")))
def test_examples_validate_against_the_schema_and_the_models(document):
    jsonschema.Draft4Validator(_canary_schema()).validate(document)
    model.parse_spec(document["spec"])


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"stable": {"name": "a", "port": 0}}, id="port-zero"),
        pytest.param({"strategy": {"progressive": {"steps": [5, 101]}}}, id="weight-over-100-in-steps"),
        pytest.param({"strategy": {"abTesting": {"match": {"headers": [{"name": "x", "value": "1",
                                                                        "type": "Prefix"}]}}}}, id="bad-enum"),
        pytest.param({"analysis": {"interval": "soon"}}, id="bad-duration"),
        pytest.param({"progressDeadlineSeconds": 0}, id="zero-deadline"),
    ],
)
def test_schema_rejects_bad_canaries(bad):
    document = yaml.safe_load((ROOT / "examples/01-canary-steps/canary.yaml").read_text())
    document["spec"].update(bad)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(_canary_schema()).validate(document)


def test_every_field_is_described_for_kubectl_explain():
    schema = _canary_schema()
    missing = [path for root in ("spec", "status") for path, node in _nodes(schema["properties"][root], root)
               if path != root and not path.endswith("[]") and not path.endswith("}") and "description" not in node]
    assert missing == []


@pytest.mark.parametrize(
    ("backends", "valid"),
    [
        pytest.param({"stable": {"name": "a", "port": 80}, "canary": {"name": "b", "port": 80}}, True, id="services"),
        pytest.param({"targetRef": {"name": "podinfo"}, "service": {"port": 80, "targetPort": "http"}}, True,
                     id="workload"),
        pytest.param({"targetRef": {"name": "podinfo"}, "service": {"port": 80, "targetPort": 9898}}, True,
                     id="workload-numeric-port"),
        pytest.param({"stable": {"name": "a", "port": 80}}, False, id="half-a-service-form"),
        pytest.param({"targetRef": {"name": "podinfo"}}, False, id="workload-without-ports"),
        pytest.param({"stable": {"name": "a", "port": 80}, "canary": {"name": "b", "port": 80},
                      "targetRef": {"name": "podinfo"}, "service": {"port": 80}}, False, id="both-forms"),
    ],
)
def test_the_schema_admits_exactly_one_backend_form(backends, valid):
    canary = {"apiVersion": "routeshift.dev/v1alpha1", "kind": "Canary", "metadata": {"name": "c"},
              "spec": {"routeRef": {"name": "web"}, **backends}}
    errors = list(jsonschema.Draft4Validator(_canary_schema()).iter_errors(canary))
    assert (not errors) is valid, errors
