"""A container's environment variables, resolved as the kubelet does before starting it.

Literal ``value``\\ s, the Downward API (``fieldRef``: the Pod's name, namespace, uid, labels,
annotations, node, service account and IPs), ``configMapKeyRef``/``secretKeyRef`` and
``envFrom``; later entries win, as in a Pod. The images read their fault settings from here
(``ERROR_RATE``, ``LATENCY_MS``). Pure: objects are looked up through ``lookup``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from typing import Any

Lookup = Callable[[str, str, str], dict[str, Any] | None]  # (plural, namespace, name) → object
_INDEXED = re.compile(r"^metadata\.(labels|annotations)\['([^']+)'\]$")


def field(pod: Mapping[str, Any], path: str, pod_ip: str, host_ip: str) -> str | None:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    simple = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
              "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
              "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
              "status.podIP": pod_ip, "status.podIPs": pod_ip, "status.hostIP": host_ip,
              "status.hostIPs": host_ip}
    if path in simple:
        value = simple[path]
        return None if value is None else str(value)
    match = _INDEXED.match(path)
    if match is not None:
        found = (meta.get(match.group(1)) or {}).get(match.group(2))
        return None if found is None else str(found)
    return None


def _data(obj: dict[str, Any] | None, secret: bool) -> dict[str, str]:
    if obj is None:
        return {}
    if not secret:
        return {k: str(v) for k, v in (obj.get("data") or {}).items()}
    decoded = {}
    for key, value in (obj.get("data") or {}).items():
        try:
            decoded[key] = base64.b64decode(value).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue
    return decoded


def resolve(container: Mapping[str, Any], pod: Mapping[str, Any], *, pod_ip: str, host_ip: str,
            lookup: Lookup) -> dict[str, str]:
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    env: dict[str, str] = {}
    for source in container.get("envFrom") or ():
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            env.update({prefix + k: v for k, v in _data(lookup("configmaps", namespace,
                                                                source["configMapRef"].get("name", "")),
                                                         secret=False).items()})
        if "secretRef" in source:
            env.update({prefix + k: v for k, v in _data(lookup("secrets", namespace,
                                                                source["secretRef"].get("name", "")),
                                                         secret=True).items()})
    for entry in container.get("env") or ():
        name = entry.get("name")
        if not name:
            continue
        if "value" in entry:
            env[name] = str(entry.get("value") if entry.get("value") is not None else "")
            continue
        source = entry.get("valueFrom") or {}
        value: str | None = None
        if "fieldRef" in source:
            value = field(pod, source["fieldRef"].get("fieldPath", ""), pod_ip, host_ip)
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            value = _data(lookup("configmaps", namespace, ref.get("name", "")), secret=False).get(ref.get("key", ""))
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            value = _data(lookup("secrets", namespace, ref.get("name", "")), secret=True).get(ref.get("key", ""))
        if value is not None:
            env[name] = value
        elif "value" not in entry and not source:
            env[name] = ""
    return env
