"""CustomResourceDefinitions: posted through the API, they become served, validated resources.

``kubectl apply -f crds/`` followed by ``kubectl apply -f canary.yaml`` is the first thing a
user and the demo do. On a real cluster the apiextensions controller then serves the new
resource (discovery, printer columns, status subresource), prunes fields the schema does not
declare, applies its defaults, rejects values it forbids with 422, and refuses unknown fields under
``fieldValidation=Strict`` (kubectl's default). This module does the same, synchronously:
the CRD is Established in the same write that creates it.
"""

from __future__ import annotations

from typing import Any

import fastjsonschema
import jsonschema

from routeshift.emulator import errors, jsondata, metadata, registry

GROUP = "apiextensions.k8s.io"
PLURAL = "customresourcedefinitions"


def is_crd(rtype: registry.ResourceType) -> bool:
    return rtype.group == GROUP and rtype.plural == PLURAL


def _crd_error(crd: dict[str, Any], message: str) -> errors.ApiError:
    name = crd.get("metadata", {}).get("name", "")
    return errors.ApiError(status=422, reason="Invalid",
                           message=f'CustomResourceDefinition.apiextensions.k8s.io "{name}" is invalid: {message}',
                           details={"name": name, "group": GROUP, "kind": "CustomResourceDefinition"})


def check_definition(crd: dict[str, Any]) -> None:
    """The structural checks the real server applies before accepting a CRD."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
    if not group or not plural or not kind:
        raise _crd_error(crd, "spec.group, spec.names.plural and spec.names.kind: Required value")
    if crd.get("metadata", {}).get("name") != f"{plural}.{group}":
        raise _crd_error(crd, f'metadata.name: Invalid value: must be spec.names.plural+"."+spec.group '
                              f'("{plural}.{group}")')
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        raise _crd_error(crd, 'spec.scope: Unsupported value: supported values: "Cluster", "Namespaced"')
    versions = spec.get("versions") or []
    if not versions:
        raise _crd_error(crd, "spec.versions: Invalid value: must have exactly one version marked as storage version")
    if sum(1 for version in versions if version.get("storage")) != 1:
        raise _crd_error(crd, "spec.versions: Invalid value: must have exactly one version marked as storage version")


def resource_types(crd: dict[str, Any]) -> list[registry.ResourceType]:
    """The served versions of a CRD as resource types."""
    spec = crd["spec"]
    names = spec["names"]
    result = []
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        subresources = set((version.get("subresources") or {}).keys())
        result.append(registry.ResourceType(
            group=spec["group"], version=version["name"], plural=names["plural"], kind=names["kind"],
            singular=names.get("singular") or names["kind"].lower(),
            namespaced=spec["scope"] == "Namespaced",
            verbs=frozenset({"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}),
            shortnames=tuple(names.get("shortNames") or ()), categories=tuple(names.get("categories") or ()),
            subresources=frozenset(subresources),
            printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
            schema=(version.get("schema") or {}).get("openAPIV3Schema"),
            builtin=False,
        ))
    return result


def established_status(crd: dict[str, Any]) -> dict[str, Any]:
    """The status the apiextensions controller writes once the names are accepted."""
    spec = crd["spec"]
    names = dict(spec["names"])
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", f"{names['kind']}List")
    when = metadata.now()
    storage = next(version["name"] for version in spec["versions"] if version.get("storage"))
    stored = list((crd.get("status") or {}).get("storedVersions") or [])
    return {
        "acceptedNames": names,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": when},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": when},
        ],
        "storedVersions": stored if storage in stored else stored + [storage],
    }


def _default(value: Any, schema: dict[str, Any]) -> None:
    """Structural defaulting: absent (or non-nullable null) fields get the schema's ``default``,
    top-down, so defaults inside a defaulted object apply too."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        for key, sub_schema in (schema.get("properties") or {}).items():
            if not isinstance(sub_schema, dict):
                continue
            if key in value and value[key] is None and not sub_schema.get("nullable"):
                del value[key]
            if key not in value and "default" in sub_schema:
                value[key] = jsondata.copy(sub_schema["default"])
            if key in value:
                _default(value[key], sub_schema)
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for key in value:
                if key not in (schema.get("properties") or {}):
                    _default(value[key], additional)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _default(item, schema["items"])


def _prune(value: Any, schema: dict[str, Any], path: str, unknown: list[str]) -> None:
    """Remove fields the structural schema does not declare, collecting their paths."""
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict):
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        for key in list(value):
            if properties is not None and key in properties:
                _prune(value[key], properties[key], f"{path}.{key}", unknown)
            elif isinstance(additional, dict):
                _prune(value[key], additional, f"{path}.{key}", unknown)
            elif additional is True:
                continue
            elif schema.get("type") == "object" or properties is not None:
                unknown.append(f"{path}.{key}".lstrip("."))
                del value[key]
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _prune(item, schema["items"], f"{path}[{index}]", unknown)


