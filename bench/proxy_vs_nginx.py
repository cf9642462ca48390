"""Throughput and latency of the gateway proxy against nginx configured the same way.

    python bench/proxy_vs_nginx.py [--seconds 10] [--connections 32] [--workers 1] [--data-plane asyncio|c]
                                   [--rounds 3] [--syscalls N] [--tls] [--new-connections]

Both proxies front the same two nginx backends with a 9:1 weighted split, keep-alive upstream
connections, and a PathPrefix route; wrk drives each in turn in the same run on loopback.
The proxy runs with routing and metrics on, as in production; ``--data-plane c`` serves it
with the C event loop (issue 13). CPU per request is the CPU time of each front's process tree
(nginx master and workers; the proxy and its workers) during the measured runs, over their requests.

A p99 on a shared machine moves with whatever else runs (a second of someone's test suite
starves wrk, the backends and the front alike), so one run of each front, nginx always first,
compared two different moments. Both fronts are measured ``--rounds`` times, back to back, in
alternating order (nginx then proxy, proxy then nginx, ...), after one warm-up each; each figure
is the median of its rounds, and each round's p99 ratio is printed with the load average at its
start, the seconds each front waited for a CPU while runnable (``schedstat``, every thread of
its process tree) and, with several workers, how the kernel spread wrk's connections over them.

``--syscalls N`` then counts the system calls of each front's process tree (every thread) during
N more wrk requests, with ``perf stat`` on the kernel's syscall tracepoints
(``proxy_bench_common.syscalls_during_requests``), and prints system calls per request for both.
The last line is the ratio.

``--tls``: both fronts terminate TLS (1.2 and 1.3) on their listener with the same self-signed
RSA-2048 certificate, made with the openssl command line in the temporary directory, and wrk
speaks HTTPS to them; the backends stay plain HTTP. The proxy gets it as a user configures it: an
HTTPS listener whose ``tls.certificateRefs`` names a kubernetes.io/tls Secret, served on
``--listen-tls``; the line its log has about the TLS socket (which data path serves it) is printed
first, then how many of 16 new connections offering a session each front resumed (nginx keeps
OpenSSL's defaults, as the proxy's Python SSL contexts do; with several workers nginx's share
their ticket keys and the proxy's do not). ``--new-connections`` makes wrk send
``Connection: close``, so that each request is a new connection; with ``--tls``, a new handshake
(a resumed one where the front resumes), and the figures become handshakes per second and CPU
per handshake.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import threading
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import proxy_bench_common as common  # noqa: E402


def nginx_proxy_block(port: int, backends: list[tuple[int, int]], reuseport: bool = False,
                      certificate: tuple[str, str] | None = None) -> str:
    """nginx's side of the comparison; ``reuseport`` gives each worker its own SO_REUSEPORT socket,
    as the proxy's workers have, so that the kernel spreads connections over both fronts' workers
    the same way (by hash). Without it nginx's workers share one socket and the first awake takes
    what arrives: wrk's 32 connections often all landed on one of 2 workers, a tail of nginx's
    own that has nothing to do with the proxy.

    With ``certificate`` (PEM certificate and key paths) the listener terminates TLS 1.2/1.3 with
    it and resumes sessions as the proxy's Python SSL contexts do, which keep OpenSSL's server
    defaults: its built-in session cache of 20,480 sessions per process, and session tickets."""
    servers = "\n".join(f"    server 127.0.0.1:{backend} weight={weight};" for backend, weight in backends)
    tls = ""
    if certificate is not None:
        tls = f"""
    ssl_certificate {certificate[0]};
    ssl_certificate_key {certificate[1]};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache builtin:20480;
    ssl_session_tickets on;"""
    return f"""  upstream app {{
{servers}
    keepalive 64;
  }}
  server {{
    listen 127.0.0.1:{port}{" ssl" if certificate else ""}{" reuseport" if reuseport else ""};{tls}
    location /api {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
    }}
    location / {{ return 404; }}
  }}"""


def cpu_seconds(root: int) -> float:
    """User plus system CPU time of ``root``'s process tree so far (live processes only)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in common.process_tree(root):
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            continue
    return total / ticks


@dataclass
class Round:
    """One wrk run against one front, with what the machine was doing meanwhile."""
    result: common.WrkResult
    cpu: float          # CPU seconds of the front's process tree during the run
    waited: float       # seconds its threads were runnable but waiting for a CPU
    load: float         # 1-minute load average at the start
    spread: list[int]   # established connections per front process, sampled mid-run


