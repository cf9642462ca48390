"""The ``/scale`` subresource: an ``autoscaling/v1`` Scale view of ``spec.replicas``.

``kubectl scale`` and autoscalers never touch a Deployment's spec directly: they read and
write ``/apis/apps/v1/namespaces/N/deployments/X/scale``, a small object whose
``spec.replicas`` is the parent's and whose ``status`` reports the current count and the
selector as a string. GET, PUT (with its resourceVersion precondition) and PATCH (any patch
type, applied to the Scale object) are served for every built-in kind that has the
subresource (Deployments, ReplicaSets, StatefulSets, ReplicationControllers).
"""

from __future__ import annotations

import json
from typing import Any

from routeshift.emulator import errors, jsondata, operations, patching, paths


def _selector(obj: dict[str, Any]) -> str:
    selector = (obj.get("spec") or {}).get("selector") or {}
    if "matchLabels" not in selector and "matchExpressions" not in selector:  # ReplicationController: a map
        return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or ():
        key, operator = expression.get("key"), expression.get("operator")
        values = ",".join(sorted(expression.get("values") or ()))
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": str(key),
                      "DoesNotExist": f"!{key}"}.get(operator, ""))
    return ",".join(part for part in parts if part)


def scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {key: meta[key] for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if key in meta},
        "spec": {"replicas": int(spec.get("replicas", 1))},
        "status": {"replicas": int((obj.get("status") or {}).get("replicas") or 0), "selector": _selector(obj)},
    }


def read(ops: operations.Operations, target: paths.Target) -> dict[str, Any]:
    return scale_of(ops.read(_parent(target)))


def replace(ops: operations.Operations, target: paths.Target, body: Any, *, dry_run: bool = False) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request must be a JSON object")
    current = ops.read(_parent(target))
    requested = (body.get("metadata") or {}).get("resourceVersion")
    if requested and requested != current["metadata"]["resourceVersion"]:
        raise errors.stale(target.rtype, target.name or "")
    return _write(ops, target, current, body, dry_run=dry_run)


def patch(ops: operations.Operations, target: paths.Target, body: bytes, content_type: str | None, *,
          dry_run: bool = False) -> dict[str, Any]:
    current = ops.read(_parent(target))
    scale = scale_of(current)
    kind = patching.media_type(content_type)
    if kind == patching.STRATEGIC_MERGE_PATCH:  # a Scale is a built-in type even on a custom resource
        content_type = patching.MERGE_PATCH
    patched = patching.apply(scale, body, content_type, target.rtype, target.name or "")
    requested = (patched.get("metadata") or {}).get("resourceVersion")
    if requested is not None and requested != current["metadata"]["resourceVersion"]:
        raise errors.stale(target.rtype, target.name or "")
    return _write(ops, target, current, patched, dry_run=dry_run)


def _write(ops: operations.Operations, target: paths.Target, current: dict[str, Any], scale: dict[str, Any], *,
           dry_run: bool) -> dict[str, Any]:
    wanted = (scale.get("spec") or {}).get("replicas")
    if not isinstance(wanted, int) or isinstance(wanted, bool) or wanted < 0:
        raise errors.invalid(target.rtype, target.name, f"spec.replicas: Invalid value: {json.dumps(wanted)}: "
                                                        f"must be greater than or equal to 0")
    body = jsondata.copy(current)
    body.setdefault("spec", {})["replicas"] = wanted
    updated, _ = ops.replace(_parent(target), body, dry_run=dry_run)
    return scale_of(updated)


def _parent(target: paths.Target) -> paths.Target:
    return paths.Target(target.rtype, target.namespace, target.name, None)
