"""gRPC unary calls and WebSocket message round trips through the gateway proxy, against direct.

    python bench/grpc_and_websocket.py [--duration 8] [--connections 32] [--concurrency 32]
                                       [--messages M] [--skip-c]

Issue 14 made the proxy tunnel upgrades and speak HTTP/2 to gRPC backends; this says what each
costs a client, measured in one run against the same backends reached directly:

- WebSocket: two aiohttp echo backends (child processes) behind an HTTPRoute weighted 3:1, their
  Service ports declaring ``kubernetes.io/ws``. ``--connections`` WebSocket clients each send a
  small text message, wait for its echo, and send the next, for ``--duration`` seconds (or
  ``--messages`` each); every message's round trip is timed. Directly, the connections are split
  3:1 over the two backends, as the route splits them. Through the proxy this runs on the asyncio
  data path, then with ``--data-plane c``: the C loop tunnels upgrades itself where it is built
  to, and the bench checks the proxy's log to say which path really served (the C loop logs why
  it stands aside for a table it cannot serve).
- gRPC: one grpcio thread-pool server (generic handler, raw bytes, no protoc) answering
  ``/bench.Echo/Call`` with the request, and a grpc.aio client issuing unary calls from ``--concurrency`` tasks on one
  channel for ``--duration`` seconds; directly, then through the proxy with a GRPCRoute to a
  Service declaring ``kubernetes.io/h2c`` (the client speaks h2c with prior knowledge). Only the
  asyncio path speaks HTTP/2: with ``--data-plane c`` the C loop stands aside for a GRPCRoute, so
  there is nothing else to measure.

Figures: p50/p99 round trip and messages/s, calls/s and p50/p99 call latency, and the CPU time
(user + system, from /proc) of the proxy's and the backends' processes per message or call. The
client is this process, on the same cores as the proxy and the backends: compare ratios from one
run only. Everything binds 127.0.0.1 on free ports, every child is stopped by its PID (Ctrl-C
included), and the last line is a one-line summary.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import sys
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import proxy_bench_common as common  # noqa: E402
from proxy_vs_nginx import cpu_seconds  # noqa: E402

ECHO_METHOD = "/bench.Echo/Call"
GRPC_HOST = "grpc.example.com"
CHAT_HOST = "chat.example.com"
WEBSOCKET_WEIGHTS = (3, 1)
MESSAGE = "m" * 32
WARM_UP_SECONDS = 1.5
CALL_TIMEOUT = 10.0
GRPC_SERVER_THREADS = 32


# Backends, each run as a child process of this script (``--serve``) -------------------------

def serve_websocket_echo(port: int) -> None:
    """An aiohttp WebSocket echo on ``port``: text and binary frames sent back as they came."""
    import uvloop
    from aiohttp import WSMsgType, web

    async def echo(request: web.Request) -> web.WebSocketResponse:
        session = web.WebSocketResponse()
        await session.prepare(request)
        async for message in session:
            if message.type == WSMsgType.TEXT:
                await session.send_str(message.data)
            elif message.type == WSMsgType.BINARY:
                await session.send_bytes(message.data)
        return session

    app = web.Application()
    app.router.add_get("/{tail:.*}", echo)
    web.run_app(app, host="127.0.0.1", port=port, print=None, loop=uvloop.new_event_loop())


def serve_grpc_echo(port: int) -> None:
    """A grpcio server on ``port`` answering unary ``/bench.Echo/Call`` with the request bytes.

    The thread-pool server: on this machine it answers about 1.6x the calls of a grpc.aio one
    for the same CPU, so the backend is less of the limit in the direct run."""
    from concurrent import futures

    import grpc

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=GRPC_SERVER_THREADS))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "bench.Echo", {"Call": grpc.unary_unary_rpc_method_handler(lambda request, context: request)}),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


class Backend(common.Process):
    """This script in ``--serve KIND`` mode on a free port."""

    def __init__(self, workdir: str, kind: str):
        self.port = common.free_port()
        super().__init__([sys.executable, os.path.abspath(__file__), "--serve", kind, "--port", str(self.port)],
                         os.path.join(workdir, f"{kind}-{self.port}.log"))


# Proxy configuration --------------------------------------------------------------------------

def _service(name: str, port: int, app_protocol: str) -> list[dict]:
    return [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "bench"},
             "spec": {"ports": [{"name": "app", "port": 80, "appProtocol": app_protocol}]}},
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": {"name": f"{name}-1", "namespace": "bench", "labels": {"kubernetes.io/service-name": name}},
             "addressType": "IPv4", "ports": [{"name": "app", "port": port}],
             "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]}]


def proxy_config(websocket_ports: list[int], grpc_port: int | None) -> list[dict]:
    """A Gateway, an HTTPRoute weighting the WebSocket echoes, and a GRPCRoute to the gRPC echo
    unless ``grpc_port`` is None (a table holding one is never the C loop's)."""
    documents = [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                  "metadata": {"name": "gw", "namespace": "bench"},
                  "spec": {"gatewayClassName": "routeshift",
                           "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}]
    refs = []
    for index, (port, weight) in enumerate(zip(websocket_ports, WEBSOCKET_WEIGHTS)):
        documents.extend(_service(f"ws-{index}", port, "kubernetes.io/ws"))
        refs.append({"name": f"ws-{index}", "port": 80, "weight": weight})
    # Its own hostname: a GRPCRoute loses a hostname an older HTTPRoute on the listener accepts.
    chat = common.route_document("chat", [{"matches": [{"path": {"type": "PathPrefix", "value": "/chat"}}],
                                           "backendRefs": refs}])
    chat["spec"]["hostnames"] = [CHAT_HOST]
    documents.append(chat)
    if grpc_port is None:
        return documents
    documents.extend(_service("grpc-echo", grpc_port, "kubernetes.io/h2c"))
    documents.append({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute",
                      "metadata": {"name": "echo", "namespace": "bench"},
                      "spec": {"parentRefs": [{"name": "gw"}], "hostnames": [GRPC_HOST],
                               "rules": [{"matches": [{"method": {"type": "Exact", "service": "bench.Echo"}}],
                                          "backendRefs": [{"name": "grpc-echo", "port": 80}]}]}})
    return documents


def plane_that_served(log_path: str) -> tuple[str, str]:
    """("c" or "asyncio", why) from a ``--data-plane c`` proxy's log at INFO: its last word on it."""
    with open(log_path, errors="replace") as handle:
        words = re.findall(r"(C data plane serving.*|C data plane cannot serve this table.*"
                           r"|the C data plane is not built.*|--data-plane c needs the compiled build.*)",
                           handle.read())
    if words and words[-1].startswith("C data plane serving"):
        return "c", "the C loop served the table"
    return "asyncio", words[-1] if words else "no word from the C data plane in the log"


# Measurements ---------------------------------------------------------------------------------

@dataclass
class Run:
    name: str
    count: int          # messages echoed or calls answered in the measured window
    seconds: float
    latencies: list     # seconds, sorted
    failures: int
    proxy_cpu: float | None   # CPU seconds of the proxy's process tree in the window
    backend_cpu: float  # CPU seconds of the backends in the window

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return math.nan
        return self.latencies[min(len(self.latencies) - 1, math.ceil(fraction * len(self.latencies)) - 1)]

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def line(self, unit: str) -> str:
        per = 1e6 / max(1, self.count)
        cpu = "" if self.proxy_cpu is None else f"   proxy CPU {self.proxy_cpu * per:6.1f} us/{unit}"
        return (f"{self.name:24s} {self.rate:9.0f} {unit}s/s   p50 {self.percentile(0.5) * 1e3:7.2f} ms"
                f"   p99 {self.percentile(0.99) * 1e3:7.2f} ms{cpu}"
                f"   backend CPU {self.backend_cpu * per:6.1f} us/{unit}   failures {self.failures}")


def _cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


async def _websocket_round_trips(urls: list[str], seconds: float, messages: int | None) -> tuple[list, int, float]:
    """Round trips of one message at a time on each URL's connection until ``seconds`` pass (or
    ``messages`` each): (latencies, failures, elapsed seconds)."""
    import aiohttp

    latencies: list[float] = []
    failures = 0

    async def one_connection(session, url: str, deadline: float) -> None:
        nonlocal failures
        sent = 0
        async with session.ws_connect(url, headers={"Host": CHAT_HOST}) as ws:
            while time.perf_counter() < deadline and (messages is None or sent < messages):
                started = time.perf_counter()
                await ws.send_str(MESSAGE)
                answer = await ws.receive(timeout=CALL_TIMEOUT)
                sent += 1
                if answer.type != aiohttp.WSMsgType.TEXT or answer.data != MESSAGE:
                    failures += 1
                    return
                latencies.append(time.perf_counter() - started)

    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(one_connection(session, url, started + seconds) for url in urls),
                                        return_exceptions=True)
        elapsed = time.perf_counter() - started
    failures += sum(1 for outcome in outcomes if isinstance(outcome, BaseException))
    return latencies, failures, elapsed


def websocket_run(name: str, urls: list[str], args, proxy_pids: list[int] | None, backend_pids: list[int]) -> Run:
    import uvloop
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_websocket_round_trips(urls, WARM_UP_SECONDS, None))
        proxy_before, backend_before = _cpu(proxy_pids or []), _cpu(backend_pids)
        latencies, failures, elapsed = runner.run(_websocket_round_trips(urls, args.duration, args.messages))
    return Run(name, len(latencies), elapsed, sorted(latencies), failures,
               _cpu(proxy_pids) - proxy_before if proxy_pids else None, _cpu(backend_pids) - backend_before)


async def _unary_calls(target: str, concurrency: int, seconds: float) -> tuple[list, int, float]:
    """Unary calls from ``concurrency`` tasks on one grpc.aio channel for ``seconds``."""
    import grpc

    latencies: list[float] = []
    failures = 0
    payload = MESSAGE.encode()
    async with grpc.aio.insecure_channel(target, options=[("grpc.default_authority", GRPC_HOST),
                                                           ("grpc.enable_retries", 0)]) as channel:
        call = channel.unary_unary(ECHO_METHOD)

        async def caller(deadline: float) -> None:
            nonlocal failures
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    answer = await call(payload, timeout=CALL_TIMEOUT)
                except grpc.RpcError:
                    failures += 1
                    continue
                if answer != payload:
                    failures += 1
                    continue
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(caller(started + seconds) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, failures, elapsed


def grpc_run(name: str, target: str, args, proxy_pids: list[int] | None, backend_pids: list[int]) -> Run:
    with asyncio.Runner() as runner:
        runner.run(_unary_calls(target, args.concurrency, WARM_UP_SECONDS))
        proxy_before, backend_before = _cpu(proxy_pids or []), _cpu(backend_pids)
        latencies, failures, elapsed = runner.run(_unary_calls(target, args.concurrency, args.duration))
    return Run(name, len(latencies), elapsed, sorted(latencies), failures,
               _cpu(proxy_pids) - proxy_before if proxy_pids else None, _cpu(backend_pids) - backend_before)


def direct_urls(ports: list[int], connections: int) -> list[str]:
    """``connections`` WebSocket URLs over the echo backends in the route's weights."""
    shares = [port for port, weight in zip(ports, WEBSOCKET_WEIGHTS) for _ in range(weight)]
    return [f"ws://127.0.0.1:{shares[index % len(shares)]}/chat" for index in range(connections)]


def through_proxy(work: str, config_dir: str, data_plane: str, args, websocket_pids: list[int],
                  grpc_pid: int | None) -> tuple[Run | None, Run | None]:
    """The WebSocket run, and the gRPC run when ``grpc_pid`` is given, through a proxy serving with
    ``data_plane``; the WebSocket run is None when a ``c`` proxy's C loop stood aside."""
    os.environ["ROUTESHIFT_DATA_PLANE"] = data_plane  # read by the proxy's --data-plane default
    proxy = common.GatewayProxy(work, config_dir, log_level="INFO")
    try:
        proxy.wait_ready()
        urls = [f"ws://127.0.0.1:{proxy.port}/chat"] * args.connections
        common.until(lambda: asyncio.run(_websocket_round_trips(urls[:1], 0.1, 1))[0], 15,
                     description="a WebSocket echo through the proxy")
        if data_plane == "c":
            served_by, why = plane_that_served(proxy.log.name)
            print(f"--data-plane c: the {served_by} path served the WebSocket route ({why})", flush=True)
            if served_by != "c":
                return None, None
        websocket = websocket_run(f"websocket proxy {data_plane}", urls, args, [proxy.popen.pid], websocket_pids)
        calls = None if grpc_pid is None else grpc_run(f"grpc proxy {data_plane}", f"127.0.0.1:{proxy.port}", args,
                                                       [proxy.popen.pid], [grpc_pid])
        return websocket, calls
    finally:
        proxy.stop()


def report(args, websocket_runs: list[Run], grpc_runs: list[Run]) -> None:
    """The figures of each run, the proxy/direct ratios, and the one-line summary last."""
    print(f"duration {args.duration:g} s per run, {args.connections} WebSocket connections, "
          f"{args.concurrency} gRPC callers, proxy workers 1, {os.cpu_count()} cores, "
          f"load average {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    for run in websocket_runs:
        print(run.line("message"))
    for run in grpc_runs:
        print(run.line("call"))
    direct_ws, direct_grpc, grpc_proxy = websocket_runs[0], grpc_runs[0], grpc_runs[1]
    ws_ratios = []
    for run in websocket_runs[1:]:
        path = run.name.rsplit(" ", 1)[1]
        p99 = run.percentile(0.99) / direct_ws.percentile(0.99)
        ws_ratios.append(f"{p99:.2f} ({path})")
        print(f"WebSocket proxy/direct ({path}): p99 {p99:.2f}, p50 "
              f"{run.percentile(0.5) / direct_ws.percentile(0.5):.2f}, messages/s {run.rate / direct_ws.rate:.2f}")
    calls = grpc_proxy.rate / direct_grpc.rate
    print(f"gRPC proxy/direct (asyncio): calls/s {calls:.2f}, p50 "
          f"{grpc_proxy.percentile(0.5) / direct_grpc.percentile(0.5):.2f}, p99 "
          f"{grpc_proxy.percentile(0.99) / direct_grpc.percentile(0.99):.2f}")
    print(f"proxy/direct: gRPC calls/s {calls:.2f}, WebSocket p99 {', '.join(ws_ratios)}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds measured per run (after a 1.5 s warm-up)")
    parser.add_argument("--connections", type=int, default=32, help="WebSocket connections")
    parser.add_argument("--messages", type=int, default=None, help="stop each WebSocket connection after M messages")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent gRPC callers")
    parser.add_argument("--skip-c", action="store_true", help="no WebSocket run with --data-plane c")
    parser.add_argument("--serve", choices=("websocket", "grpc"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve == "websocket":
        serve_websocket_echo(args.port)
        return 0
    if args.serve == "grpc":
        serve_grpc_echo(args.port)
        return 0

    work = common.workdir("bench-grpc-websocket-")
    backends: list[Backend] = []
    try:
        echoes = [Backend(work, "websocket"), Backend(work, "websocket")]
        grpc_echo = Backend(work, "grpc")
        backends.extend(echoes + [grpc_echo])
        for backend in backends:
            common.wait_port(backend.port)
        websocket_ports = [echo.port for echo in echoes]
        websocket_pids = [echo.popen.pid for echo in echoes]
        config_dirs = {"asyncio": os.path.join(work, "config-asyncio"), "c": os.path.join(work, "config-c")}
        for data_plane, config_dir in config_dirs.items():
            os.makedirs(config_dir)
            common.write_config(config_dir, "bench.yaml",
                                proxy_config(websocket_ports, grpc_echo.port if data_plane == "asyncio" else None))

        websocket_runs = [websocket_run("websocket direct", direct_urls(websocket_ports, args.connections), args,
                                        None, websocket_pids)]
        grpc_runs = [grpc_run("grpc direct", f"127.0.0.1:{grpc_echo.port}", args, None, [grpc_echo.popen.pid])]
        proxied_websocket, proxied_grpc = through_proxy(work, config_dirs["asyncio"], "asyncio", args,
                                                        websocket_pids, grpc_echo.popen.pid)
        websocket_runs.append(proxied_websocket)
        grpc_runs.append(proxied_grpc)
        if not args.skip_c:
            proxied_websocket, _ = through_proxy(work, config_dirs["c"], "c", args, websocket_pids, None)
            if proxied_websocket is not None:
                websocket_runs.append(proxied_websocket)
        report(args, websocket_runs, grpc_runs)
    finally:
        for backend in reversed(backends):
            backend.stop()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # every child was stopped on the way out (main's finally)
        sys.exit(130)
