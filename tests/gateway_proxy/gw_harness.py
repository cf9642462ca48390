"""Real servers for proxy tests: echo backends, an in-process proxy, YAML builders.

Every server binds 127.0.0.1 on a free port and is stopped explicitly. The in-process proxy
runs the real data path on its own uvloop thread with a chosen hot-path build, so the socket
tests run against both builds without paying a process start each.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import uvloop
import yaml

from gateway_proxy import serving
from routeshift.testing.polling import until


class EchoHandler(BaseHTTPRequestHandler):
    """Answers with JSON describing the request; a few paths misbehave on purpose."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # head and body are separate writes; Nagle would delay the body 40 ms

    def log_message(self, *args):
        pass

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self):
        body = self._body()
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        record = {"backend": self.server.name, "method": self.command, "path": self.path,
                  "headers": {k.lower(): v for k, v in self.headers.items()},
                  "header_lines": [[k, v] for k, v in self.headers.items()],
                  "peer_port": self.client_address[1], "body_length": len(body), "body_sha": __import__("hashlib").sha256(body).hexdigest()}
        self.server.seen.append(record)
        # A slow backend is simulated by the backend sleeping; the tests themselves never sleep.
        delay = float(query["delay"][0]) if "delay" in query else self.server.delay
        if delay:
            time.sleep(delay)
        if url.path == "/stream":
            # Chunked response streamed in pieces, size from ?n=
            count = int(query.get("n", ["3"])[0])
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("X-Backend", self.server.name)
            self.end_headers()
            gap = float(query.get("gap", ["0"])[0])
            for index in range(count):
                if index and gap:
                    time.sleep(gap)  # a backend producing its body slowly
                piece = (f"chunk-{index};" * 100).encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            return
        if url.path == "/eof":
            # HTTP/1.0 style: no length, no chunking, the body ends when the connection closes.
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until-close:" + b"z" * 5000)
            self.close_connection = True
            return
        status = int(query.get("status", ["200"])[0])
        payload = json.dumps(record).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Backend", self.server.name)
        self.send_header("Keep-Alive", "timeout=5")
        self.send_header("X-Upstream-Only", "yes")
        for name, value in query.items():
            if name.startswith("h-"):
                self.send_header(name[2:], value[0])
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        if "drop" in query:
            # Close right after a response that promised keep-alive, as backends with a short idle
            # timeout do: the proxy's pooled connection dies under it.
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # The proxy closes backend connections on timeouts and aborts; that is expected here.
        pass


class Echo:
    """A named echo backend on a free port, in a daemon thread; ``delay`` slows every answer."""

    def __init__(self, name: str, delay: float = 0.0):
        self.server = _QuietServer(("127.0.0.1", 0), EchoHandler)
        self.server.delay = delay
        self.server.daemon_threads = True
        self.server.name = name
        self.server.seen = []
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def seen(self) -> list:
        return self.server.seen

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Proxy:
    """The real proxy data path on its own event loop thread, serving a config directory."""

    def __init__(self, impl, directory: str | None = None, header_timeout: float = 10.0, tls: bool = False):
        self.directory = directory or tempfile.mkdtemp(prefix="gw-config-")
        self.impl = impl
        self.header_timeout = header_timeout
        self.loop = uvloop.new_event_loop()
        self.runtime = None
        self.reloader = None
        self.port = 0
        self.tls = tls
        self.tls_port = 0
        self.servers = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def start(self) -> "Proxy":
        self._thread.start()
        assert self._ready.wait(10), "proxy thread did not start"
        return self

    def _main(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._setup())
        self._ready.set()
        self.loop.run_forever()
        self.runtime.pool.close()
        for server in self.servers:
            server.close()
            self.loop.run_until_complete(server.wait_closed())
        self.loop.close()

    async def _setup(self):
        self.runtime = serving.Runtime(self.loop, impl=self.impl, header_timeout=self.header_timeout)
        self.reloader = serving.Reloader(self.runtime, self.directory, interval=0.02)
        sock = serving.listen_socket("127.0.0.1", 0, reuse_port=False)
        self.port = sock.getsockname()[1]
        self.servers.append(await serving.serve(self.runtime, sock))
        if self.tls:
            tls_sock = serving.listen_socket("127.0.0.1", 0, reuse_port=False)
            self.tls_port = tls_sock.getsockname()[1]
            self.servers.append(await serving.serve(self.runtime, tls_sock, terminate_tls=True))
        self._poller = self.loop.create_task(self.reloader.run())

    def write(self, name: str, documents) -> None:
        """Write a config file and wait until the proxy has installed it."""
        before = self.runtime.loaded_at
        path = os.path.join(self.directory, name)
        tmp = path + ".tmp"
        with open(tmp, "w") as handle:
            if isinstance(documents, str):
                handle.write(documents)
            else:
                yaml.safe_dump_all(documents, handle)
        os.replace(tmp, path)
        until(lambda: self.runtime.loaded_at != before or self.runtime.errors.get(name), 5,
              description=f"proxy loaded {name}")

    def stop(self):
        self.loop.call_soon_threadsafe(self._poller.cancel)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def request(self, method="GET", path="/", headers=None, body=None, host="example.com", timeout=10):
        """One request on a fresh connection; returns (status, headers dict lower-cased, body bytes)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            all_headers = {"Host": host}
            all_headers.update(headers or {})
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            connection.close()

    def json(self, path="/", **kwargs):
        status, headers, body = self.request(path=path, **kwargs)
        return status, (json.loads(body) if body and headers.get("content-type") == "application/json" else None)


def gateway_proxies_of_each_build(workdir_factory, prefix: str, **options):
    """One running proxy per hot-path build (pure, and compiled when built), each serving the
    Gateway ``gw``; a generator for module-scoped fixtures, which stops them after the yield."""
    from gateway_proxy import _hotpath_py, hotpath
    builds = [_hotpath_py] + [build for build in (hotpath.compiled(),) if build is not None]
    running = [Proxy(build, str(workdir_factory.mktemp(prefix)), **options).start() for build in builds]
    try:
        for proxy in running:
            proxy.write("gw.yaml", [gateway()])
        yield running
    finally:
        for proxy in running:
            proxy.stop()


def exchange_until_close(port: int, data: bytes, timeout: float = 10.0, pieces=None, half_close: bool = True,
                         early_close_ok: bool = False) -> bytes:
    """Send ``data`` (or ``pieces``, one write each), half-close unless told not to, and return what
    the proxy answers until it closes or ``timeout`` passes. With ``early_close_ok`` a send that
    fails because the proxy already answered and closed (on a first bad byte) is not an error."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            for piece in (pieces if pieces is not None else [data]):
                sock.sendall(piece)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            if not early_close_ok:
                raise
        reply = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            reply += chunk
    return reply


