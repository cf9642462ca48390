"""Throughput and latency of the gateway proxy against nginx configured the same way.

    python bench/proxy_vs_nginx.py [--seconds 10] [--connections 32] [--workers 1]

Both proxies front the same two nginx backends with a 9:1 weighted split, keep-alive upstream
connections, and a PathPrefix route; wrk drives each in turn in the same run on loopback.
The proxy runs with routing and metrics on, as in production. The last line is the ratio.
"""

from __future__ import annotations

import argparse
import os
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="proxy workers and nginx worker_processes")
    args = parser.parse_args(argv)
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
        for name, port in (("nginx", nginx_port), ("proxy", proxy.port)):
            url = f"http://127.0.0.1:{port}/api/items"
            common.wrk(url, 2, args.connections)  # warm-up: connections, pools, caches
            results[name] = common.wrk(url, args.seconds, args.connections)
        for name, result in results.items():
            print(f"{name:6s} rps {result.rps:10.0f}   p50 {result.p50_ms:7.2f} ms   p99 {result.p99_ms:7.2f} ms"
                  f"   non-2xx {result.non_2xx}")
        nginx, proxy_result = results["nginx"], results["proxy"]
        print(f"p99 ratio proxy/nginx: {proxy_result.p99_ms / nginx.p99_ms:.2f}")
        print(f"proxy/nginx rps ratio: {proxy_result.rps / nginx.rps:.2f}")
    finally:
        for process in reversed(processes):
            process.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
