"""Throughput and latency of the gateway proxy against nginx configured the same way.

    python bench/proxy_vs_nginx.py [--seconds 10] [--connections 32] [--workers 1] [--data-plane asyncio|c]
                                   [--syscalls N]

Both proxies front the same two nginx backends with a 9:1 weighted split, keep-alive upstream
connections, and a PathPrefix route; wrk drives each in turn in the same run on loopback.
The proxy runs with routing and metrics on, as in production; ``--data-plane c`` serves it
with the C event loop (issue 13). CPU per request is the CPU time of each front's process tree
(nginx master and workers; the proxy and its workers) during the measured run, over its requests.
``--syscalls N`` then counts the system calls of each front's process tree (every thread) during
N more wrk requests, with ``perf stat`` on the kernel's syscall tracepoints
(``proxy_bench_common.syscalls_during_requests``), and prints system calls per request for both.
The last line is the ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import proxy_bench_common as common  # noqa: E402


def nginx_proxy_block(port: int, backends: list[tuple[int, int]]) -> str:
    servers = "\n".join(f"    server 127.0.0.1:{backend} weight={weight};" for backend, weight in backends)
    return f"""  upstream app {{
{servers}
    keepalive 64;
  }}
  server {{
    listen 127.0.0.1:{port};
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="proxy workers and nginx worker_processes")
    parser.add_argument("--data-plane", choices=("asyncio", "c"), default="asyncio",
                        help="the proxy's data plane (its --data-plane)")
    parser.add_argument("--syscalls", type=int, default=0, metavar="N",
                        help="also count system calls per request of both fronts over N requests (needs perf)")
    args = parser.parse_args(argv)
    if args.syscalls and not shutil.which("perf"):
        raise SystemExit("--syscalls needs perf (Debian: apt-get install linux-perf)")
    os.environ["ROUTESHIFT_DATA_PLANE"] = args.data_plane  # read by the proxy's --data-plane default
    common.ensure_tools()
    work = common.workdir("bench-proxy-vs-nginx-")
    backend_ports = [common.free_port(), common.free_port()]
    weighted = [(backend_ports[0], 9), (backend_ports[1], 1)]
    nginx_port = common.free_port()
    config_dir = os.path.join(work, "config")
    os.makedirs(config_dir)
    common.write_config(config_dir, "bench.yaml", common.proxy_config(weighted))
    processes = []
    try:
        backends = common.Nginx(work, "backends", common.backends_block(backend_ports), workers=1)
        processes.append(backends)
        front = common.Nginx(work, "front", nginx_proxy_block(nginx_port, weighted), workers=args.workers)
        processes.append(front)
        proxy = common.GatewayProxy(work, config_dir, workers=args.workers)
        processes.append(proxy)
        for port in backend_ports + [nginx_port]:
            common.wait_port(port)
        proxy.wait_ready()
        results = {}
        cpu = {}
        for name, port, process in (("nginx", nginx_port, front), ("proxy", proxy.port, proxy)):
            url = f"http://127.0.0.1:{port}/api/items"
            common.wrk(url, 2, args.connections)  # warm-up: connections, pools, caches
            before = cpu_seconds(process.popen.pid)
            results[name] = common.wrk(url, args.seconds, args.connections)
            cpu[name] = (cpu_seconds(process.popen.pid) - before) / max(1.0, results[name].rps * args.seconds)
        syscalls = {}
        for name, port, process in (("nginx", nginx_port, front), ("proxy", proxy.port, proxy)) if args.syscalls else ():
            syscalls[name] = common.syscalls_during_requests(common.process_tree(process.popen.pid), f"http://127.0.0.1:{port}/api/items",
                                                             args.syscalls, args.connections, results[name].rps, work)
        for name, result in results.items():
            print(f"{name:6s} rps {result.rps:10.0f}   p50 {result.p50_ms:7.2f} ms   p99 {result.p99_ms:7.2f} ms"
                  f"   CPU {cpu[name] * 1e6:6.1f} us/request   non-2xx {result.non_2xx}")
        for name, count in syscalls.items():
            top = sorted(((calls, call) for call, calls in count.by_name.items() if calls), reverse=True)
            print(f"{name:6s} syscalls {count.total / max(1, count.requests):6.2f} /request over {count.requests} requests"
                  f"   ({', '.join(f'{call} {calls / max(1, count.requests):.2f}' for calls, call in top)})")
        if syscalls:
            print(f"syscalls per request proxy/nginx: "
                  f"{syscalls['proxy'].total / syscalls['proxy'].requests / (syscalls['nginx'].total / syscalls['nginx'].requests):.2f}")
        nginx, proxy_result = results["nginx"], results["proxy"]
        print(f"data plane: {args.data_plane}, workers: {args.workers}")
        print(f"CPU per request proxy/nginx: {cpu['proxy'] / cpu['nginx']:.2f}")
        print(f"p99 ratio proxy/nginx: {proxy_result.p99_ms / nginx.p99_ms:.2f}")
        print(f"proxy/nginx rps ratio: {proxy_result.rps / nginx.rps:.2f}")
    finally:
        for process in reversed(processes):
            process.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
