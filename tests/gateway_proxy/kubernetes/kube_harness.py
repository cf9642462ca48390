"""The proxy's Kubernetes mode on its own uvloop thread, plus builders for the API objects.

The mode runs exactly as ``run_kubernetes`` runs it (a real KubeClient from a kubeconfig, the
real data socket on a free loopback port); the harness only keeps a handle on the
:class:`~gateway_proxy.kubernetes.mode.KubernetesMode` so tests can read its watchers and counters.
:class:`KubeProxyProcess` runs the real command line instead, for what only a process shows
(``--workers``, the flags).
"""

from __future__ import annotations

import asyncio
import collections
import http.client
import json
import os
import pathlib
import sys
import tempfile
import threading
import urllib.error
import urllib.request

import uvloop

from gateway_proxy import serving
from gateway_proxy.kubernetes import client as kube_client, mode as kube_mode
from routeshift.testing import processes

import gw_harness

GATEWAYS = "gateway.networking.k8s.io/v1/gateways"
ROUTES = "gateway.networking.k8s.io/v1/httproutes"
CLASSES = "gateway.networking.k8s.io/v1/gatewayclasses"
GRANTS = "gateway.networking.k8s.io/v1beta1/referencegrants"
SERVICES = "v1/services"
SLICES = "discovery.k8s.io/v1/endpointslices"
NAMESPACES = "v1/namespaces"


def gateway_class(name: str = "routeshift", controller: str = kube_mode.CONTROLLER) -> dict:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": name},
            "spec": {"controllerName": controller}}


def resource_of(document: dict) -> str:
    return {"GatewayClass": CLASSES, "Gateway": GATEWAYS, "HTTPRoute": ROUTES, "Service": SERVICES,
            "EndpointSlice": SLICES, "Namespace": NAMESPACES,
            "ReferenceGrant": GRANTS}[document["kind"]]


def create_all(api, documents) -> None:
    """Create documents in the emulator, as a client would."""
    for document in documents:
        namespace = (document.get("metadata") or {}).get("namespace")
        api.create(resource_of(document), document, namespace)


def backends(proxy, count: int, path: str = "/", host: str = "example.com") -> collections.Counter:
    """Who answered ``count`` requests on one keep-alive connection: echo names, or status codes."""
    seen: collections.Counter = collections.Counter()
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    try:
        for _ in range(count):
            connection.request("GET", path, headers={"Host": host})
            response = connection.getresponse()
            body = response.read()
            if response.status == 200 and response.getheader("Content-Type") == "application/json":
                seen[json.loads(body)["backend"]] += 1
            else:
                seen[response.status] += 1
    finally:
        connection.close()
    return seen


def route_parents(api, name: str, namespace: str = "default") -> list:
    obj = api.get(ROUTES, namespace, name) or {}
    return (obj.get("status") or {}).get("parents") or []


def condition(entry: dict, kind: str) -> dict | None:
    return next((c for c in entry.get("conditions") or () if c.get("type") == kind), None)


class KubeProxy:
    """A Runtime, a data socket and the Kubernetes mode, on a uvloop thread; stopped by :meth:`stop`."""

    def __init__(self, kubeconfig, impl=None, **options):
        self.kubeconfig = str(kubeconfig)
        self.impl = impl
        self.options = options
        self.loop = uvloop.new_event_loop()
        self.runtime = None
        self.mode = None
        self.port = 0
        self._ready = threading.Event()
        self._failure = None
        self._thread = threading.Thread(target=self._main, name="kube-proxy", daemon=True)

    def start(self) -> "KubeProxy":
        self._thread.start()
        assert self._ready.wait(10), "proxy thread did not start"
        if self._failure is not None:
            raise RuntimeError("the proxy failed to start") from self._failure
        return self

    def _main(self):
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as error:  # reported by start(); a thread must not fail silently
            self._failure = error
            self._ready.set()
        finally:
            self.loop.close()

    async def _serve(self):
        self.runtime = serving.Runtime(self.loop, impl=self.impl)
        sock = serving.listen_socket("127.0.0.1", 0, reuse_port=False)
        self.port = sock.getsockname()[1]
        server = await serving.serve(self.runtime, sock)
        self.stop_event = asyncio.Event()
        async with kube_client.KubeClient.from_kubeconfig(self.kubeconfig) as client:
            self.mode = kube_mode.KubernetesMode(self.runtime, client, **self.options)
            self._ready.set()
            try:
                await self.mode.run(self.stop_event)
            finally:
                server.close()
                self.runtime.pool.close()
                await server.wait_closed()

    def call(self, fn):
        """Run ``fn()`` on the proxy's loop (its state is only consistent there) and return the result."""
        return asyncio.run_coroutine_threadsafe(_call(fn), self.loop).result(10)

    def stop(self):
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.stop_event.set)
            self._thread.join(10)
            assert not self._thread.is_alive(), "proxy thread did not stop"


async def _call(fn):
    return fn()


def echo_backend(name: str, server: gw_harness.Echo | None, namespace: str = "default") -> list[dict]:
    """A Service and its EndpointSlice pointing at ``server`` (None: no endpoints)."""
    return gw_harness.service(name, server.port if server is not None else None, namespace)


class KubeProxyProcess:
    """``python -m gateway_proxy --kubernetes`` as a child process on free loopback ports."""

    def __init__(self, kubeconfig, *extra: str, workers: int = 1):
        self.port, self.admin = gw_harness.free_port(), gw_harness.free_port()
        env = dict(os.environ)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        # A file, not a pipe: a chatty proxy must never block on a pipe nobody reads yet.
        handle, self._log_path = tempfile.mkstemp(prefix="kube-proxy-", suffix=".log")
        os.close(handle)
        self.process = processes.start(
            [sys.executable, "-m", "gateway_proxy", "--kubernetes", "--kubeconfig", str(kubeconfig),
             "--listen", f"127.0.0.1:{self.port}", "--admin", f"127.0.0.1:{self.admin}",
             "--workers", str(workers), *extra],
            log_path=pathlib.Path(self._log_path), env=env)
        self.output = ""

    def admin_get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}{path}", timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def workers(self) -> list[int]:
        """PIDs of the worker processes (the children of the admin process)."""
        with open(f"/proc/{self.process.pid}/task/{self.process.pid}/children") as children:
            return [int(pid) for pid in children.read().split()]

    def stop(self) -> int | None:
        code = processes.stop(self.process, grace=15)
        with open(self._log_path, "rb") as log:
            self.output = log.read().decode(errors="replace")
        os.unlink(self._log_path)
        return code


def fresh_connections(port: int, count: int, host: str = "example.com") -> collections.Counter:
    """Who answered ``count`` requests, each on a new connection (so SO_REUSEPORT spreads them over workers)."""
    seen: collections.Counter = collections.Counter()
    for _ in range(count):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", "/", headers={"Host": host})
            response = connection.getresponse()
            body = response.read()
            seen[json.loads(body)["backend"] if response.status == 200 else response.status] += 1
        finally:
            connection.close()
    return seen
