"""Server-owned metadata: uid, the global resourceVersion, timestamps, generation, generateName.

kopf's optimistic concurrency (a JSON-patch ``test`` on ``/metadata/resourceVersion``),
watch resumption and ``kubectl wait`` all depend on these fields behaving as on a real API
server: one cluster-wide, strictly increasing resourceVersion; ``generation`` bumped only
when something outside ``metadata`` and ``status`` changes; fields a client cannot set are
carried over from the stored object whatever the request says.
"""

from __future__ import annotations

import datetime
import random
import uuid
from typing import Any

from routeshift.emulator import jsondata

# The alphabet and length of the real apiserver's names.SimpleNameGenerator.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_NAME_SUFFIX = 5
_MAX_NAME = 253
_NOT_SPEC = frozenset({"metadata", "status", "apiVersion", "kind"})
# Fields only the server writes; a client's value is replaced by the stored one on update.
_SERVER_FIELDS = ("uid", "creationTimestamp", "generation", "deletionTimestamp",
                  "deletionGracePeriodSeconds", "resourceVersion", "name", "namespace")


class ResourceVersionClock:
    """One counter for the whole emulator, as etcd's revision is for a real cluster."""

    def __init__(self, start: int = 0) -> None:
        self._value = start

    @property
    def current(self) -> int:
        return self._value

    def tick(self) -> int:
        self._value += 1
        return self._value


def now() -> str:
    """RFC 3339 in UTC with second precision, as in ``creationTimestamp``."""
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError, AttributeError):
        return None


def generate_name(prefix: str, rng: random.Random | None = None) -> str:
    rng = rng or random
    prefix = prefix[: _MAX_NAME - _NAME_SUFFIX]
    return prefix + "".join(rng.choice(_NAME_ALPHABET) for _ in range(_NAME_SUFFIX))


def spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    """Everything that counts for ``generation``: all but metadata, status, apiVersion, kind."""
    return {key: value for key, value in obj.items() if key not in _NOT_SPEC}


def prepare_create(obj: dict[str, Any], *, namespace: str | None, keep_status: bool) -> dict[str, Any]:
    """A copy of a posted object with the server-owned fields set (resourceVersion comes at commit)."""
    new = jsondata.copy(obj)
    meta = new.setdefault("metadata", {})
    for field in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "creationTimestamp", "generation", "managedFields", "selfLink"):
        meta.pop(field, None)
    if namespace is None:
        meta.pop("namespace", None)
    else:
        meta["namespace"] = namespace
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now()
    meta["generation"] = 1
    if not keep_status:
        new.pop("status", None)
    return new


def carry_over(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new``, edited in place, with the server-owned metadata of ``old``; generation bumped if
    the spec changed. ``new`` is the update's own copy already (``Operations._update``)."""
    result = new
    meta = result.setdefault("metadata", {})
    old_meta = old.get("metadata", {})
    for field in _SERVER_FIELDS:
        if field in old_meta:
            meta[field] = old_meta[field]
        else:
            meta.pop(field, None)
    meta.pop("managedFields", None)
    if spec_of(result) != spec_of(old):
        meta["generation"] = int(old_meta.get("generation", 1)) + 1
    return result


def with_version(obj: dict[str, Any], resource_version: int) -> dict[str, Any]:
    obj.setdefault("metadata", {})["resourceVersion"] = str(resource_version)
    return obj


def same_content(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether a write would change nothing, ignoring the resourceVersion itself."""
    def strip(obj: dict[str, Any]) -> dict[str, Any]:
        meta = {k: v for k, v in obj.get("metadata", {}).items() if k != "resourceVersion"}
        return {**obj, "metadata": meta}
    return strip(a) == strip(b)
