"""Kubernetes API I/O for the controller: read routes and Services, patch routes and Canary status.

Thin on purpose: everything that decides *what* to write lives in the pure modules. What
this module adds is the write discipline the design asks for: a route patch is a JSON
patch computed from the route as just read, whose first operation tests
``/metadata/resourceVersion``; when someone else wrote in between (409, or 422 from the
failed ``test``), it re-reads the route, re-computes the patch from the fresh copy and
tries again, so no concurrent edit is overwritten and no update of ours is lost.

It speaks HTTP with aiohttp (already the operator's stack through kopf) and takes its
credentials from the ``kubernetes`` package's kubeconfig/in-cluster loaders, so every
authentication method those support works here too.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import logging
import ssl
import urllib.parse
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp
import orjson

from rollouts import errors, model, route_kinds
from rollouts.route_kinds import RouteId, RouteKind

logger = logging.getLogger(__name__)

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"


@dataclasses.dataclass(frozen=True)
class Connection:
    """Where the API server is and how to authenticate to it."""

    server: str
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    ssl: ssl.SSLContext | bool = True

    @classmethod
    def from_environment(cls, kubeconfig: str | None = None, context: str | None = None) -> Connection:
        """In-cluster service account when available, else the kubeconfig (KUBECONFIG or ~/.kube/config)."""
        from kubernetes import client, config  # only for its credential loaders

        configuration = client.Configuration()
        try:
            if kubeconfig is not None:
                raise config.ConfigException("an explicit kubeconfig wins over in-cluster credentials")
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException:
            config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
        headers = {}
        token = configuration.get_api_key_with_prefix("authorization") or configuration.get_api_key_with_prefix(
            "BearerToken")
        if token:
            headers["Authorization"] = token
        context_ssl: ssl.SSLContext | bool = True
        if configuration.host.startswith("https"):
            context_ssl = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
            if configuration.cert_file:
                context_ssl.load_cert_chain(configuration.cert_file, configuration.key_file)
            if not configuration.verify_ssl:
                context_ssl.check_hostname = False
                context_ssl.verify_mode = ssl.CERT_NONE
        return cls(server=configuration.host.rstrip("/"), headers=headers, ssl=context_ssl)


@dataclasses.dataclass(frozen=True)
class RouteWrite:
    """The outcome of one route update: whether anything changed and how many tries it took."""

    route: dict[str, Any] | None
    written: bool
    attempts: int


def route_path(namespace: str, name: str, kind: RouteKind = RouteKind.HTTP_ROUTE) -> str:
    return route_kinds.path(RouteId(namespace, name, kind))


def canary_path(namespace: str, name: str) -> str:
    return f"/apis/{model.GROUP}/{model.VERSION}/namespaces/{namespace}/{model.PLURAL}/{name}"


def resource_of(path: str) -> str:
    """The resource an API path addresses: ``httproutes`` for a route, ``canaries/status`` for a status."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    rest = parts[2:] if parts[:1] == ["api"] else parts[3:]  # drop api/v1 or apis/<group>/<version>
    if rest[:1] == ["namespaces"] and len(rest) > 2:
        rest = rest[2:]
    if not rest:
        return ""
    return f"{rest[0]}/{rest[2]}" if len(rest) > 2 else rest[0]


def _api_error(method: str, path: str, status: int, text: str) -> errors.ApiError:
    try:
        detail = json.loads(text)
        message, reason = detail.get("message", text), detail.get("reason", "")
    except ValueError:
        message, reason = text, ""
    return errors.from_status(status, f"{method} {path}: {message}", reason)


# Connections to the API server at most (HTTP/1.1: one request at a time on each). A wave of
# weight steps at 500 Canaries puts a route patch, a status write and an Event in flight for
# each within a second or two; with 64 connections a sixth of all requests waited for one,
# up to 1.5 s (p99). client-go's HTTP/2 connection carries up to the server's stream limit
# (250 to 1,000) at once; this is the same order.
API_CONNECTIONS = 256


