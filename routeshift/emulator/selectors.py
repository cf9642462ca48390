"""Label and field selectors, parsed once per request and applied to list and watch.

The controller and the proxy watch only the objects they own (label selectors), and kubectl
narrows ``wait``/``describe`` with field selectors (``metadata.name=…``,
``involvedObject.uid=…`` for Events), so an emulator that ignored them would show clients
objects a real cluster never sends. The grammar is that of ``k8s.io/apimachinery/pkg/labels``
and ``pkg/fields``: ``k``, ``!k``, ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from routeshift.emulator import errors

Predicate = Callable[[dict[str, Any]], bool]

_SET_REQUIREMENT = re.compile(r"^\s*([^\s!=()]+)\s+(in|notin)\s+\(([^()]*)\)\s*$")
_EQUALITY = re.compile(r"^\s*([^\s!=()]+)\s*(==|=|!=)\s*([^\s!=()]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([^\s!=()]+)\s*$")


def _split(selector: str) -> list[str]:
    """Split on commas that are not inside ``( … )``."""
    parts: list[str] = []
    depth = 0
    current = ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part for part in parts if part.strip()]


def _label_requirement(text: str) -> Callable[[dict[str, str]], bool]:
    if match := _SET_REQUIREMENT.match(text):
        key, operator, values_text = match.groups()
        values = {value.strip() for value in values_text.split(",") if value.strip()}
        if operator == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if match := _EQUALITY.match(text):
        key, operator, value = match.groups()
        if operator == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if match := _EXISTS.match(text):
        negated, key = match.groups()
        if negated:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise errors.bad_request(f"unable to parse requirement: {text.strip()!r}")


def label_selector(selector: str | None) -> Predicate:
    """A predicate on whole objects for ``labelSelector``; everything matches when empty."""
    if not selector or not selector.strip():
        return lambda obj: True
    requirements = [_label_requirement(part) for part in _split(selector)]

    def matches(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(requirement(labels) for requirement in requirements)
    return matches


def field_value(obj: dict[str, Any], path: str) -> str | None:
    """The value at a dotted path as a selector compares it (strings; booleans lowercase)."""
    value: Any = obj
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def field_selector(selector: str | None) -> Predicate:
    """A predicate for ``fieldSelector``: ``path=value``, ``path==value``, ``path!=value``.

    Any dotted path is accepted (a real server allows a per-resource list; accepting more
    is the forgiving side). A missing field compares as the empty string, as upstream.
    """
    if not selector or not selector.strip():
        return lambda obj: True
    requirements: list[tuple[str, str, str]] = []
    for part in _split(selector):
        match = _EQUALITY.match(part)
        if match is None:
            raise errors.bad_request(f"invalid field selector: {part.strip()!r}")
        requirements.append(match.groups())  # type: ignore[arg-type]

    def matches(obj: dict[str, Any]) -> bool:
        for path, operator, expected in requirements:
            actual = field_value(obj, path) or ""
            if (actual == expected) != (operator != "!="):
                return False
        return True
    return matches


def combined(labels: str | None, fields: str | None) -> Predicate:
    by_labels = label_selector(labels)
    by_fields = field_selector(fields)
    return lambda obj: by_labels(obj) and by_fields(obj)

