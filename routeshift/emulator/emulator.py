"""The emulator: kmock's ``KubernetesEmulator`` taught to behave like a real API server.

kmock brings the HTTP plumbing, the resource catalogue, the versioned object array and the
request DSL. Out of the box, kopf and kubectl fail against it (no resourceVersions, no
generateName, no status subresource, watches that cannot resume, broken core discovery), so
this subclass takes over every resource URL (``/api/v1/...``, ``/apis/g/v/...``) and serves
it with API-server semantics from the modules next to it; discovery, OpenAPI and any
non-resource path stay on kmock's routing, so kmock's ``emulator[...] << payload`` reactions
still work there. Fault injection runs before anything else, so a failed request never
changed anything.

Leans on kmock 0.8 internals (``_resources``, ``_objects``, ``_requests``, ``fallback``
routing, ``KubernetesScaffold._serve_*``): the tests in ``tests/emulator`` are the tripwire.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import re
from typing import Any

import aiohttp.web
import attrs
import kmock
import yaml

from routeshift.emulator import (discovery, errors, eventlog, faults, jsondata, metadata, operations, paths,
                                 registry, scaling, store, tables, watching)

logger = logging.getLogger(__name__)

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# kmock keeps every request for assertions; a long demo run must not grow without bound.
_REQUEST_LOG = 1000


@attrs.define(kw_only=True)
class Emulator(kmock.KubernetesEmulator):
    """An in-memory Kubernetes API server; serve it with :func:`routeshift.emulator.serve`."""

    faults: faults.Faults = attrs.field(factory=faults.Faults)
    log_capacity: int = eventlog.DEFAULT_CAPACITY

    types: registry.Registry = attrs.field(init=False)
    store: store.Store = attrs.field(init=False)
    operations: operations.Operations = attrs.field(init=False)
    # (method, path with query, status) of recent resource requests, for assertions on retries.
    request_log: collections.deque[tuple[str, str, int]] = attrs.field(
        init=False, factory=lambda: collections.deque(maxlen=_REQUEST_LOG))
    open_watches: int = attrs.field(init=False, default=0)
    # The running workload controllers and kubelet (routeshift.emulator.workloads), when served with them.
    workloads: Any = attrs.field(init=False, default=None)
    _closing: asyncio.Event = attrs.field(init=False, factory=asyncio.Event)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.types = registry.Registry(self._resources)
        self.types.load_builtins()
        self.store = store.Store(self._objects, self.types, eventlog.EventLog(self.log_capacity),
                                 metadata.ResourceVersionClock())
        self.operations = operations.Operations(self.store, self.types)
        self.fallback["get /openapi/v3"] << self._serve_openapi_index
        self.fallback["get", re.compile(r"/openapi/v3/apis?/.+")] << self._serve_openapi_document
        namespaces = self.types.find("v1/namespaces")
        for name in DEFAULT_NAMESPACES:
            self.operations.create(paths.Target(namespaces, None, None, None), {"metadata": {"name": name}})

    # ---------------------------------------------------------------- entry point

    async def __call__(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        if not paths.is_resource_path(raw.path):
            self._trim_kmock_logs()
            try:
                self.faults.check(raw.method, raw.path)
            except kmock.KubernetesError as error:
                return await self._render_error(error)
            return await super().__call__(raw)

        # 499 (nginx's "client closed request") if the handler is cancelled by a disconnect.
        status = 499
        try:
            try:
                self.faults.check(raw.method, raw.path)
                response = await self._serve_resource(raw)
            except kmock.KubernetesError as error:
                response = await self._render_error(error)
            except Exception as error:  # a bug here must reach the client as a Status, not a hang
                logger.exception("emulator failed on %s %s", raw.method, raw.path_qs)
                response = await self._render_error(error)
            status = response.status
            return response
        finally:
            self.request_log.append((raw.method, raw.path_qs, status))

    def _trim_kmock_logs(self) -> None:
        """kmock keeps every request and error for assertions; keep only the recent ones."""
        del self._requests[:-_REQUEST_LOG]
        for payload in self._payloads:
            del payload._requests[:-_REQUEST_LOG]
        for level in self._errors:
            del level[:-_REQUEST_LOG]

    async def _serve_resource(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        body = await raw.read()
        target = paths.parse(raw.path, self.types)
        params = raw.query
        dry_run = "dryRun" in params
        validation = params.get("fieldValidation")
        ops = self.operations
        if target.subresource == "scale" and target.name is not None:
            return self._serve_scale(raw, target, body, dry_run=dry_run)
        match raw.method:
            case "GET" if params.get("watch") in ("true", "1"):
                self.open_watches += 1
                try:
                    return await watching.WatchStream(raw, target, self.store, self._closing).run()
                finally:
                    self.open_watches -= 1
            case "GET" if target.name is None:
                return self._list_response(raw, target)
            case "GET":
                return self._object_response(raw, target, ops.read(target))
            case "POST":
                obj, warnings = ops.create(target, self._json(raw, body), dry_run=dry_run, field_validation=validation)
                return self._object_response(raw, target, obj, status=201, warnings=warnings)
            case "PUT":
                obj, warnings = ops.replace(target, self._json(raw, body), dry_run=dry_run, field_validation=validation)
                return self._object_response(raw, target, obj, warnings=warnings)
            case "PATCH":
                existed = (target.name is not None
                           and self.store.get(target.rtype, target.namespace, target.name) is not None)
                obj, warnings = ops.patch(target, body, raw.headers.get("Content-Type"), dry_run=dry_run,
                                          field_validation=validation)
                return self._object_response(raw, target, obj, status=200 if existed else 201, warnings=warnings)
            case "DELETE" if target.name is None:
                deleted = ops.delete_collection(target, label_selector=params.get("labelSelector"),
                                                field_selector=params.get("fieldSelector"), dry_run=dry_run)
                return self._list_response(raw, target, deleted)
            case "DELETE":
                options = self._json(raw, body) if body.strip() else None
                return self._object_response(raw, target, ops.delete(target, options, dry_run=dry_run))
        raise errors.method_not_allowed()

    def _serve_scale(self, raw: aiohttp.web.BaseRequest, target: paths.Target, body: bytes, *,
                     dry_run: bool) -> aiohttp.web.StreamResponse:
        match raw.method:
            case "GET":
                return _json_response(scaling.read(self.operations, target))
            case "PUT":
                return _json_response(scaling.replace(self.operations, target, self._json(raw, body), dry_run=dry_run))
            case "PATCH":
                return _json_response(scaling.patch(self.operations, target, body, raw.headers.get("Content-Type"),
                                                    dry_run=dry_run))
        raise errors.method_not_allowed()

    @staticmethod
    def _json(raw: aiohttp.web.BaseRequest, body: bytes) -> Any:
        """The body as JSON (or YAML); protobuf, kubectl's default for built-in kinds, gets 415."""
        media_type = (raw.headers.get("Content-Type") or "application/json").split(";")[0].strip().lower()
        if media_type not in ("application/json", "application/yaml", "*/*", ""):
            raise errors.ApiError(status=415, reason="UnsupportedMediaType",
                                  message=f'the body of the request was in an unknown format - accepted media types '
                                          f'include: application/json, application/yaml (got "{media_type}")')
        try:
            if media_type == "application/yaml":
                return yaml.safe_load(body.decode("utf-8"))
            return jsondata.loads(body)
        except (UnicodeDecodeError, ValueError, yaml.YAMLError) as error:
            raise errors.bad_request(f"the body of the request could not be decoded: {error}") from error

    # ---------------------------------------------------------------- responses

    def _object_response(self, raw: aiohttp.web.BaseRequest, target: paths.Target, obj: dict[str, Any], *,
                         status: int = 200, warnings: list[str] | None = None) -> aiohttp.web.Response:
        served = store.wire_view(obj, target.rtype)
        accept = raw.headers.get("Accept")
        payload: dict[str, Any] = served
        if tables.wants(accept, "Table"):
            payload = tables.table(target.rtype, [served],
                                   resource_version=served["metadata"].get("resourceVersion", ""),
                                   include_object=raw.query.get("includeObject"))
        elif tables.wants(accept, "PartialObjectMetadata"):
            payload = tables.partial_metadata(served)
        return _json_response(payload, status=status, warnings=warnings)

    def _list_response(self, raw: aiohttp.web.BaseRequest, target: paths.Target,
                       items: list[dict[str, Any]] | None = None) -> aiohttp.web.Response:
        params = raw.query
        token = remaining = None
        if items is None:
            limit = int(params["limit"]) if params.get("limit", "").isdigit() else None
            items, token, remaining = self.operations.list(
                target, label_selector=params.get("labelSelector"), field_selector=params.get("fieldSelector"),
                limit=limit, continue_token=params.get("continue"))
        rtype = target.rtype
        served = [store.wire_view(obj, rtype) for obj in items]
        version = str(self.store.clock.current)
        accept = raw.headers.get("Accept")
        if tables.wants(accept, "Table"):
            return _json_response(tables.table(rtype, served, resource_version=version,
                                               include_object=params.get("includeObject"), continue_token=token))
        meta: dict[str, Any] = {"resourceVersion": version}
        if token:
            meta["continue"] = token
            meta["remainingItemCount"] = remaining
        if tables.wants(accept, "PartialObjectMetadataList"):
            return _json_response({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                                   "metadata": meta,
                                   "items": [tables.partial_metadata(obj) for obj in served]})
        return _json_response({"kind": rtype.list_kind, "apiVersion": rtype.group_version, "metadata": meta,
                               "items": served})

    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        if isinstance(exc, errors.ApiError):
            return _json_response(exc.status_object(), status=exc.status, headers=exc.headers)
        if isinstance(exc, kmock.KubernetesNotFoundError):
            return await self._render_error(errors.resource_not_found())
        if isinstance(exc, kmock.KubernetesError):
            return await self._render_error(errors.ApiError(status=exc.status, reason=exc.reason, message=exc.message))
        return await self._render_error(errors.ApiError(status=500, reason="InternalError",
                                                        message=f"Internal error occurred: {exc!r}"))

    # ---------------------------------------------------------------- discovery (kmock's routing)

    async def _serve_server_version(self, request: kmock.Request) -> dict[str, Any]:
        return dict(discovery.SERVER_VERSION)

    async def _serve_api(self, request: kmock.Request) -> dict[str, Any]:
        return discovery.api_versions(f"{request.url.host}:{request.url.port}")

    async def _serve_apis(self, request: kmock.Request) -> dict[str, Any]:
        return discovery.api_group_list(self.types)

    async def _serve_group(self, request: kmock.Request) -> dict[str, Any]:
        found = discovery.api_group(self.types, request.url.path.strip("/").split("/")[1])
        if found is None:
            raise errors.resource_not_found()
        return found

    async def _serve_version(self, request: kmock.Request) -> dict[str, Any]:
        parts = request.url.path.strip("/").split("/")
        group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
        found = discovery.api_resource_list(self.types, group, version)
        if found is None:
            raise errors.resource_not_found()
        return found

    async def _serve_openapi_index(self, request: kmock.Request) -> dict[str, Any]:
        return discovery.openapi_index(self.types)

    async def _serve_openapi_document(self, request: kmock.Request) -> dict[str, Any]:
        parts = request.url.path.strip("/").split("/")[2:]  # after openapi/v3
        group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2]) if len(parts) >= 3 else ("", "")
        found = discovery.openapi_document(self.types, group, version)
        if found is None:
            raise errors.resource_not_found()
        return found

    # ---------------------------------------------------------------- direct access (tests, the demo)

    def create_object(self, resource: str, body: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """Create as a client would (metadata, events, validation); must run on the emulator's loop."""
        rtype = self.types.find(resource)
        obj, _ = self.operations.create(paths.Target(rtype, namespace, None, None), body)
        return store.present(obj, rtype)

    def read_object(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        rtype = self.types.find(resource)
        obj = self.store.get(rtype, namespace, name)
        return None if obj is None else store.present(obj, rtype)

    def list_objects(self, resource: str, namespace: str | None = None, *, label_selector: str | None = None,
                     field_selector: str | None = None) -> list[dict[str, Any]]:
        rtype = self.types.find(resource)
        items, _, _ = self.operations.list(paths.Target(rtype, namespace, None, None),
                                           label_selector=label_selector, field_selector=field_selector)
        return [store.present(obj, rtype) for obj in items]

    def patch_object(self, resource: str, namespace: str | None, name: str, patch: dict[str, Any], *,
                     subresource: str | None = None) -> dict[str, Any]:
        """A JSON merge patch, as ``kubectl patch --type merge`` sends it."""
        rtype = self.types.find(resource)
        obj, _ = self.operations.patch(paths.Target(rtype, namespace, name, subresource), json.dumps(patch).encode(),
                                       "application/merge-patch+json")
        return store.present(obj, rtype)

    def delete_object(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        rtype = self.types.find(resource)
        return store.present(self.operations.delete(paths.Target(rtype, namespace, name, None), None), rtype)

    def compact(self) -> int:
        """Forget all watch history up to now, as etcd compaction does; returns that resourceVersion."""
        current = self.store.clock.current
        self.store.log.compact(current)
        return current

    def close_watches(self) -> None:
        """End every open watch stream (before shutdown, so the server need not wait for them)."""
        self._closing.set()


def _json_response(payload: Any, *, status: int = 200, warnings: list[str] | None = None,
                   headers: dict[str, str] | None = None) -> aiohttp.web.Response:
    response = aiohttp.web.Response(body=jsondata.dumps(payload),
                                    status=status, content_type="application/json", headers=headers)
    for warning in warnings or ():
        escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
        response.headers.add("Warning", f'299 - "{escaped}"')
    return response
