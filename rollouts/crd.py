"""Generate the CustomResourceDefinitions from the pydantic models.

The models in ``rollouts.model`` (and ``analysis.model`` for MetricTemplate) are the one
source of truth; ``crds/*.yaml`` is their projection, regenerated with::

    python -m rollouts.crd --out-dir crds      # writes every CRD
    python -m rollouts.crd > crds/canaries.routeshift.dev.yaml

Kubernetes wants a *structural* OpenAPI v3 schema, which pydantic's JSON Schema is not:
it uses ``$ref``/``$defs``, ``anyOf`` with ``null`` for optional fields, numeric
``exclusiveMinimum`` (draft 2020) and ``additionalProperties: false`` next to
``properties``. ``structural`` rewrites those and refuses anything it cannot express,
so an unsupported model shape fails the drift test instead of the API server.
"""

from __future__ import annotations

import argparse
import copy
import pathlib
import sys
from typing import Any

from pydantic import BaseModel

from analysis import model as analysis_model
from rollouts import model
from rollouts.notifications import model as notification_model

# Keywords a structural schema keeps; everything else pydantic emits (title, examples) goes.
_KEEP = {
    "type", "format", "description", "default", "enum", "pattern", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems", "items", "properties", "required",
    "additionalProperties", "nullable", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string",
}


class SchemaError(ValueError):
    """A model uses a JSON Schema construct that has no structural OpenAPI equivalent."""


