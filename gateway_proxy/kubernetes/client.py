"""Thin asyncio access to the Kubernetes API: list, watch, status merge patches, discovery.

The proxy lives on an asyncio loop (uvloop) and must see a weight change within
milliseconds, so the API is read with aiohttp on that same loop rather than through the
synchronous ``kubernetes`` client in threads. Where to connect and how to authenticate is
not reinvented: the ``kubernetes`` package's config loader reads the kubeconfig (server,
CA, client certificate, bearer token, exec/auth-provider plugins) or the in-cluster service
account (token file re-read when it rotates), and this module turns its ``Configuration``
into an SSL context and an ``Authorization`` header taken fresh for every request.

    ApiError          a request was answered with a non-2xx status (``status``, ``reason``)
    └── Gone          410: the resourceVersion is too old; the caller must list again
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import kubernetes

from gateway_proxy.errors import ApiError, Gone

__all__ = ["ApiError", "Gone", "KubeClient", "api_error"]

MERGE_PATCH = "application/merge-patch+json"
# Without a read timeout a half-dead connection would hang a watch forever; the server ends
# each watch after ``timeoutSeconds``, so a little more than that is a safe bound.
WATCH_SLACK = 30.0
REQUEST_TIMEOUT = 30.0


def api_error(status: int, body: Any) -> ApiError:
    reason = message = ""
    if isinstance(body, dict):
        reason, message = str(body.get("reason", "")), str(body.get("message", ""))
        status = int(body.get("code") or status)
    return (Gone if status == 410 else ApiError)(status, reason or "Error", message or str(body)[:200])


def load_configuration(kubeconfig: str | None) -> kubernetes.client.Configuration:
    """The kubeconfig at ``kubeconfig``; else in-cluster when running in a Pod; else $KUBECONFIG/~/.kube/config."""
    configuration = kubernetes.client.Configuration()
    if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        kubernetes.config.load_incluster_config(client_configuration=configuration)
    else:
        kubernetes.config.load_kube_config(config_file=kubeconfig, client_configuration=configuration,
                                           persist_config=False)
    return configuration


def ssl_context(configuration: kubernetes.client.Configuration) -> ssl.SSLContext | bool:
    if not configuration.host.startswith("https"):
        return False
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert or None)
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file)
    return context


def resource_path(group: str, version: str, plural: str, namespace: str | None = None,
                  name: str | None = None, subresource: str | None = None) -> str:
    path = f"/api/{version}" if not group else f"/apis/{group}/{version}"
    if namespace:
        path += f"/namespaces/{quote(namespace, safe='')}"
    path += f"/{plural}"
    if name:
        path += f"/{quote(name, safe='')}"
        if subresource:
            path += f"/{subresource}"
    return path


class KubeClient:
    """One aiohttp session to one API server; use as ``async with KubeClient(configuration)``."""

    def __init__(self, configuration: kubernetes.client.Configuration):
        self.configuration = configuration
        self.server = configuration.host.rstrip("/")
        self._ssl = ssl_context(configuration)
        self._server_hostname = getattr(configuration, "tls_server_name", None) or None
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_kubeconfig(cls, kubeconfig: str | None) -> "KubeClient":
        return cls(load_configuration(kubeconfig))

    async def __aenter__(self) -> "KubeClient":
        # Watches hold one connection each for minutes; the limit must exceed their number.
        connector = aiohttp.TCPConnector(ssl=self._ssl, limit=64, enable_cleanup_closed=True)
        self._session = aiohttp.ClientSession(connector=connector)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _headers(self, content_type: str | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "routeshift-gateway-proxy"}
        auth = self.configuration.auth_settings().get("BearerToken")
        if auth and auth.get("value"):
            headers["Authorization"] = auth["value"]
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _kwargs(self) -> dict[str, Any]:
        return {"server_hostname": self._server_hostname} if self._server_hostname else {}

    async def _request(self, method: str, path: str, *, params: dict | None = None, body: Any = None,
                       content_type: str | None = None) -> Any:
        if self._session is None:
            raise RuntimeError("KubeClient used outside 'async with'")
        data = json.dumps(body).encode() if body is not None else None
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        async with self._session.request(method, self.server + path, params=params, data=data, timeout=timeout,
                                         headers=self._headers(content_type), **self._kwargs()) as response:
            text = await response.text()
            try:
                payload = json.loads(text) if text else None
            except ValueError:
                payload = text
            if response.status >= 400:
                raise api_error(response.status, payload)
            return payload

    async def get(self, path: str, params: dict | None = None) -> Any:
        return await self._request("GET", path, params=params)

    async def list(self, path: str, params: dict | None = None, page: int = 500) -> tuple[list[dict], str]:
        """Every item (following ``continue``) and the list's resourceVersion."""
        items: list[dict] = []
        query = dict(params or {}, limit=str(page))
        while True:
            body = await self.get(path, query)
            items.extend(body.get("items") or ())
            meta = body.get("metadata") or {}
            token = meta.get("continue")
            if not token:
                return items, str(meta.get("resourceVersion") or "")
            query["continue"] = token

    async def watch(self, path: str, resource_version: str, params: dict | None = None,
                    timeout_seconds: int = 300) -> AsyncIterator[dict]:
        """Watch events after ``resource_version`` until the server ends the stream."""
        if self._session is None:
            raise RuntimeError("KubeClient used outside 'async with'")
        query = dict(params or {}, watch="true", resourceVersion=resource_version, allowWatchBookmarks="true",
                     timeoutSeconds=str(timeout_seconds))
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=REQUEST_TIMEOUT,
                                        sock_read=timeout_seconds + WATCH_SLACK)
        async with self._session.get(self.server + path, params=query, headers=self._headers(), timeout=timeout,
                                     **self._kwargs()) as response:
            if response.status >= 400:
                text = await response.text()
                try:
                    payload = json.loads(text)
                except ValueError:
                    payload = text
                raise api_error(response.status, payload)
            # Lines can exceed aiohttp's default line limit (large objects): read our own lines.
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
            if buffer.strip():
                yield json.loads(buffer)

    async def merge_patch_status(self, path: str, status: dict, resource_version: str | None) -> dict:
        """Merge-patch ``status`` through the ``/status`` subresource, conditional on ``resource_version``."""
        body: dict[str, Any] = {"status": status}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        return await self._request("PATCH", path + "/status", body=body, content_type=MERGE_PATCH)

    async def served_resources(self, group: str, version: str) -> set[str]:
        """Plural names served at group/version; empty when the version is not served."""
        path = f"/api/{version}" if not group else f"/apis/{group}/{version}"
        try:
            body = await self.get(path)
        except ApiError as error:
            if error.status == 404:
                return set()
            raise
        return {item.get("name", "") for item in (body or {}).get("resources") or ()}


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` unless ``stop`` is set first; True when stopping."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True