_PROPERTY_MAPS = ("properties", "patternProperties")

# Validators per CRD version schema, keyed by the schema object's identity (kept alive
# alongside): converting a large schema costs milliseconds, and every write needs one.
_VALIDATORS: dict[int, tuple[dict[str, Any], jsonschema.Draft4Validator, Any]] = {}


def _validator(schema: dict[str, Any]) -> tuple[jsonschema.Draft4Validator, Any]:
    """The validators of a CRD schema for an object's body (metadata is the server's).

    Two of one schema: ``fastjsonschema`` compiles it to Python code and answers "valid" about
    ten times sooner, which matters because every write of a custom resource (a Canary's status
    with its decision log, 50 times a second at scale) is validated; ``jsonschema`` stays the
    authority and names every problem when the fast one says the body is invalid.
    """
    cached = _VALIDATORS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1], cached[2]
    converted = _as_json_schema(schema)
    for_body = {**converted, "properties": {key: value for key, value in converted.get("properties", {}).items()
                                           if key not in ("apiVersion", "kind", "metadata")}}
    for_body.pop("required", None)
    required = [key for key in converted.get("required", []) if key not in ("apiVersion", "kind", "metadata")]
    if required:
        for_body["required"] = required
    validator = jsonschema.Draft4Validator(for_body)
    fast = fastjsonschema.compile({**for_body, "$schema": "http://json-schema.org/draft-04/schema#"})
    _VALIDATORS[id(schema)] = (schema, validator, fast)
    return validator, fast


def _as_json_schema(schema: Any) -> Any:
    """OpenAPI v3.0 → JSON Schema draft 4: ``nullable`` becomes an explicit null type."""
    if isinstance(schema, list):
        return [_as_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    # Property maps are converted below, name by name: a property may be called "nullable".
    converted = {key: _as_json_schema(value) for key, value in schema.items()
                 if not key.startswith("x-kubernetes-") and key not in ("nullable", *_PROPERTY_MAPS)}
    for key in _PROPERTY_MAPS:
        if key in schema:
            converted[key] = {name: _as_json_schema(sub) for name, sub in schema[key].items()}
    if schema.get("x-kubernetes-int-or-string") and "type" not in schema and "anyOf" not in schema:
        converted["type"] = ["integer", "string"]
    if schema.get("nullable") and "type" in converted:
        types = converted["type"] if isinstance(converted["type"], list) else [converted["type"]]
        converted["type"] = [*types, "null"]
    return converted


def validate(rtype: registry.ResourceType, obj: dict[str, Any],
             field_validation: str | None) -> tuple[dict[str, Any], list[str]]:
    """The object pruned to its schema and defaulted, and warnings.

    Raises 400 for unknown fields under ``fieldValidation=Strict`` and 422 for invalid values.
    """
    if rtype.schema is None:
        return obj, []
    name = obj.get("metadata", {}).get("name")
    pruned = jsondata.copy(obj)
    body = {key: value for key, value in pruned.items() if key not in ("apiVersion", "kind", "metadata")}
    unknown: list[str] = []
    _prune(body, rtype.schema, "", unknown)
    _default(body, rtype.schema)
    mode = (field_validation or "Ignore").capitalize()
    if unknown and mode == "Strict":
        fields = ", ".join(f'unknown field "{field}"' for field in unknown)
        raise errors.bad_request(f"{rtype.kind} in version \"{rtype.version}\" cannot be handled as a {rtype.kind}: "
                                 f"strict decoding error: {fields}")
    warnings = [f'unknown field "{field}"' for field in unknown] if mode == "Warn" else []
    validator, fast = _validator(rtype.schema)
    try:
        fast(body)
        problems = []
    except fastjsonschema.JsonSchemaException:
        problems = sorted(validator.iter_errors(body), key=lambda error: list(error.absolute_path))
    if problems:
        causes = []
        for problem in problems:
            field = ".".join(str(part) for part in problem.absolute_path)
            causes.append({"reason": "FieldValueInvalid", "message": f"Invalid value: {problem.message}",
                           "field": field})
        summary = ", ".join(f"{cause['field'] or '<root>'}: {cause['message']}" for cause in causes)
        raise errors.invalid(rtype, name, summary, causes=causes)
    pruned = {key: value for key, value in pruned.items() if key in ("apiVersion", "kind", "metadata")} | body
    return pruned, warnings
