"""Propagation benchmark of the proxy's Kubernetes mode: weight patch in the API → new weights serving.

    python bench/propagation_kubernetes.py [--changes 100] [--routes 1] [--gc-freeze]

Three processes on loopback, as in a real cluster: the API emulator (``routeshift
api-server``), the proxy in Kubernetes mode (this script re-run with ``--serve-proxy``, which
calls the real ``gateway_proxy.kubernetes.mode.run_kubernetes``), and this client with two small
echo backends. Each change flips an HTTPRoute's weights between 1/0 and 0/1 with a JSON merge
patch, exactly as the canary controller patches them, then sends requests through the proxy
on one keep-alive connection until the other backend answers. That time, from just before
the PATCH is sent, is the propagation; the time until the route's status says
``Accepted=True`` with the new ``observedGeneration`` is reported too (the controller's
signal that a step is live). A flip makes the new weights observable in one request; a split
like 90/10 would need sampling and blur the measurement. ``--routes N`` adds N-1 other
routes (own hostnames) so the cost of a rebuild at scale shows. Prints p50/p99/max of both
(DESIGN.md section 7 target: propagation p99 under 100 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = pathlib.Path(__file__).resolve().parent.parent
GATEWAY_API = "/apis/gateway.networking.k8s.io/v1"
START_TIMEOUT = 15.0
CHANGE_TIMEOUT = 5.0


# ------------------------------------------------------------------------------- the proxy process

def serve_proxy(kubeconfig: str, port: int, freeze: bool) -> None:
    """The proxy's data path plus its Kubernetes mode, until SIGTERM (``--serve-proxy``)."""
    import gc
    import logging
    import signal

    import uvloop

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    from gateway_proxy import serving
    from gateway_proxy.kubernetes import mode as kube_mode

    async def main() -> None:
        loop = asyncio.get_running_loop()
        runtime = serving.Runtime(loop)
        server = await serving.serve(runtime, serving.listen_socket("127.0.0.1", port, reuse_port=False))
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loaded = asyncio.Event()
        task = loop.create_task(kube_mode.run_kubernetes(runtime, kubeconfig=kubeconfig, stop=stop, ready=loaded))
        try:
            if freeze:
                # What the recommended __main__ change does: after the first table, move every
                # object alive to the permanent generation so full collections stay short.
                await loaded.wait()
                gc.freeze()
            await task
        finally:
            server.close()
            runtime.pool.close()

    uvloop.run(main())


# ------------------------------------------------------------------------------- the client side

class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        # One write for head and body: two small writes meet Nagle and delayed ACKs (+40 ms each).
        body = self.server.name.encode()
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    def log_message(self, *args) -> None:
        pass


def _echo(name: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    server.name = name
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Api:
    """Just enough of the Kubernetes REST API for the benchmark, over plain HTTP to the emulator."""

    def __init__(self, url: str):
        self.url = url

    def call(self, method: str, path: str, body=None, content_type="application/json"):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": content_type, "Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def create(self, path: str, body: dict) -> dict:
        return self.call("POST", path, body)

    def merge_patch(self, path: str, body: dict) -> dict:
        return self.call("PATCH", path, body, "application/merge-patch+json")


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (OSError, urllib.error.URLError, http.client.HTTPException):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"benchmark: {what} did not happen within {timeout}s")
        time.sleep(0.005)