class Cluster:
    """An API client bound to one event loop (created lazily inside it)."""

    def __init__(self, connection: Connection, *, conflict_retries: int = 10, timeout: float = 30.0,
                 connections: int = API_CONNECTIONS):
        self.connection = connection
        self.conflict_retries = conflict_retries
        self.timeout = timeout
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None
        # (verb, resource) -> requests sent; watches count once per stream. Exposed as a metric.
        self.requests: collections.Counter[tuple[str, str]] = collections.Counter()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                base_url=self.connection.server,
                headers=dict(self.connection.headers),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(ssl=self.connection.ssl, limit=self.connections),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, path: str, *, body: Any = None, content_type: str | None = None,
                      decode: bool = True) -> Any:
        """One API call; returns the decoded JSON (None with ``decode=False``) or raises an
        :mod:`rollouts.errors` error. JSON is encoded and decoded by orjson: every answer to a
        write is the whole object, and decoding them was a twentieth of the controller's CPU."""
        self.requests[(method, resource_of(path))] += 1
        data = None if body is None else orjson.dumps(body)
        content_type = content_type or ("application/json" if data is not None else None)
        headers = {"Content-Type": content_type} if content_type else {}
        try:
            async with self._http().request(method, path, data=data, headers=headers) as response:
                raw = await response.read()
                if response.status >= 400:
                    raise _api_error(method, path, response.status, raw.decode("utf-8", "replace"))
                return orjson.loads(raw) if raw and decode else None
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise errors.Unavailable(None, f"{method} {path}: {type(error).__name__}: {error}") from error

    async def watch(self, path: str, params: Mapping[str, str], *,
                    read_timeout: float) -> AsyncIterator[dict[str, Any]]:
        """The events of one watch request, decoded, until the server ends the stream.

        Lines are split by hand rather than with ``readline``, whose length cap is smaller
        than a large object (a Deployment with long annotations) can be. A stream that goes
        silent for ``read_timeout`` seconds raises :class:`errors.Unavailable`, like any
        broken connection; so does a truncated last line.
        """
        self.requests[("WATCH", resource_of(path))] += 1
        url = f"{path}?{urllib.parse.urlencode(dict(params))}"
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=read_timeout)
        try:
            async with self._http().get(url, timeout=timeout) as response:
                if response.status >= 400:
                    raise _api_error("GET", url, response.status, await response.text())
                pending = b""
                async for chunk in response.content.iter_any():
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        if line.strip():
                            yield orjson.loads(line)
                if pending.strip():
                    raise errors.Unavailable(None, f"GET {url}: the watch stream ended inside an event")
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise errors.Unavailable(None, f"GET {url}: {type(error).__name__}: {error}") from error

    async def get(self, path: str) -> dict[str, Any] | None:
        try:
            return await self.request("GET", path)
        except errors.NotFound:
            return None

    async def get_route(self, namespace: str, name: str,
                        kind: RouteKind = RouteKind.HTTP_ROUTE) -> dict[str, Any] | None:
        return await self.get(route_path(namespace, name, kind))

    async def get_service(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.get(f"/api/v1/namespaces/{namespace}/services/{name}")

    async def get_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")

    async def service_exists(self, namespace: str, name: str) -> bool:
        return await self.get_service(namespace, name) is not None

    async def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """A Secret's data, base64-decoded."""
        import base64

        secret = await self.get(f"/api/v1/namespaces/{namespace}/secrets/{name}")
        if secret is None:
            return None
        return {key: base64.b64decode(value).decode("utf-8") for key, value in (secret.get("data") or {}).items()}

    async def update_route(self, namespace: str, name: str, plan: Callable[[dict[str, Any]], list[dict[str, Any]]],
                           kind: RouteKind = RouteKind.HTTP_ROUTE) -> RouteWrite:
        """Read the route, ``plan`` a JSON patch from it, apply it; on a conflict start over.

        ``plan`` is called with every fresh copy, so a concurrent edit by someone else is
        kept and our change is re-derived on top of it.
        """
        path = route_path(namespace, name, kind)
        for attempt in range(1, self.conflict_retries + 2):
            # The first try may plan from a cached copy: its resourceVersion is the patch's
            # precondition, so a stale copy costs one 409 and a fresh read, never a lost write.
            route = await (self.route_to_update(namespace, name, kind) if attempt == 1 else self.get(path))
            if route is None:
                return RouteWrite(None, False, attempt)
            ops = plan(route)
            if not ops:
                return RouteWrite(route, False, attempt)
            try:
                patched = await self.request("PATCH", path, body=ops, content_type=JSON_PATCH)
                self.wrote(patched)
                return RouteWrite(patched, True, attempt)
            except errors.ApiError as error:
                # 422 here can only be our resourceVersion test failing: the ops are built
                # from the route as read, so they are otherwise valid.
                if not (isinstance(error, errors.Conflict) or error.status == 422):
                    raise
                logger.info("%s %s/%s changed under us (%s); re-reading, attempt %d",
                            kind.value, namespace, name, error.status, attempt)
                await asyncio.sleep(min(0.05 * attempt, 0.5))
        raise errors.Conflict(409, f"{kind.value} {namespace}/{name}: still conflicting after "
                                   f"{self.conflict_retries} retries")

    async def route_to_update(self, namespace: str, name: str,
                              kind: RouteKind = RouteKind.HTTP_ROUTE) -> dict[str, Any] | None:
        """The copy of a route a write is planned from first (a cache may answer it)."""
        return await self.get_route(namespace, name, kind)

    def wrote(self, obj: dict[str, Any] | None) -> None:
        """Called with the API's answer to each of our writes (a cache records it)."""

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
        """Write the Canary status in one merge patch to the status subresource."""
        return await self.request("PATCH", canary_path(namespace, name) + "/status", body={"status": status},
                                  content_type=MERGE_PATCH)
