"""Reach the cluster the way kubectl does, and read and patch Canaries there.

kubectl hands a plugin nothing but its environment (global flags cannot precede the
plugin name), so the plugin must find the cluster exactly as kubectl would: ``--kubeconfig``,
else ``KUBECONFIG`` (a list of files, merged), else ``~/.kube/config``, then the current
or ``--context`` context and its namespace; inside a Pod, the service account. The
Kubernetes Python client's config loader implements those rules; this module only picks
between them and maps failures to :mod:`routeshift.plugin.errors`.

Every write is a JSON merge patch or a JSON patch on the main resource (never a strategic
merge patch, which custom resources refuse with 415, and never ``/status``, which belongs
to the controller). Objects stay plain dicts: the plugin must be able to show a Canary
written by a newer controller, so it never parses one strictly.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from collections.abc import Iterator
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError

from rollouts import route_kinds
from routeshift.plugin import errors

GROUP = "routeshift.dev"
VERSION = "v1alpha1"
PLURAL = "canaries"
ROUTE_GROUP, ROUTE_VERSION, ROUTE_PLURAL = "gateway.networking.k8s.io", "v1", "httproutes"
_ROUTE_PLURALS = {kind.value: plural for kind, plural in route_kinds.PLURALS.items()}  # HTTPRoute, GRPCRoute

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"

# One request never hangs a pipeline: (connect, read) seconds.
REQUEST_TIMEOUT = (10, 60)
_SERVICE_ACCOUNT_NAMESPACE = pathlib.Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


@dataclasses.dataclass(frozen=True)
class Options:
    """The connection flags every command accepts."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None