def measure(port: int, url: str, process, args) -> Round:
    root = process.popen.pid
    spread: list[int] = []
    # Sampled only where there is a spread to see: `ss` costs a few ms of CPU in the middle of the run.
    sampler = (threading.Timer(args.seconds / 2, lambda: spread.extend(common.connections_per_process(port)))
               if args.workers > 1 else None)
    load = common.load_average()
    cpu_before, waited_before = cpu_seconds(root), common.run_queue_seconds(root)
    if sampler is not None:
        sampler.start()
    result = common.wrk(url, args.seconds, args.connections, headers=wrk_headers(args))
    if sampler is not None:
        sampler.join()
    return Round(result, cpu_seconds(root) - cpu_before, common.run_queue_seconds(root) - waited_before, load, spread)


def wrk_headers(args) -> tuple[str, ...]:
    """With ``--new-connections`` the front closes each connection after its answer and wrk opens
    another: every request pays a connect (and, with ``--tls``, a handshake)."""
    return ("Connection: close",) if args.new_connections else ()


def tls_path(proxy: common.GatewayProxy, data_plane: str) -> str:
    """Which of the proxy's data paths terminates TLS, as its log says."""
    said = proxy.log_lines("TLS listeners")
    if said:
        return said[0].split("gateway_proxy: ", 1)[-1]
    if data_plane == "asyncio":
        return "the asyncio path, as every listener with --data-plane asyncio"
    return "the proxy's log does not say (no line about TLS listeners)"


