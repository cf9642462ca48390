"""Server-side printing: ``Table`` and ``PartialObjectMetadata`` responses for kubectl.

``kubectl get`` asks for ``Accept: application/json;as=Table;g=meta.k8s.io;v=v1`` and prints
the columns the server chose; for custom resources those are the CRD's
``additionalPrinterColumns`` (so ``kubectl get canaries`` shows phase, weight and step).
The column paths are the JSONPath subset CRDs allow: ``.a.b``, ``.a[0]``, ``.a['b']`` and
filters like ``.status.conditions[?(@.type=="Ready")].status``.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from routeshift.emulator import metadata, printers, registry

_TOKEN = re.compile(
    r"""\.([A-Za-z0-9_\-$]+)"""                                        # .field
    r"""|\[(\d+)\]"""                                                 # [0]
    r"""|\['([^']*)'\]"""                                              # ['field']
    r"""|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*==\s*["']([^"']*)["']\)\]"""   # [?(@.type=="Ready")]
    r"""|\[\*\]""")                                                   # [*]

human_duration = printers.human_duration  # kubectl's age format, used by the columns below

NAME_COLUMN = {"name": "Name", "type": "string", "format": "name", "priority": 0,
               "description": "Name must be unique within a namespace."}
AGE_COLUMN = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp", "priority": 0,
              "description": "CreationTimestamp is a timestamp representing the server time "
                             "when this object was created."}


def wants(accept: str | None, as_kind: str) -> bool:
    """Whether the Accept header asks for ``as=<kind>`` in its first acceptable media range."""
    for media_range in (accept or "").split(","):
        params = dict(part.strip().split("=", 1) for part in media_range.split(";")[1:] if "=" in part)
        if params.get("as") == as_kind:
            return True
    return False


def jsonpath(obj: Any, path: str) -> list[Any]:
    """All values at ``path`` (empty when absent)."""
    values = [obj]
    text = path.strip().strip("{}")
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            return []
        position = match.end()
        field, index, quoted, filter_key, filter_value = match.groups()
        following: list[Any] = []
        for value in values:
            if field is not None or quoted is not None:
                key = field if field is not None else quoted
                if isinstance(value, dict) and key in value:
                    following.append(value[key])
            elif index is not None:
                if isinstance(value, list) and int(index) < len(value):
                    following.append(value[int(index)])
            elif filter_key is not None:
                if isinstance(value, list):
                    following.extend(item for item in value
                                     if _lookup(item, filter_key) == filter_value)
            elif isinstance(value, list):
                following.extend(value)
        values = following
    return values


def _lookup(item: Any, dotted: str) -> str | None:
    for key in dotted.split("."):
        if not isinstance(item, dict) or key not in item:
            return None
        item = item[key]
    return item if isinstance(item, str) else json.dumps(item)


def _cell(obj: dict[str, Any], column: dict[str, Any]) -> Any:
    values = jsonpath(obj, column.get("jsonPath", ""))
    if not values:
        return None
    value = values[0]
    kind = column.get("type", "string")
    if kind == "date":
        when = metadata.parse_time(value) if isinstance(value, str) else None
        if when is None:
            return value
        return human_duration((datetime.datetime.now(tz=datetime.UTC) - when).total_seconds())
    if kind == "integer" and isinstance(value, (int, float)):
        return int(value)
    if kind == "number" and isinstance(value, (int, float)):
        return value
    if kind == "boolean" and isinstance(value, bool):
        return value
    if isinstance(value, (dict, list, bool)) or (kind == "string" and not isinstance(value, str)):
        return json.dumps(value, separators=(",", ":"))
    return value


def columns_of(rtype: registry.ResourceType) -> list[dict[str, Any]]:
    """Name first, then the CRD's printer columns, or the built-in kind's computed ones
    (:mod:`routeshift.emulator.printers`), or Age when none are declared (as upstream)."""
    declared = [dict(column) for column in rtype.printer_columns]
    if not declared and rtype.builtin:
        declared = printers.columns_for(rtype.group, rtype.plural) or []
    return [NAME_COLUMN, *(declared or [AGE_COLUMN])]


def partial_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def table(rtype: registry.ResourceType, objects: list[dict[str, Any]], *, resource_version: str,
          include_object: str | None, with_definitions: bool = True,
          continue_token: str | None = None) -> dict[str, Any]:
    columns = columns_of(rtype)
    rows = []
    now = datetime.datetime.now(tz=datetime.UTC)
    for obj in objects:
        cells = [obj.get("metadata", {}).get("name", "")] + [
            column["cell"](obj, now) if "cell" in column else _cell(obj, column) for column in columns[1:]]
        row: dict[str, Any] = {"cells": cells}
        mode = include_object or "Metadata"
        if mode == "Object":
            row["object"] = obj
        elif mode == "Metadata":
            row["object"] = partial_metadata(obj)
        rows.append(row)
    definitions = [
        {"name": column["name"], "type": column.get("type", "string"), "format": column.get("format", ""),
         "description": column.get("description", ""), "priority": int(column.get("priority", 0))}
        for column in columns
    ]
    meta: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
            "columnDefinitions": definitions if with_definitions else [], "rows": rows}