def structural(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Turn a pydantic JSON Schema node into a structural OpenAPI v3 node."""
    defs = schema.get("$defs", {}) if defs is None else defs
    node = copy.deepcopy(schema)
    if "$ref" in node:
        target = defs[node.pop("$ref").rsplit("/", 1)[-1]]
        # Sibling keywords (description, default) override the referenced definition's.
        node = {**copy.deepcopy(target), **node}
    if "anyOf" in node:
        options = [o for o in node.pop("anyOf") if o.get("type") != "null"]
        if sorted(o.get("type", "") for o in options) == ["integer", "string"]:
            # Kubernetes' IntOrString (a port number or name): the one union structural schemas allow.
            node.pop("default", None)
            return {key: value for key, value in node.items() if key in _KEEP} | {"x-kubernetes-int-or-string": True}
        if len(options) != 1:
            raise SchemaError(f"cannot express a union of {len(options)} types structurally: {options}")
        inner = options[0]
        if "$ref" in inner:
            inner = {**copy.deepcopy(defs[inner["$ref"].rsplit("/", 1)[-1]])}
        node = {**inner, **node}
        if node.get("default", "") is None:
            del node["default"]
        return structural(node, defs)
    for keyword in ("oneOf", "allOf", "not", "const"):
        if keyword in node:
            raise SchemaError(f"{keyword} is not supported in a structural schema: {node}")
    for side in ("Minimum", "Maximum"):
        bound = node.get(f"exclusive{side}")
        if isinstance(bound, (int, float)) and not isinstance(bound, bool):
            # Draft 2020 "exclusiveMinimum: 1" is OpenAPI v3.0 "minimum: 1, exclusiveMinimum: true".
            node[side.lower()] = bound
            node[f"exclusive{side}"] = True
    if "enum" in node and "type" not in node:
        node["type"] = "string"
    out = {key: value for key, value in node.items() if key in _KEEP}
    if "properties" in out:
        out["type"] = "object"
        out["properties"] = {name: structural(prop, defs) for name, prop in out["properties"].items()}
        # "additionalProperties: false" from extra="forbid" is not allowed next to
        # properties; the API server prunes unknown fields instead.
        out.pop("additionalProperties", None)
    elif isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = structural(out["additionalProperties"], defs)
    elif out.get("type") == "object" and "additionalProperties" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True
    if "items" in out:
        out["items"] = structural(out["items"], defs)
    if "type" not in out and not out.get("x-kubernetes-int-or-string"):
        raise SchemaError(f"every structural schema node needs a type: {node}")
    return out


def model_schema(cls: type[BaseModel]) -> dict[str, Any]:
    return structural(cls.model_json_schema(by_alias=True, mode="validation"))


def _definition(*, kind: str, plural: str, singular: str, short_names: list[str], spec: type[BaseModel],
                status: type[BaseModel] | None, columns: list[dict[str, Any]], description: str) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {**model_schema(spec), "description": description},
    }
    version: dict[str, Any] = {"name": model.VERSION, "served": True, "storage": True}
    if status is not None:
        status_schema = model_schema(status)
        # Status is written only by the controller through merge patches; keep it open to
        # an older controller's extra fields during an upgrade.
        status_schema["x-kubernetes-preserve-unknown-fields"] = True
        properties["status"] = status_schema
        version["subresources"] = {"status": {}}
    version["additionalPrinterColumns"] = columns
    version["schema"] = {"openAPIV3Schema": {"type": "object", "required": ["spec"], "properties": properties}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{model.GROUP}"},
        "spec": {
            "group": model.GROUP,
            "scope": "Namespaced",
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": singular,
                      "shortNames": short_names, "categories": ["routeshift"]},
            "versions": [version],
        },
    }


# The two forms of a Canary's backends, exactly one of which a spec uses. A structural
# schema may carry oneOf when its branches only state value constraints (required).
_CANARY_FORMS = [{"required": ["stable", "canary"]}, {"required": ["targetRef", "service"]}]


def canary_crd() -> dict[str, Any]:
    """The ``canaries.routeshift.dev`` CRD."""
    definition = _definition(
        kind=model.KIND, plural=model.PLURAL, singular=model.SINGULAR, short_names=["cn"],
        spec=model.CanarySpec, status=model.CanaryStatus,
        description="A progressive rollout on existing HTTPRoutes: from a stable to a canary Service, or of "
        "a Deployment's new revisions (targetRef).",
        columns=[
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {"name": "Weight", "type": "integer", "jsonPath": ".status.canaryWeight"},
            {"name": "Step", "type": "string", "jsonPath": ".status.stepProgress"},
            {"name": "Verdict", "type": "string", "jsonPath": ".status.lastVerdict"},
            {"name": "Release", "type": "string", "jsonPath": ".status.release", "priority": 1},
            {"name": "Message", "type": "string", "jsonPath": ".status.message", "priority": 1},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    )
    spec = definition["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["oneOf"] = copy.deepcopy(_CANARY_FORMS)
    return definition


def metric_template_crd() -> dict[str, Any]:
    """The ``metrictemplates.routeshift.dev`` CRD (analysis' reusable queries)."""
    return _definition(
        kind="MetricTemplate", plural="metrictemplates", singular="metrictemplate", short_names=["mt"],
        spec=analysis_model.MetricTemplate, status=None,
        description="A reusable PromQL metric for Canary analysis.",
        columns=[
            {"name": "Direction", "type": "string", "jsonPath": ".spec.direction"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    )


def notification_provider_crd() -> dict[str, Any]:
    """The ``notificationproviders.routeshift.dev`` CRD (where chat notifications go)."""
    definition = _definition(
        kind=notification_model.KIND, plural=notification_model.PLURAL, singular=notification_model.SINGULAR,
        short_names=["np"], spec=notification_model.NotificationProviderSpec, status=None,
        description="Where Canary notifications go and in which service's format (Slack, Microsoft Teams, "
        "Discord, Google Chat or a generic webhook).",
        columns=[
            {"name": "Type", "type": "string", "jsonPath": ".spec.type"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    )
    spec = definition["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["oneOf"] = [{"required": ["address"]}, {"required": ["secretRef"]}]  # the URL, or where to read it
    return definition


def peering_crds() -> list[dict[str, Any]]:
    """kopf's peering resources, needed when several controller replicas run with ``--peering``.

    Each replica writes its identity and priority into the status of a (Cluster)KopfPeering
    object; only the highest priority replica works. The schema is kopf's: opaque status.
    """
    crds = []
    for kind, scope in (("ClusterKopfPeering", "Cluster"), ("KopfPeering", "Namespaced")):
        plural = kind.lower() + "s"
        schema = {"type": "object", "properties": {
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
        crds.append({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.kopf.dev"},
            "spec": {
                "group": "kopf.dev",
                "scope": scope,
                "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()},
                "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}],
            },
        })
    return crds


def all_crds() -> dict[str, dict[str, Any]]:
    """File name -> CRD, for ``crds/``."""
    crds = (canary_crd(), metric_template_crd(), notification_provider_crd(), *peering_crds())
    return {f"{crd['metadata']['name']}.yaml": crd for crd in crds}


def render(crd: dict[str, Any]) -> str:
    """The CRD as the YAML checked into ``crds/``."""
    import yaml  # only the CLI/rendering needs it; building the CRD dict stays pure

    header = "# Generated from the models by `python -m rollouts.crd --out-dir crds`; do not edit.\n"
    return header + yaml.safe_dump(crd, sort_keys=False, width=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rollouts.crd", description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=pathlib.Path, help="write every CRD into this directory")
    args = parser.parse_args(argv)
    if args.out_dir is None:
        sys.stdout.write(render(canary_crd()))
        return 0
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, crd in all_crds().items():
        (args.out_dir / name).write_text(render(crd))
    return 0


if __name__ == "__main__":
    sys.exit(main())
