"""Every rendered object is valid: built-in kinds against the Kubernetes 1.30 OpenAPI
schema (kubernetes-validate, offline, strict: unknown fields are errors), custom
resources against their CRD's schema (jsonschema).

The prometheus-operator CRDs are not vendored here, so ServiceMonitor and PrometheusRule
are checked against the fields of monitoring.coreos.com/v1 the chart relies on, as
documented by the operator's API reference; the PrometheusRule's rules themselves are
checked by promtool in test_alert_rules.py.
"""

import jsonschema
import kubernetes_validate
import pytest
import yaml

from routeshift.testing.helm import REPO_ROOT

BUILTIN_GROUPS = {"v1", "apps/v1", "rbac.authorization.k8s.io/v1", "apiextensions.k8s.io/v1", "policy/v1"}
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule", "GatewayClass", "ClusterKopfPeering", "KopfPeering"}
DURATION = {"type": "string",
            "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}
LABELS = {"type": "object", "additionalProperties": {"type": "string"}}

SERVICE_MONITOR_SPEC = {
    "type": "object", "required": ["endpoints", "selector"], "additionalProperties": False,
    "properties": {
        "jobLabel": {"type": "string"},
        "namespaceSelector": {"type": "object", "additionalProperties": False, "properties": {
            "any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}}},
        "selector": {"type": "object", "properties": {"matchLabels": LABELS}},
        "endpoints": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False, "required": ["port"],
            "properties": {"port": {"type": "string"}, "path": {"type": "string"}, "interval": DURATION,
                           "scrapeTimeout": DURATION}}},
    },
}
PROMETHEUS_RULE_SPEC = {
    "type": "object", "required": ["groups"], "additionalProperties": False,
    "properties": {"groups": {"type": "array", "items": {
        "type": "object", "required": ["name", "rules"], "additionalProperties": False,
        "properties": {"name": {"type": "string", "minLength": 1}, "rules": {"type": "array", "items": {
            "type": "object", "required": ["expr"], "additionalProperties": False,
            "properties": {"alert": {"type": "string"}, "record": {"type": "string"}, "expr": {"type": "string"},
                           "for": DURATION, "labels": LABELS, "annotations": LABELS}}}}}}},
}
GATEWAY_CLASS_SPEC = {
    "type": "object", "required": ["controllerName"], "additionalProperties": False,
    "properties": {"controllerName": {
        "type": "string",
        "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+$"},
        "description": {"type": "string", "maxLength": 64}},
}
OPERATOR_SPECS = {"ServiceMonitor": SERVICE_MONITOR_SPEC, "PrometheusRule": PROMETHEUS_RULE_SPEC,
                  "GatewayClass": GATEWAY_CLASS_SPEC}


def test_builtin_objects_match_the_kubernetes_1_30_schema(combination):
    checked = 0
    for doc in combination.documents:
        if doc["apiVersion"] in BUILTIN_GROUPS:
            try:
                kubernetes_validate.validate(doc, "1.30.0", strict=True)
            except kubernetes_validate.ValidationError as error:
                pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {error.message} at {list(error.path)}")
            checked += 1
        else:
            assert doc["kind"] in CUSTOM_KINDS, f"unexpected kind {doc['apiVersion']} {doc['kind']}"
    assert checked >= 5


def test_kubernetes_validate_rejects_an_unknown_field(render):
    """The validator is strict: a misspelt field in a Deployment is an error, not ignored."""
    deployment = next(doc for doc in render({}) if doc["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 3}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.30.0", strict=True)


def test_operator_and_gateway_resources_match_their_api(combination):
    for doc in combination.documents:
        if doc["kind"] in OPERATOR_SPECS:
            assert set(doc) == {"apiVersion", "kind", "metadata", "spec"}
            jsonschema.validate(doc["spec"], OPERATOR_SPECS[doc["kind"]])
    for monitor in combination.of_kind("ServiceMonitor").values():
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        # Each ServiceMonitor must select a Service the chart renders, by labels and port name.
        services = [svc for svc in combination.of_kind("Service").values()
                    if monitor["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()]
        assert len(services) == 1, monitor["metadata"]["name"]
        assert monitor["spec"]["endpoints"][0]["port"] in {port["name"] for port in services[0]["spec"]["ports"]}


def _crd_schema(crd: dict, version: str) -> dict:
    return next(v for v in crd["spec"]["versions"] if v["name"] == version)["schema"]["openAPIV3Schema"]


def _chart_crds() -> list[dict]:
    return [yaml.safe_load(path.read_text()) for path in (REPO_ROOT / "charts/routeshift/crds").glob("*.yaml")]


def _crd_for(resource: dict) -> dict:
    group, version = resource["apiVersion"].split("/")
    crd = next((c for c in _chart_crds() if c["spec"]["group"] == group and c["spec"]["names"]["kind"] ==
                resource["kind"]), None)
    assert crd is not None, f"the chart ships no CRD for {resource['apiVersion']} {resource['kind']}"
    return crd


@pytest.mark.parametrize(("name", "kind", "scope"), [("defaults", "ClusterKopfPeering", "Cluster"),
                                                     ("watch-namespaces", "KopfPeering", "Namespaced")])
def test_kopf_peering_matches_the_crd_the_chart_installs(rendering, name, kind, scope):
    peerings = [doc for doc in rendering(name).documents if doc["kind"] == kind]
    assert peerings
    for peering in peerings:
        crd = _crd_for(peering)
        assert crd["spec"]["scope"] == scope
        assert ("namespace" in peering["metadata"]) == (scope == "Namespaced")
        # CRD schemas are OpenAPI 3.0 (boolean exclusiveMaximum): JSON Schema draft 4 semantics.
        jsonschema.Draft4Validator(_crd_schema(crd, peering["apiVersion"].split("/")[1])).validate(peering)


def _examples() -> list:
    params = []
    for path in sorted((REPO_ROOT / "examples").glob("*/*.yaml")):
        for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if doc and doc.get("apiVersion", "").startswith("routeshift.dev/"):
                params.append(pytest.param(doc, id=f"{path.parent.name}/{path.name}#{index}"))
    return params


@pytest.mark.parametrize("resource", _examples())
def test_example_resources_match_the_chart_crds(resource):
    """Every routeshift.dev resource in examples/ validates against the CRD the chart installs."""
    crd = _crd_for(resource)
    jsonschema.Draft4Validator(_crd_schema(crd, resource["apiVersion"].split("/")[1])).validate(resource)


def test_crd_validation_catches_a_broken_canary():
    """The CRD check has teeth: an example with only half of its backends (no stable) is rejected."""
    resource = next(param.values[0] for param in _examples() if param.values[0]["kind"] == "Canary")
    crd = yaml.safe_load((REPO_ROOT / "charts/routeshift/crds/canaries.routeshift.dev.yaml").read_text())
    broken = {**resource, "spec": {key: value for key, value in resource["spec"].items() if key != "stable"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(_crd_schema(crd, "v1alpha1")).validate(broken)