def _objects(stable_port: int, canary_port: int, routes: int) -> list[tuple[str, dict]]:
    def service(name: str, port: int) -> list[tuple[str, dict]]:
        return [("/api/v1/namespaces/default/services",
                 {"metadata": {"name": name}, "spec": {"ports": [{"name": "http", "port": 80}]}}),
                ("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
                 {"metadata": {"name": f"{name}-1", "labels": {"kubernetes.io/service-name": name}},
                  "addressType": "IPv4", "ports": [{"name": "http", "port": port}],
                  "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]})]
    return [
        (f"{GATEWAY_API}/gatewayclasses", {"metadata": {"name": "routeshift"},
                                           "spec": {"controllerName": "routeshift.dev/gateway-proxy"}}),
        (f"{GATEWAY_API}/namespaces/default/gateways",
         {"metadata": {"name": "gw"}, "spec": {"gatewayClassName": "routeshift",
                                               "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}),
        *service("stable", stable_port), *service("canary", canary_port),
        (f"{GATEWAY_API}/namespaces/default/httproutes", {"metadata": {"name": "app"}, "spec": {
            "parentRefs": [{"name": "gw"}], "hostnames": ["bench.example"], "rules": [{"backendRefs": _weights(1, 0)}]}}),
        *((f"{GATEWAY_API}/namespaces/default/httproutes", {"metadata": {"name": f"other-{index}"}, "spec": {
            "parentRefs": [{"name": "gw"}], "hostnames": [f"other-{index}.example"],
            "rules": [{"backendRefs": _weights(1, 1)}]}}) for index in range(routes - 1)),
    ]


def _weights(stable: int, canary: int) -> list[dict]:
    return [{"name": "stable", "port": 80, "weight": stable}, {"name": "canary", "port": 80, "weight": canary}]


def _accepted_generation(api: Api) -> int | None:
    route = api.call("GET", f"{GATEWAY_API}/namespaces/default/httproutes/app")
    for parent in (route.get("status") or {}).get("parents") or ():
        for condition in parent.get("conditions") or ():
            if condition["type"] == "Accepted" and condition["status"] == "True":
                return condition.get("observedGeneration")
    return None


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def _report(name: str, values: list[float]) -> None:
    ms = [v * 1000 for v in values]
    print(f"{name}: n={len(ms)} p50={statistics.median(ms):.1f} ms p99={_percentile(ms, 0.99):.1f} ms "
          f"max={max(ms):.1f} ms mean={statistics.fmean(ms):.1f} ms")


def run(changes: int, routes: int, freeze: bool) -> None:
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="propagation-k8s-"))
    kubeconfig = workdir / "kubeconfig"
    api_port, proxy_port = _free_port(), _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    children = []
    stable, canary = _echo("stable"), _echo("canary")
    try:
        children.append(subprocess.Popen([sys.executable, "-m", "routeshift", "--log-level", "WARNING", "api-server",
                                          "--port", str(api_port), "--kubeconfig", str(kubeconfig)],
                                         stdout=subprocess.DEVNULL, stderr=open(workdir / "api.log", "wb"), env=env))
        api = Api(f"http://127.0.0.1:{api_port}")
        _wait(lambda: kubeconfig.exists() and api.call("GET", "/api/v1/namespaces"), START_TIMEOUT, "API start")
        for path, body in _objects(stable.server_address[1], canary.server_address[1], routes):
            api.create(path, body)
        argv = [sys.executable, __file__, "--serve-proxy", str(kubeconfig), str(proxy_port)]
        children.append(subprocess.Popen(argv + (["--gc-freeze"] if freeze else []),
                                         stdout=subprocess.DEVNULL, stderr=open(workdir / "proxy.log", "wb"), env=env))
        connection = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=5)

        def backend() -> str | None:
            connection.request("GET", "/", headers={"Host": "bench.example"})
            response = connection.getresponse()
            body = response.read()
            return body.decode() if response.status == 200 else None

        def reconnecting_backend() -> str | None:
            try:
                return backend()
            except (OSError, http.client.HTTPException):
                connection.close()
                raise

        _wait(lambda: reconnecting_backend() == "stable", START_TIMEOUT, "proxy serving the route")
        _wait(lambda: _accepted_generation(api) == 1, START_TIMEOUT, "status for generation 1")
        # Steady state: the first status of every route is written before timing starts.
        _wait(lambda: all((item.get("status") or {}).get("parents") for item in
                          api.call("GET", f"{GATEWAY_API}/namespaces/default/httproutes")["items"]),
              START_TIMEOUT * 4, "status of every route")

        traffic, status, patching = [], [], []
        route = f"{GATEWAY_API}/namespaces/default/httproutes/app"
        for index in range(changes):
            target = "canary" if index % 2 == 0 else "stable"
            started = time.perf_counter()
            patched = api.merge_patch(route, {"spec": {"rules": [{"backendRefs": _weights(
                int(target == "stable"), int(target == "canary"))}]}})
            generation = patched["metadata"]["generation"]
            patching.append(time.perf_counter() - started)
            while backend() != target:
                if time.perf_counter() - started > CHANGE_TIMEOUT:
                    raise SystemExit(f"benchmark: change {index} not served within {CHANGE_TIMEOUT}s")
            traffic.append(time.perf_counter() - started)
            assert all(backend() == target for _ in range(20)), "weights flapped after the change"
            while _accepted_generation(api) != generation:
                if time.perf_counter() - started > CHANGE_TIMEOUT:
                    raise SystemExit(f"benchmark: status of change {index} not written within {CHANGE_TIMEOUT}s")
                time.sleep(0.001)
            status.append(time.perf_counter() - started)
        connection.close()
        print(f"propagation benchmark (Kubernetes mode): {changes} weight flips, {routes} routes, "
              f"gc.freeze {'on' if freeze else 'off'}, emulated API, loopback")
        _report("PATCH round trip to the API (included below)", patching)
        _report("patch -> new weights serving", traffic)
        _report("patch -> status Accepted for the new generation", status)
        print(f"propagation p99: {_percentile([t * 1000 for t in traffic], 0.99):.1f} ms (target < 100 ms)")
    finally:
        for child in reversed(children):
            child.terminate()
        for child in reversed(children):
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(10)
        stable.shutdown()
        canary.shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=100, help="weight changes to time (at least 50)")
    parser.add_argument("--routes", type=int, default=1, help="HTTPRoutes attached to the gateway (one is flipped)")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="gc.freeze() in the proxy after its first table (the change proposed for __main__)")
    parser.add_argument("--serve-proxy", nargs=2, metavar=("KUBECONFIG", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_proxy:
        serve_proxy(args.serve_proxy[0], int(args.serve_proxy[1]), args.gc_freeze)
        return
    if args.changes < 50:
        parser.error("--changes must be at least 50")
    if args.routes < 1:
        parser.error("--routes must be at least 1")
    run(args.changes, args.routes, args.gc_freeze)


if __name__ == "__main__":
    main()
