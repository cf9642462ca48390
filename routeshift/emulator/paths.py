"""Parse a Kubernetes REST path into the resource, namespace, name and subresource it names.

kmock's path parser fails on ``/api/v1/namespaces`` (the namespace list) and cannot tell
``/api/v1/namespaces/x/status`` (a namespace's status) from a list of a resource called
``status``. The real server resolves that ambiguity with its knowledge of which resources
exist; so does this parser, against the emulator's registry.
"""

from __future__ import annotations

import dataclasses

from routeshift.emulator import errors, registry


@dataclasses.dataclass(frozen=True)
class Target:
    """What a resource URL addresses. ``name`` is None for collections."""

    rtype: registry.ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


def is_resource_path(path: str) -> bool:
    """Whether the path goes below a group/version (``/api/v1/<x>`` or ``/apis/<g>/<v>/<x>``)."""
    parts = [part for part in path.split("/") if part]
    return (len(parts) >= 3 and parts[0] == "api") or (len(parts) >= 4 and parts[0] == "apis")


def parse(path: str, types: registry.Registry) -> Target:
    """Resolve a resource path; 404 for unknown resources and misplaced namespaces."""
    parts = [part for part in path.split("/") if part]
    if parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    else:
        group, version, rest = parts[1], parts[2], parts[3:]

    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespaces = types.lookup("", "v1", "namespaces") if group == "" else None
        # /api/v1/namespaces/NAME/status|finalize address a namespace, not a namespaced list.
        if namespaces is not None and len(rest) == 3 and rest[2] in namespaces.subresources:
            return Target(namespaces, None, rest[1], rest[2])
        namespace, rest = rest[1], rest[2:]

    plural = rest[0]
    name = rest[1] if len(rest) >= 2 else None
    subresource = "/".join(rest[2:]) or None
    rtype = types.lookup(group, version, plural)
    if rtype is None:
        raise errors.resource_not_found()
    if namespace is not None and not rtype.namespaced:
        raise errors.resource_not_found()
    if subresource is not None and subresource not in rtype.subresources:
        raise errors.resource_not_found()
    return Target(rtype, namespace, name, subresource)