class Cluster:
    """A connection plus the namespace commands act in."""

    def __init__(self, api_client: client.ApiClient, namespace: str, *, source: str):
        self.api_client = api_client
        self.namespace = namespace
        self.source = source  # where the config came from, for error messages
        self.custom = client.CustomObjectsApi(api_client)

    # ------------------------------------------------------------------ connecting

    @classmethod
    def connect(cls, options: Options) -> Cluster:
        path = options.kubeconfig
        env_paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
        default = pathlib.Path(config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION).expanduser()
        in_cluster = not path and not env_paths and not default.exists() and "KUBERNETES_SERVICE_HOST" in os.environ
        if in_cluster:
            return cls._in_cluster(options)
        if path and not pathlib.Path(path).expanduser().exists():
            raise errors.ConfigError(f"kubeconfig {path} does not exist")
        if not path and not env_paths and not default.exists():
            raise errors.ConfigError("no cluster configured: set KUBECONFIG, pass --kubeconfig, create "
                                     "~/.kube/config, or run inside a Pod")
        try:
            api_client = config.new_client_from_config(config_file=path, context=options.context)
            contexts, active = config.list_kube_config_contexts(config_file=path)
        except (ConfigException, OSError, ValueError, TypeError) as error:
            raise errors.ConfigError(f"cannot load kubeconfig: {error}") from error
        chosen = active
        if options.context:
            chosen = next((c for c in contexts or () if c.get("name") == options.context), None)
        namespace = options.namespace or ((chosen or {}).get("context") or {}).get("namespace") or "default"
        return cls(api_client, namespace, source=f"kubeconfig context {(chosen or {}).get('name', '?')}")

    @classmethod
    def _in_cluster(cls, options: Options) -> Cluster:
        configuration = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration)
        except ConfigException as error:
            raise errors.ConfigError(f"cannot use the in-cluster config: {error}") from error
        namespace = options.namespace
        if not namespace:
            try:
                namespace = _SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
            except OSError:
                namespace = "default"
        return cls(client.ApiClient(configuration), namespace or "default", source="in-cluster config")

    @property
    def server(self) -> str:
        return self.api_client.configuration.host

    # ------------------------------------------------------------------ canaries

    def get(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        namespace = namespace or self.namespace
        return self._call(f"canary {namespace}/{name}", self.custom.get_namespaced_custom_object,
                          GROUP, VERSION, namespace, PLURAL, name)

    def list(self, *, all_namespaces: bool = False) -> list[dict[str, Any]]:
        items, _ = self.list_with_version(name=None, all_namespaces=all_namespaces)
        return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))

    def list_with_version(self, *, name: str | None, all_namespaces: bool) -> tuple[list[dict[str, Any]], str]:
        """A list plus its resourceVersion, the starting point of a watch."""
        kwargs: dict[str, Any] = {}
        if name:
            kwargs["field_selector"] = f"metadata.name={name}"
        if all_namespaces:
            listing = self._call("canaries in all namespaces", self.custom.list_cluster_custom_object,
                                 GROUP, VERSION, PLURAL, **kwargs)
        else:
            listing = self._call(f"canaries in namespace {self.namespace}", self.custom.list_namespaced_custom_object,
                                 GROUP, VERSION, self.namespace, PLURAL, **kwargs)
        return listing.get("items") or [], str((listing.get("metadata") or {}).get("resourceVersion") or "")

    def watch(self, *, name: str | None, all_namespaces: bool, resource_version: str,
              timeout_seconds: int) -> WatchStream:
        """Open a watch after ``resource_version``; iterate :meth:`WatchStream.events`."""
        kwargs: dict[str, Any] = {"resource_version": resource_version, "timeout_seconds": timeout_seconds,
                                  "watch": True, "_preload_content": False,
                                  "_request_timeout": (REQUEST_TIMEOUT[0], timeout_seconds + 15)}
        if name:
            kwargs["field_selector"] = f"metadata.name={name}"
        if all_namespaces:
            response = self._call("watch on canaries", self.custom.list_cluster_custom_object,
                                  GROUP, VERSION, PLURAL, **kwargs)
        else:
            response = self._call("watch on canaries", self.custom.list_namespaced_custom_object,
                                  GROUP, VERSION, self.namespace, PLURAL, **kwargs)
        return WatchStream(response)

    def patch(self, name: str, body: dict[str, Any] | list[dict[str, Any]], *,
              namespace: str | None = None) -> dict[str, Any]:
        """A merge patch (dict body) or a JSON patch (list body) on the Canary; never status."""
        namespace = namespace or self.namespace
        content_type = JSON_PATCH if isinstance(body, list) else MERGE_PATCH
        return self._call(f"canary {namespace}/{name}", self.custom.patch_namespaced_custom_object,
                          GROUP, VERSION, namespace, PLURAL, name, body, _content_type=content_type)

    # ------------------------------------------------------------------ related objects

    def events(self, canary: dict[str, Any], *, limit: int = 10) -> list[dict[str, Any]]:
        """The Canary's most recent Events, oldest first; empty when they cannot be read."""
        meta = canary["metadata"]
        selector = f"involvedObject.name={meta['name']},involvedObject.kind=Canary"
        # A raw GET: the generated CoreV1Api module alone costs a second of imports per command.
        path = f"/api/v1/namespaces/{meta.get('namespace') or self.namespace}/events"
        try:
            request = self.api_client.param_serialize(
                method="GET", resource_path=path, query_params=[("fieldSelector", selector)],
                header_params={"Accept": "application/json"}, auth_settings=["BearerToken"])
            response = self.api_client.call_api(*request, _request_timeout=REQUEST_TIMEOUT)
            if response.status != 200:
                return []
            items = json.loads(response.read()).get("items") or []
        except (ApiException, HTTPError, ValueError):
            return []  # events are context, not the subject: a view without them is still useful
        uid = meta.get("uid")
        items = [e for e in items if not uid or (e.get("involvedObject") or {}).get("uid") in (None, uid)]
        items.sort(key=_event_time)
        return items[-limit:]

    def route(self, namespace: str, name: str, kind: str = "HTTPRoute") -> dict[str, Any] | None:
        """A route of ``kind`` (a Canary's routeRef kind), or None when it is missing, not readable or of an
        unknown kind."""
        plural = _ROUTE_PLURALS.get(kind)
        if plural is None:
            return None
        try:
            return self.custom.get_namespaced_custom_object(ROUTE_GROUP, ROUTE_VERSION, namespace, plural, name,
                                                            _request_timeout=REQUEST_TIMEOUT)
        except (ApiException, HTTPError):
            return None

    def deployment(self, namespace: str, name: str) -> tuple[dict[str, Any] | None, str]:
        """A Deployment and "", or None and why not ("not found", "not readable (HTTP 403)").

        Like Events, Deployments are context in a Canary's view: a missing one (a Canary
        still initializing) or one the user may not read must not fail the command.
        """
        return self._object(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")

    def core_object(self, namespace: str, plural: str, name: str) -> tuple[dict[str, Any] | None, str]:
        """A core (``/api/v1``) object such as a ConfigMap, and "", or None and why not."""
        return self._object(f"/api/v1/namespaces/{namespace}/{plural}/{name}")

    def _object(self, path: str) -> tuple[dict[str, Any] | None, str]:
        # A raw GET, as for Events: the generated AppsV1Api module alone costs a second of imports.
        try:
            request = self.api_client.param_serialize(
                method="GET", resource_path=path, header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"])
            response = self.api_client.call_api(*request, _request_timeout=REQUEST_TIMEOUT)
            status = response.status
            body = response.read() if status == 200 else b""
        except ApiException as error:
            status, body = error.status, b""
        except HTTPError as error:
            return None, f"not readable ({_reason(error)})"
        if status == 404:
            return None, "not found"
        if status != 200:
            return None, f"not readable (HTTP {status})"
        try:
            found = json.loads(body)
        except ValueError:
            return None, "not readable (not JSON)"
        return (found, "") if isinstance(found, dict) else (None, "not readable (not an object)")

    # ------------------------------------------------------------------ plumbing

    def _call(self, what: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("_request_timeout", REQUEST_TIMEOUT)
        try:
            return method(*args, **kwargs)
        except ApiException as error:
            raise errors.from_api_exception(error, what=what) from error
        except HTTPError as error:
            raise errors.ClusterError(f"cannot reach the cluster at {self.server} ({self.source}): "
                                      f"{_reason(error)}") from error


def _reason(error: HTTPError) -> str:
    """The innermost cause of a urllib3 failure ("Connection refused"), not its retry bookkeeping."""
    cause = getattr(error, "reason", None) or error
    return str(cause).rsplit("): ", 1)[-1]


def _event_time(event: dict[str, Any]) -> tuple[str, int]:
    """When an Event happened, and its resourceVersion to order Events of the same second (the
    API server keeps Event times to the second, and a reconciliation posts several in one)."""
    meta = event.get("metadata") or {}
    version = meta.get("resourceVersion") or ""
    when = (event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
            or meta.get("creationTimestamp") or "")
    return when[:19], int(version) if version.isdigit() else 0  # to the second, as the API server keeps it


class WatchStream:
    """One open watch response: its events, and a ``close`` that another thread may call.

    The client's own ``watch.Watch`` cannot be interrupted while it blocks in a read, so a
    command that is done (``wait`` decided, Ctrl-C) would have to leave a thread stuck in
    the socket at interpreter exit. Shutting the socket down from the caller's thread ends
    the read at once.
    """

    def __init__(self, response: Any):
        self._response = response
        self._closed = False

    def events(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(type, object) until the server ends the watch; 410 Gone raises ClusterError(status=410)."""
        buffer = b""
        try:
            for chunk in self._response.stream(amt=None, decode_content=False):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    event = _event(line)
                    if event is not None:
                        yield event
        except (HTTPError, OSError, ValueError) as error:
            if not self._closed:
                raise errors.ClusterError(f"watch on canaries interrupted: {error}") from error
        finally:
            self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        shutdown = getattr(self._response, "shutdown", None)
        try:
            if shutdown is not None:
                shutdown()
        except (RuntimeError, ValueError):
            pass  # the server ended the watch: its connection is back in the pool, no read to interrupt
        except (HTTPError, OSError):
            pass  # closing a broken stream: nothing left to release
        try:
            self._response.release_conn()
        except (HTTPError, OSError):
            pass


def _event(line: bytes) -> tuple[str, dict[str, Any]] | None:
    if not line.strip():
        return None
    event = json.loads(line)
    obj = event.get("object")
    if event.get("type") == "ERROR":
        code = obj.get("code") if isinstance(obj, dict) else None
        message = obj.get("message") if isinstance(obj, dict) else obj
        raise errors.ClusterError(f"watch on canaries failed: {message}", status=code)
    if not isinstance(obj, dict):
        return None
    return event.get("type", ""), obj
