"""Workload form, opt-in: the ConfigMaps and Secrets a target's Pods read are part of its revision.

A change of configuration is as risky as a change of image, yet Kubernetes does not roll a
Deployment when a ConfigMap it reads changes. With ``spec.trackConfigs`` the revision hashes
the content of every ConfigMap and Secret the pod template references (``env`` key refs,
``envFrom``, ``configMap``/``secret`` and ``projected`` volumes), so editing one starts a
rollout exactly as ``kubectl set image`` does.

The primary must keep the promoted configuration while the canary tries the new one, so it
reads copies named ``<name>-primary``: initialization and promotion copy the content and
rewrite the references in the primary's pod template. An annotation with the copies' hash
in that template makes the primary's Pods restart when promotion refreshes them, since
Kubernetes would not. Flagger's config tracking works the same way. An object annotated
``routeshift.dev/config-tracking: disabled`` is left out, and so is one that does not exist
(an ``optional`` reference): the primary then reads the same object as the target.

Pure: objects in, hashes and bodies out; ``rollouts.workload_io`` reads and writes them.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from rollouts import model

CONFIG_MAP, SECRET = "ConfigMap", "Secret"
DISABLED_ANNOTATION = f"{model.GROUP}/config-tracking"
HASH_ANNOTATION = f"{model.GROUP}/config-hash"
PRIMARY_SUFFIX = "-primary"


@dataclasses.dataclass(frozen=True, order=True)
class ConfigRef:
    """One ConfigMap or Secret a pod template references, by kind and name."""

    kind: str
    name: str

    @property
    def plural(self) -> str:
        return "configmaps" if self.kind == CONFIG_MAP else "secrets"

    @property
    def primary(self) -> ConfigRef:
        return ConfigRef(self.kind, f"{self.name}{PRIMARY_SUFFIX}")

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


def references(pod_template: Mapping[str, Any]) -> tuple[ConfigRef, ...]:
    """Every ConfigMap and Secret the template's containers and volumes read, sorted, once each."""
    spec = pod_template.get("spec") or {}
    found: set[ConfigRef] = set()
    for container in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
        for source in container.get("envFrom") or ():
            _add(found, CONFIG_MAP, (source.get("configMapRef") or {}).get("name"))
            _add(found, SECRET, (source.get("secretRef") or {}).get("name"))
        for entry in container.get("env") or ():
            value_from = entry.get("valueFrom") or {}
            _add(found, CONFIG_MAP, (value_from.get("configMapKeyRef") or {}).get("name"))
            _add(found, SECRET, (value_from.get("secretKeyRef") or {}).get("name"))
    for volume in spec.get("volumes") or ():
        _add(found, CONFIG_MAP, (volume.get("configMap") or {}).get("name"))
        _add(found, SECRET, (volume.get("secret") or {}).get("secretName"))
        for source in (volume.get("projected") or {}).get("sources") or ():
            _add(found, CONFIG_MAP, (source.get("configMap") or {}).get("name"))
            _add(found, SECRET, (source.get("secret") or {}).get("name"))
    return tuple(sorted(found))


def _add(found: set[ConfigRef], kind: str, name: str | None) -> None:
    if name:
        found.add(ConfigRef(kind, name))


def tracked(found: Mapping[ConfigRef, Mapping[str, Any] | None]) -> dict[ConfigRef, Mapping[str, Any]]:
    """The referenced objects that count: those that exist and are not annotated disabled."""
    return {ref: obj for ref, obj in sorted(found.items()) if obj is not None and
            ((obj.get("metadata") or {}).get("annotations") or {}).get(DISABLED_ANNOTATION) != "disabled"}


def _content(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What a Pod sees of the object: its data (and a Secret's type, which changes how it mounts)."""
    return {"data": obj.get("data") or {}, "binaryData": obj.get("binaryData") or {}, "type": obj.get("type")}


def fingerprint(objects: Mapping[ConfigRef, Mapping[str, Any]]) -> str | None:
    """A short hash of the tracked objects' content, or None when nothing is tracked."""
    if not objects:
        return None
    canonical = json.dumps([[ref.kind, ref.name, _content(obj)] for ref, obj in sorted(objects.items())],
                           sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:10]


def primary_template(pod_template: Mapping[str, Any], refs: Iterable[ConfigRef],
                     config_hash: str | None) -> dict[str, Any]:
    """The template with every reference to ``refs`` renamed to its primary copy, and the copies' hash."""
    renamed = {(ref.kind, ref.name): ref.primary.name for ref in refs}
    result = copy.deepcopy(dict(pod_template))
    if not renamed:
        return result
    spec = result.setdefault("spec", {})
    for container in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
        for source in container.get("envFrom") or ():
            _rename(source.get("configMapRef"), "name", CONFIG_MAP, renamed)
            _rename(source.get("secretRef"), "name", SECRET, renamed)
        for entry in container.get("env") or ():
            value_from = entry.get("valueFrom") or {}
            _rename(value_from.get("configMapKeyRef"), "name", CONFIG_MAP, renamed)
            _rename(value_from.get("secretKeyRef"), "name", SECRET, renamed)
    for volume in spec.get("volumes") or ():
        _rename(volume.get("configMap"), "name", CONFIG_MAP, renamed)
        _rename(volume.get("secret"), "secretName", SECRET, renamed)
        for source in (volume.get("projected") or {}).get("sources") or ():
            _rename(source.get("configMap"), "name", CONFIG_MAP, renamed)
            _rename(source.get("secret"), "name", SECRET, renamed)
    if config_hash:
        meta = result.setdefault("metadata", {})
        meta["annotations"] = {**(meta.get("annotations") or {}), HASH_ANNOTATION: config_hash}
    return result


def _rename(ref: dict[str, Any] | None, field: str, kind: str, renamed: Mapping[tuple[str, str], str]) -> None:
    if ref and (kind, ref.get(field)) in renamed:
        ref[field] = renamed[(kind, ref[field])]


def primary_copy(ref: ConfigRef, obj: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The primary's copy of ``obj``: same content, the controller's ``metadata`` (name, owner, labels).

    ``immutable`` is not copied: promotion must be able to refresh the copy in place.
    """
    meta = dict(metadata)
    meta["labels"] = {**(((obj.get("metadata") or {}).get("labels")) or {}), **(meta.get("labels") or {})}
    body: dict[str, Any] = {"apiVersion": "v1", "kind": ref.kind, "metadata": meta}
    for field in ("data", "binaryData") + (("type",) if ref.kind == SECRET else ()):
        if obj.get(field) is not None:
            body[field] = copy.deepcopy(obj[field])
    return body
