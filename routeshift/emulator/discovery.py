"""API discovery and the OpenAPI v3 documents kubectl needs.

kmock's discovery reports core as ``groupVersion: "/v1"`` (kubectl then ignores every core
resource) and picks a group's preferred version from a set, i.e. at random per process
(HTTPRoute v1 one run, v1beta1 the next). Here core is ``v1`` and the preferred version is
the highest stable one, deterministically. kubectl's ``apply`` also reads ``/openapi/v3`` to
learn that the server validates fields itself (a ``fieldValidation`` parameter on each
resource's PATCH operation); without it, client-side validation fails. The documents carry
the CRD schemas, so tools that read them see the real shape of custom resources.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from routeshift.emulator import registry

SERVER_VERSION = {
    "major": "1", "minor": "37", "gitVersion": "v1.37.0+routeshift.emulator", "gitCommit": "",
    "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24",
    "compiler": "gc", "platform": "linux/amd64",
}
_SUBRESOURCE_VERBS = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"]}
# Subresources served as another kind (kubectl scale looks the Scale kind up here).
_SUBRESOURCE_KINDS = {"scale": {"group": "autoscaling", "version": "v1", "kind": "Scale"}}


def api_versions(address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]}


def _group_entry(types: registry.Registry, group: str) -> dict[str, Any]:
    versions = types.versions_of(group)
    return {
        "name": group,
        "versions": [{"groupVersion": f"{group}/{version}", "version": version} for version in versions],
        "preferredVersion": {"groupVersion": f"{group}/{versions[0]}", "version": versions[0]},
    }


def api_group_list(types: registry.Registry) -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group_entry(types, group) for group in types.groups()]}


def api_group(types: registry.Registry, group: str) -> dict[str, Any] | None:
    if group not in types.groups():
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(types, group)}


def api_resource_list(types: registry.Registry, group: str, version: str) -> dict[str, Any] | None:
    served = types.in_group_version(group, version)
    if not served:
        return None
    resources: list[dict[str, Any]] = []
    for rtype in served:
        entry: dict[str, Any] = {
            "name": rtype.plural, "singularName": rtype.singular, "namespaced": rtype.namespaced,
            "kind": rtype.kind, "verbs": sorted(rtype.verbs),
        }
        if rtype.shortnames:
            entry["shortNames"] = list(rtype.shortnames)
        if rtype.categories:
            entry["categories"] = list(rtype.categories)
        resources.append(entry)
        for subresource in sorted(rtype.subresources):
            resources.append({
                "name": f"{rtype.plural}/{subresource}", "singularName": "", "namespaced": rtype.namespaced,
                "kind": rtype.kind, "verbs": _SUBRESOURCE_VERBS.get(subresource, ["get"]),
                **_SUBRESOURCE_KINDS.get(subresource, {}),
            })
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version, "resources": resources}


# ---------------------------------------------------------------- OpenAPI v3

def _gv_paths(types: registry.Registry) -> list[tuple[str, str, str]]:
    """(openapi path key, group, version) for every served group/version."""
    result = [("api/v1", "", "v1")]
    for group in types.groups():
        for version in types.versions_of(group):
            result.append((f"apis/{group}/{version}", group, version))
    return result


def schema_name(rtype: registry.ResourceType) -> str:
    prefix = "io.k8s.api.core" if not rtype.group else ".".join(reversed(rtype.group.split(".")))
    return f"{prefix}.{rtype.version}.{rtype.kind}"


def _parameters(*names: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}} for name in names]


def _operation(rtype: registry.ResourceType, action: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema_name(rtype)}"}
    return {
        "operationId": f"{action}{rtype.kind}",
        "parameters": parameters,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": rtype.group, "version": rtype.version, "kind": rtype.kind},
    }


def _schema(rtype: registry.ResourceType) -> dict[str, Any]:
    schema = dict(rtype.schema) if rtype.schema else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    schema["x-kubernetes-group-version-kind"] = [{"group": rtype.group, "version": rtype.version, "kind": rtype.kind}]
    return schema


def openapi_document(types: registry.Registry, group: str, version: str) -> dict[str, Any] | None:
    served = types.in_group_version(group, version)
    if not served:
        return None
    base = f"/apis/{group}/{version}" if group else f"/api/{version}"
    write = _parameters("dryRun", "fieldManager", "fieldValidation")
    doc_paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for rtype in served:
        scope = f"{base}/namespaces/{{namespace}}/{rtype.plural}" if rtype.namespaced else f"{base}/{rtype.plural}"
        doc_paths[scope] = {"get": _operation(rtype, "list", _parameters("labelSelector", "fieldSelector", "watch")),
                            "post": _operation(rtype, "post", write)}
        doc_paths[f"{scope}/{{name}}"] = {
            "get": _operation(rtype, "get", []),
            "put": _operation(rtype, "put", write),
            "patch": _operation(rtype, "patch", [*write, *_parameters("force")]),
            "delete": _operation(rtype, "delete", _parameters("dryRun")),
        }
        for subresource in sorted(rtype.subresources & {"status"}):
            doc_paths[f"{scope}/{{name}}/{subresource}"] = {
                "get": _operation(rtype, "get", []),
                "put": _operation(rtype, "put", write),
                "patch": _operation(rtype, "patch", [*write, *_parameters("force")]),
            }
        schemas[schema_name(rtype)] = _schema(rtype)
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
            "paths": doc_paths, "components": {"schemas": schemas}}


def openapi_index(types: registry.Registry) -> dict[str, Any]:
    """``/openapi/v3``: one entry per group/version, with a content hash so kubectl's cache refreshes."""
    entries = {}
    for key, group, version in _gv_paths(types):
        document = openapi_document(types, group, version)
        if document is None:
            continue
        digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32].upper()
        entries[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": entries}
