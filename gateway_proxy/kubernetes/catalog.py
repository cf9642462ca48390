"""The watched objects, parsed once per resourceVersion, and the Config they add up to.

Watch events arrive as raw dicts, one object at a time; routing wants an immutable
:class:`~gateway_proxy.attachment.Config` of records. Re-parsing every object on every event
would make propagation cost grow with the cluster, so each object is parsed only when its
resourceVersion changes, and a re-parse that yields an equal record (a status write, a label
nobody routes on) keeps the old record object and leaves :attr:`Catalog.revision` alone, so
the caller can skip rebuilding, and caches keyed on record identity stay valid. An object that fails to parse keeps its last good record serving,
exactly as a bad file does in standalone mode, and is reported: in ``runtime.errors`` and, for
an HTTPRoute, as ``Accepted=False`` with reason ``UnsupportedValue`` on its current generation.
"""

from __future__ import annotations

from typing import Any

from gateway_proxy import attachment, resources
from gateway_proxy.kubernetes import status as kube_status
from gateway_proxy.errors import InvalidDocument
from gateway_proxy.kubernetes.watching import Key, Kind, Watcher

GATEWAY = resources.GATEWAY_GROUP
NAMESPACES = Kind("", "v1", "namespaces", "Namespace")
GATEWAY_CLASSES = Kind(GATEWAY, "v1", "gatewayclasses", "GatewayClass")
GATEWAYS = Kind(GATEWAY, "v1", "gateways", "Gateway")
ROUTES = Kind(GATEWAY, "v1", "httproutes", "HTTPRoute")
SERVICES = Kind("", "v1", "services", "Service")
SLICES = Kind("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice")
GRANTS_V1BETA1 = Kind(GATEWAY, "v1beta1", "referencegrants", "ReferenceGrant", optional=True)
GRANTS_V1 = Kind(GATEWAY, "v1", "referencegrants", "ReferenceGrant", optional=True)
# Watched where the API serves GRPCRoute v1 (see kube_mode); optional, as an older RBAC may not grant it.
GRPC_ROUTES = Kind(GATEWAY, "v1", "grpcroutes", "GRPCRoute", optional=True)
# Optional: RBAC grants Secrets to the proxy only when TLS termination is enabled.
SECRETS = Kind("", "v1", "secrets", "Secret", field_selector=f"type={kube_status.TLS_SECRET}", optional=True)

# Always watched; ReferenceGrant v1 is added when the API serves it (see kube_mode).
BASE_KINDS = (NAMESPACES, GATEWAY_CLASSES, GATEWAYS, ROUTES, SERVICES, SLICES, GRANTS_V1BETA1, SECRETS)


def _source(kind: Kind, obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    namespace, name = metadata.get("namespace"), metadata.get("name")
    return f"{kind.kind} {namespace}/{name}" if namespace else f"{kind.kind} {name}"


def _parse(kind: Kind, obj: dict[str, Any]) -> Any:
    # List items come without kind/apiVersion; the parser dispatches on kind.
    document = dict(obj, kind=kind.kind)
    source = _source(kind, obj)
    if kind == GATEWAY_CLASSES:
        try:
            return kube_status.parse_class(document)
        except (TypeError, ValueError) as error:
            raise InvalidDocument(source, repr(error)) from error
    return resources.parse(document, source)


def _version(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _generation(obj: dict[str, Any]) -> int:
    generation = (obj.get("metadata") or {}).get("generation")
    return generation if isinstance(generation, int) else 0


class Catalog:
    """Parsed records per watched kind; :meth:`update` after events, :meth:`build` for a snapshot."""

    def __init__(self) -> None:
        self._records: dict[Kind, dict[Key, tuple[str, Any]]] = {}
        self._errors: dict[Kind, dict[Key, tuple[str, str, dict]]] = {}
        # Bumped whenever a record or an error appears, changes or goes: build() would differ.
        self.revision = 0

    def update(self, watcher: Watcher, keys: set[Key] | None) -> None:
        """Re-parse ``keys`` of the watcher's kind (None: all of them, after a relist)."""
        kind = watcher.kind
        records = self._records.setdefault(kind, {})
        errors = self._errors.setdefault(kind, {})
        if keys is None:
            keys = set(watcher.objects) | set(records) | set(errors)
        for key in keys:
            obj = watcher.objects.get(key)
            if obj is None:
                if records.pop(key, None) is not None or errors.pop(key, None) is not None:
                    self.revision += 1
                continue
            version = _version(obj)
            known = records.get(key)
            failed = errors.get(key)
            if (known is not None and known[0] == version) or (failed is not None and failed[0] == version):
                continue
            try:
                record = _parse(kind, obj)
            except InvalidDocument as error:
                if failed is None or (failed[1], _generation(failed[2])) != (str(error), _generation(obj)):
                    self.revision += 1
                errors[key] = (version, str(error), obj)
                continue
            if errors.pop(key, None) is not None:
                self.revision += 1
            if record is None:
                continue
            if known is not None and known[1] == record:
                records[key] = (version, known[1])
            else:
                records[key] = (version, record)
                self.revision += 1

    def _all(self, *kinds: Kind) -> tuple:
        merged: dict[Key, Any] = {}
        for kind in kinds:
            for key, (_, record) in self._records.get(kind, {}).items():
                merged.setdefault(key, record)
        return tuple(merged[key] for key in sorted(merged))

    def build(self, controller: str) -> tuple[attachment.Config, tuple[kube_status.GatewayClass, ...],
                                              tuple[kube_status.RejectedRoute, ...], dict[str, str]]:
        """(Config of our Gateways and everything they may use, all GatewayClasses, rejected routes, errors)."""
        classes = self._all(GATEWAY_CLASSES)
        gateways = kube_status.our_gateways(self._all(GATEWAYS), classes, controller)
        config = attachment.Config(self._all(NAMESPACES), gateways, self._all(ROUTES), self._all(SERVICES),
                                   self._all(SLICES), self._all(GRANTS_V1, GRANTS_V1BETA1), self._all(SECRETS),
                                   grpc_routes=self._all(GRPC_ROUTES))
        ours = {c.name for c in classes if c.controller == controller}
        served = {(g.meta.namespace, g.meta.name) for g in gateways}
        rejected = []
        errors: dict[str, str] = {}
        for kind, failures in self._errors.items():
            for key, (_, message, obj) in sorted(failures.items()):
                if kind == GATEWAYS and (obj.get("spec") or {}).get("gatewayClassName") not in ours:
                    continue  # another controller's Gateway: not ours to report
                if kind in (ROUTES, GRPC_ROUTES):
                    parents = kube_status.lenient_parents(obj)
                    if not any((p.namespace, p.name) in served for p in parents):
                        continue
                    serving = key in self._records.get(kind, {})
                    rejected.append(kube_status.RejectedRoute(
                        key[0], key[1], _generation(obj), parents,
                        message + ("; the last valid generation keeps serving" if serving else ""), kind.kind))
                errors[_source(kind, obj)] = message
        return config, classes, tuple(rejected), errors