def raw_exchange(port: int, data: bytes, timeout: float = 5.0, read_until_close: bool = True) -> bytes:
    """Send raw bytes, return everything received until the server closes (or the timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not read_until_close:
                break
        return b"".join(chunks)


# YAML builders -------------------------------------------------------------------------------

def gateway(name="gw", namespace="default", listeners=None):
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"gatewayClassName": "routeshift",
                     "listeners": listeners or [{"name": "http", "port": 80, "protocol": "HTTP"}]}}


def listener(name, port=80, hostname=None, namespaces="Same", selector=None, kinds=None, protocol="HTTP"):
    item = {"name": name, "port": port, "protocol": protocol,
            "allowedRoutes": {"namespaces": {"from": namespaces}}}
    if hostname:
        item["hostname"] = hostname
    if selector is not None:
        item["allowedRoutes"]["namespaces"]["selector"] = selector
    if kinds is not None:
        item["allowedRoutes"]["kinds"] = kinds
    return item


def route(name, rules, namespace="default", parents=None, hostnames=None, created=None):
    metadata = {"name": name, "namespace": namespace}
    if created:
        metadata["creationTimestamp"] = created
    spec = {"parentRefs": parents or [{"name": "gw", "namespace": "default"}], "rules": rules}
    if hostnames:
        spec["hostnames"] = hostnames
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": metadata, "spec": spec}


def rule(backends=None, matches=None, filters=None, timeouts=None):
    item = {}
    if matches is not None:
        item["matches"] = matches
    if backends is not None:
        item["backendRefs"] = backends
    if filters:
        item["filters"] = filters
    if timeouts:
        item["timeouts"] = timeouts
    return item


def backend(name, weight=None, port=80, namespace=None, kind=None):
    item = {"name": name, "port": port}
    if weight is not None:
        item["weight"] = weight
    if namespace:
        item["namespace"] = namespace
    if kind:
        item["kind"] = kind
    return item


def service(name, echo_port=None, namespace="default", ready=True, extra_ready=None):
    """A Service on port 80 plus its EndpointSlice pointing at a local echo port."""
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
           "spec": {"ports": [{"name": "http", "port": 80}]}}
    endpoints = []
    if echo_port is not None:
        endpoints.append({"addresses": ["127.0.0.1"], "conditions": {"ready": ready}})
    slice_ = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "metadata": {"name": f"{name}-abc", "namespace": namespace,
                           "labels": {"kubernetes.io/service-name": name}},
              "addressType": "IPv4", "ports": [{"name": "http", "port": echo_port or 1}], "endpoints": endpoints}
    return [svc, slice_]


def namespace(name, labels=None):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


def reference_grant(namespace_, from_namespace, version="v1beta1", name=None):
    to = {"group": "", "kind": "Service"}
    if name:
        to["name"] = name
    return {"apiVersion": f"gateway.networking.k8s.io/{version}", "kind": "ReferenceGrant",
            "metadata": {"name": f"grant-{from_namespace}", "namespace": namespace_},
            "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                               "namespace": from_namespace}], "to": [to]}}


def path_match(value, kind="PathPrefix", **extra):
    item = {"path": {"type": kind, "value": value}}
    item.update(extra)
    return item


def deploy(proxy: Proxy, echoes: dict, routes: list, gateways=None, extra=(), name="config.yaml") -> None:
    """Write one config file: gateways (default: one HTTP listener), a Service per echo, routes."""
    documents = list(gateways or [gateway()])
    for service_name, server in echoes.items():
        namespace_, _, short = service_name.rpartition("/")
        documents.extend(service(short, server.port if server is not None else None, namespace_ or "default"))
    documents.extend(extra)
    documents.extend(routes)
    proxy.write(name, documents)
    assert not proxy.runtime.errors, proxy.runtime.errors


def backend_of(proxy: Proxy, path="/", **kwargs) -> str | int:
    """The echo backend that answered, or the status when no backend did."""
    status, body = proxy.json(path, **kwargs)
    if body is None:
        return status
    return body["backend"]
