"""Apply a PATCH body to a stored object according to its Content-Type.

kmock merges every patch as a deep dict update; clients rely on the exact semantics of each
patch type instead: kopf's finalizer patch is a JSON patch whose leading ``test`` must fail
with 422 when the object moved on; ``kubectl patch --type merge`` is RFC 7386 (``null``
deletes, lists replace); a strategic merge patch on a custom resource is refused with 415
exactly as a real server does, which is why plugins must use merge or JSON patches; on
built-in kinds it merges lists by their patchMergeKey (:mod:`routeshift.emulator.strategic`).
"""

from __future__ import annotations

from typing import Any

import jsonpatch
import jsonpointer
import yaml

from routeshift.emulator import errors, jsondata, registry, strategic

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
_REJECTED = "the server rejected our request due to an error in our request"


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge recursively, ``null`` deletes, the rest replaces."""
    if not isinstance(patch, dict):
        return jsondata.copy(patch)
    return _merge_into(jsondata.copy(target) if isinstance(target, dict) else {}, patch)


def _merge_into(result: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``patch`` merged into ``result`` (a copy already), without copying it again at every level."""
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            current = result.get(key)
            result[key] = _merge_into(current if isinstance(current, dict) else {}, value)
        else:
            result[key] = jsondata.copy(value)
    return result


def parse_body(body: bytes, content_type: str) -> Any:
    try:
        if content_type in (APPLY_PATCH,):
            return yaml.safe_load(body.decode("utf-8"))
        return jsondata.loads(body or b"null")
    except (ValueError, yaml.YAMLError) as error:
        raise errors.bad_request(f"error decoding patch: {error}") from error


def apply(current: dict[str, Any], body: bytes, content_type: str | None,
          rtype: registry.ResourceType, name: str) -> dict[str, Any]:
    """The patched object; raises 415 for unsupported types and 422 for a failed JSON-patch test."""
    kind = media_type(content_type)
    if kind == JSON_PATCH:
        operations = parse_body(body, kind)
        if not isinstance(operations, list):
            raise errors.bad_request("json patch must be a list of operations")
        try:
            return jsonpatch.apply_patch(current, operations, in_place=False)
        except jsonpatch.JsonPatchTestFailed as error:
            raise errors.invalid(rtype, name, f"{_REJECTED}: {error}",
                                 causes=[{"reason": "FieldValueInvalid", "message": str(error)}]) from error
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as error:
            raise errors.invalid(rtype, name, f"{_REJECTED}: {error}") from error
    if kind == MERGE_PATCH:
        patch = parse_body(body, kind)
        if not isinstance(patch, dict):
            raise errors.bad_request("merge patch must be a JSON object")
        return merge_patch(current, patch)
    if kind == STRATEGIC_MERGE_PATCH:
        if not rtype.builtin:
            raise errors.unsupported_media_type(kind)
        patch = parse_body(body, kind)
        if not isinstance(patch, dict):
            raise errors.bad_request("strategic merge patch must be a JSON object")
        try:
            return strategic.apply(current, patch, strategic.schema_for(rtype.group, rtype.plural))
        except strategic.PatchError as error:
            raise errors.bad_request(str(error)) from error
    if kind == APPLY_PATCH:
        applied = parse_body(body, kind)
        if not isinstance(applied, dict):
            raise errors.bad_request("apply patch must be a YAML object")
        # Approximation of server-side apply without field ownership: the applied
        # configuration is merged over the live object, lists replace (right for the usual
        # single applier, whose applied list is the whole list it owns).
        return merge_patch(current, applied)
    raise errors.unsupported_media_type(kind)