def round_line(number: int, order: list[str], proxy: Round, nginx: Round, workers: int) -> str:
    """One round's figures, proxy / nginx, with the machine's state beside them."""
    line = (f"round {number + 1} ({' then '.join(order)}): p99 proxy/nginx {proxy.result.p99_ms / nginx.result.p99_ms:.2f}"
            f" ({proxy.result.p99_ms:.2f} / {nginx.result.p99_ms:.2f} ms), rps {proxy.result.rps:.0f} / "
            f"{nginx.result.rps:.0f}, load {proxy.load:.2f} / {nginx.load:.2f}, waited for a CPU {proxy.waited:.2f} / "
            f"{nginx.waited:.2f} s")
    if workers > 1:
        line += f", connections per worker {proxy.spread} / {nginx.spread}"
    for name, errors in (("proxy", proxy.result.socket_errors), ("nginx", nginx.result.socket_errors)):
        if errors and any(errors.values()):
            line += f", {name} socket errors {errors}"
    return line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="proxy workers and nginx worker_processes")
    parser.add_argument("--data-plane", choices=("asyncio", "c"), default="asyncio",
                        help="the proxy's data plane (its --data-plane)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measurements of each front, alternating which goes first; medians are reported")
    parser.add_argument("--syscalls", type=int, default=0, metavar="N",
                        help="also count system calls per request of both fronts over N requests (needs perf)")
    parser.add_argument("--tls", action="store_true",
                        help="both fronts terminate TLS with the same self-signed certificate; wrk speaks HTTPS")
    parser.add_argument("--new-connections", action="store_true",
                        help="every request on a new connection (wrk sends Connection: close): with --tls, "
                             "handshakes per second and CPU per handshake")
    args = parser.parse_args(argv)
    if args.syscalls and not shutil.which("perf"):
        raise SystemExit("--syscalls needs perf (Debian: apt-get install linux-perf)")
    os.environ["ROUTESHIFT_DATA_PLANE"] = args.data_plane  # read by the proxy's --data-plane default
    common.ensure_tools()
    work = common.workdir("bench-proxy-vs-nginx-")
    certificate = common.self_signed_certificate(work) if args.tls else None
    backend_ports = [common.free_port(), common.free_port()]
    weighted = [(backend_ports[0], 9), (backend_ports[1], 1)]
    nginx_port = common.free_port()
    config_dir = os.path.join(work, "config")
    os.makedirs(config_dir)
    common.write_config(config_dir, "bench.yaml", common.proxy_config(weighted, certificate=certificate))
    scheme = "https" if args.tls else "http"
    processes = []
    try:
        backends = common.Nginx(work, "backends", common.backends_block(backend_ports), workers=1)
        processes.append(backends)
        front = common.Nginx(work, "front", nginx_proxy_block(nginx_port, weighted, reuseport=args.workers > 1,
                                                              certificate=certificate),
                             workers=args.workers)
        processes.append(front)
        # INFO with --tls: the proxy logs at start which of its paths serves the TLS socket.
        proxy = common.GatewayProxy(work, config_dir, workers=args.workers, tls=args.tls,
                                    log_level="INFO" if args.tls else "WARNING")
        processes.append(proxy)
        proxy_port = proxy.tls_port if args.tls else proxy.port
        for port in backend_ports + [nginx_port, proxy_port]:
            common.wait_port(port)
        proxy.wait_ready()
        fronts = {"nginx": (nginx_port, front), "proxy": (proxy_port, proxy)}
        urls = {name: f"{scheme}://127.0.0.1:{port}/api/items" for name, (port, _) in fronts.items()}
        for name in fronts:
            # warm-up: connections, pools, caches
            common.wrk(urls[name], 2, args.connections, headers=wrk_headers(args))
        if args.tls:  # after the warm-up: by then every worker of both fronts listens
            print(f"TLS on the proxy: {tls_path(proxy, args.data_plane)}")
            print("TLS sessions resumed, of 16 new connections offering one: "
                  + ", ".join(f"{name} {common.tls_resumptions(port, 16)}" for name, (port, _) in fronts.items()),
                  flush=True)
        rounds = {name: [] for name in fronts}
        for number in range(args.rounds):
            order = list(fronts) if number % 2 == 0 else list(reversed(fronts))
            for name in order:
                rounds[name].append(measure(fronts[name][0], urls[name], fronts[name][1], args))
            print(round_line(number, order, rounds["proxy"][-1], rounds["nginx"][-1], args.workers), flush=True)
        results = {name: common.WrkResult(statistics.median(r.result.rps for r in runs),
                                          statistics.median(r.result.p50_ms for r in runs),
                                          statistics.median(r.result.p99_ms for r in runs),
                                          sum(r.result.non_2xx for r in runs))
                   for name, runs in rounds.items()}
        cpu = {name: sum(r.cpu for r in runs) / max(1.0, sum(r.result.rps * args.seconds for r in runs))
               for name, runs in rounds.items()}
        syscalls = {}
        for name, (port, process) in fronts.items() if args.syscalls else ():
            syscalls[name] = common.syscalls_during_requests(common.process_tree(process.popen.pid), urls[name],
                                                             args.syscalls, args.connections, results[name].rps, work,
                                                             headers=wrk_headers(args))
        for name, result in results.items():
            print(f"{name:6s} rps {result.rps:10.0f}   p50 {result.p50_ms:7.2f} ms   p99 {result.p99_ms:7.2f} ms"
                  f" (medians of {args.rounds})"
                  f"   CPU {cpu[name] * 1e6:6.1f} us/request   non-2xx {result.non_2xx}")
        for name, count in syscalls.items():
            top = sorted(((calls, call) for call, calls in count.by_name.items() if calls), reverse=True)
            print(f"{name:6s} syscalls {count.total / max(1, count.requests):6.2f} /request over {count.requests} requests"
                  f"   ({', '.join(f'{call} {calls / max(1, count.requests):.2f}' for calls, call in top)})")
        if syscalls:
            print(f"syscalls per request proxy/nginx: "
                  f"{syscalls['proxy'].total / syscalls['proxy'].requests / (syscalls['nginx'].total / syscalls['nginx'].requests):.2f}")
        nginx, proxy_result = results["nginx"], results["proxy"]
        connections = "a new connection per request" if args.new_connections else "keep-alive"
        print(f"data plane: {args.data_plane}, workers: {args.workers}, rounds: {args.rounds}, "
              f"{'HTTPS' if args.tls else 'HTTP'}, {connections}")
        if args.new_connections:
            what = "handshakes" if args.tls else "new connections"
            print(f"{what} per second proxy / nginx: {proxy_result.rps:.0f} / {nginx.rps:.0f}; CPU per "
                  f"{what[:-1]} proxy / nginx: {cpu['proxy'] * 1e6:.0f} / {cpu['nginx'] * 1e6:.0f} us")
        print(f"CPU per request proxy/nginx: {cpu['proxy'] / cpu['nginx']:.2f}")
        per_round = ", ".join(f"{proxy_run.result.p99_ms / nginx_run.result.p99_ms:.2f}"
                              for proxy_run, nginx_run in zip(rounds["proxy"], rounds["nginx"]))
        print(f"p99 ratio proxy/nginx: {proxy_result.p99_ms / nginx.p99_ms:.2f} (rounds: {per_round})")
        print(f"proxy/nginx rps ratio: {proxy_result.rps / nginx.rps:.2f}")
    finally:
        for process in reversed(processes):
            process.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
