"""Strategic merge patch for built-in types, as ``k8s.io/apimachinery/pkg/util/strategicpatch``.

kubectl sends strategic merge patches for every built-in kind (``set image``, ``rollout
restart``, ``apply``, ``edit``, ``label``…). Their whole point is that lists of named things
are merged by a key instead of replaced: ``kubectl set image deployment/x app=IMG`` sends
only ``containers: [{name: app, image: IMG}]``; applying that as a JSON merge patch would drop
the container's ports, env and probes. The merge keys and strategies live in the Go struct
tags of the API types; the few that matter are tabled here per path (``SCHEMAS``), and every
list without one is replaced, as upstream does for atomic lists.

Directives: ``$patch: replace|delete|merge`` on maps and list items, ``$setElementOrder/<f>``,
``$deleteFromPrimitiveList/<f>``, ``$retainKeys``, and ``null`` deleting a field. Pure.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from routeshift.emulator import jsondata

_PATCH = "$patch"
_RETAIN_KEYS = "$retainKeys"
_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVES = "$deleteFromPrimitiveList/"
_DELETED = object()  # a map that ``$patch: delete`` removed from its parent


class PatchError(ValueError):
    """The patch is malformed (an unknown directive, a list item without its merge key)."""


@dataclasses.dataclass(frozen=True)
class Field:
    """How one field merges: ``merge_key`` for lists of maps, ``primitive`` for merged scalars."""

    merge_key: str | None = None
    primitive: bool = False
    schema: Schema | None = None  # the schema of the field's value (or of each list item)


Schema = dict[str, Field]

OBJECT_META: Schema = {
    "ownerReferences": Field(merge_key="uid"),
    "finalizers": Field(primitive=True),
}
CONTAINER: Schema = {
    "ports": Field(merge_key="containerPort"),
    "env": Field(merge_key="name"),
    "volumeMounts": Field(merge_key="mountPath"),
    "volumeDevices": Field(merge_key="devicePath"),
}
POD_SPEC: Schema = {
    "containers": Field(merge_key="name", schema=CONTAINER),
    "initContainers": Field(merge_key="name", schema=CONTAINER),
    "ephemeralContainers": Field(merge_key="name", schema=CONTAINER),
    "volumes": Field(merge_key="name"),
    "imagePullSecrets": Field(merge_key="name"),
    "hostAliases": Field(merge_key="ip"),
    "topologySpreadConstraints": Field(merge_key="topologyKey"),
    "resourceClaims": Field(merge_key="name"),
    "schedulingGates": Field(merge_key="name"),
}
CONDITIONS = Field(merge_key="type")
POD_TEMPLATE: Schema = {"metadata": Field(schema=OBJECT_META), "spec": Field(schema=POD_SPEC)}
POD_STATUS: Schema = {
    "conditions": CONDITIONS,
    "podIPs": Field(merge_key="ip"),
    "resourceClaimStatuses": Field(merge_key="name"),
}
_WITH_STATUS_CONDITIONS: Schema = {"conditions": CONDITIONS}


def _root(spec: Schema | None = None, status: Schema | None = None) -> Schema:
    root: Schema = {"metadata": Field(schema=OBJECT_META)}
    if spec is not None:
        root["spec"] = Field(schema=spec)
    root["status"] = Field(schema=status if status is not None else _WITH_STATUS_CONDITIONS)
    return root


_WORKLOAD_SPEC: Schema = {"template": Field(schema=POD_TEMPLATE)}
SCHEMAS: dict[tuple[str, str], Schema] = {
    ("", "pods"): _root(POD_SPEC, POD_STATUS),
    ("", "podtemplates"): {"metadata": Field(schema=OBJECT_META), "template": Field(schema=POD_TEMPLATE)},
    ("", "replicationcontrollers"): _root(_WORKLOAD_SPEC),
    ("", "services"): _root({"ports": Field(merge_key="port")}),
    ("", "nodes"): _root({"podCIDRs": Field(primitive=True)},
                         {"conditions": CONDITIONS, "addresses": Field(merge_key="type")}),
    ("", "namespaces"): _root({"finalizers": Field(primitive=True)}),
    ("apps", "deployments"): _root(_WORKLOAD_SPEC),
    ("apps", "replicasets"): _root(_WORKLOAD_SPEC),
    ("apps", "statefulsets"): _root(_WORKLOAD_SPEC),
    ("apps", "daemonsets"): _root(_WORKLOAD_SPEC),
    ("batch", "jobs"): _root(_WORKLOAD_SPEC),
    ("batch", "cronjobs"): _root({"jobTemplate": Field(schema={"spec": Field(schema=_WORKLOAD_SPEC)})}),
}
DEFAULT_SCHEMA: Schema = {"metadata": Field(schema=OBJECT_META)}


def schema_for(group: str, plural: str) -> Schema:
    """The merge table of a built-in resource; unknown kinds merge only their metadata by key."""
    return SCHEMAS.get((group, plural), DEFAULT_SCHEMA)


def apply(original: Any, patch: dict[str, Any], schema: Schema | None = None) -> Any:
    """``original`` with the strategic merge ``patch`` applied; neither argument is modified."""
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    merged = _merge_map(original if isinstance(original, dict) else {}, patch, schema or {})
    return {} if merged is _DELETED else merged


def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: Schema) -> Any:
    patch = dict(patch)
    directive = patch.pop(_PATCH, None)
    if directive == "delete":
        return _DELETED
    if directive == "replace":
        return _strip(patch)
    if directive not in (None, "merge"):
        raise PatchError(f"unknown patch type: {directive!r} in map")
    retain = patch.pop(_RETAIN_KEYS, None)
    result = jsondata.copy(original)
    orders = {key[len(_ORDER):]: patch.pop(key) for key in list(patch) if key.startswith(_ORDER)}
    for key in [key for key in patch if key.startswith(_DELETE_PRIMITIVES)]:
        field, doomed = key[len(_DELETE_PRIMITIVES):], patch.pop(key)
        if isinstance(result.get(field), list) and isinstance(doomed, list):
            result[field] = [value for value in result[field] if value not in doomed]
    for key, value in patch.items():
        if key.startswith("$"):
            raise PatchError(f"unknown directive {key!r}")
        field = schema.get(key, Field())
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            current = result.get(key)
            merged = _merge_map(current if isinstance(current, dict) else {}, value, field.schema or {})
            if merged is _DELETED:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value, field)
        else:
            result[key] = value
    for key, order in orders.items():
        if isinstance(result.get(key), list) and isinstance(order, list):
            result[key] = _ordered(result[key], order, schema.get(key, Field()).merge_key)
    if isinstance(retain, list):
        result = {key: value for key, value in result.items() if key in retain}
    return result


def _merge_list(original: Any, patch: list[Any], field: Field) -> list[Any]:
    if any(isinstance(item, dict) and item.get(_PATCH) == "replace" and len(item) == 1 for item in patch):
        return [_strip(item) for item in patch if not (isinstance(item, dict) and item.get(_PATCH) == "replace")]
    current = list(jsondata.copy(original)) if isinstance(original, list) else []
    if field.primitive:
        return current + [item for item in patch if item not in current]
    key = field.merge_key
    if key is None:
        return [_strip(item) for item in patch]
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"a list merged by {key!r} can only hold maps, got {item!r}")
        if key not in item:
            raise PatchError(f"map: {item!r} does not contain declared merge key: {key}")
        position = next((i for i, existing in enumerate(current)
                         if isinstance(existing, dict) and existing.get(key) == item[key]), None)
        if item.get(_PATCH) == "delete":
            current = [existing for existing in current
                       if not (isinstance(existing, dict) and existing.get(key) == item[key])]
            continue
        merged = _merge_map(current[position] if position is not None else {}, item, field.schema or {})
        if merged is _DELETED:
            continue
        if position is None:
            current.append(merged)
        else:
            current[position] = merged
    return current


def _ordered(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    """Items in ``$setElementOrder`` order; items the order does not name keep theirs, last."""
    def identity(item: Any) -> Any:
        return item.get(key) if key is not None and isinstance(item, dict) else item
    wanted = [identity(entry) for entry in order]
    ranked = [item for name in wanted for item in items if identity(item) == name]
    return ranked + [item for item in items if identity(item) not in wanted]


def _strip(value: Any) -> Any:
    """A value from the patch with every directive removed (what ``replace`` and new items store)."""
    if isinstance(value, dict):
        return {key: _strip(item) for key, item in value.items()
                if not key.startswith("$") and item is not None}
    if isinstance(value, list):
        return [_strip(item) for item in value]
    return value
