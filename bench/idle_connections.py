"""Memory per idle keep-alive client connection of the proxy, against nginx configured alike.

    python bench/idle_connections.py [--connections 10000] [--hold 5] [--data-plane c|asyncio]

Both fronts proxy ``/api`` to the same nginx backend with one worker each (the proxy's
``--workers 1``, nginx ``worker_processes 1``). For each front in turn, the bench opens
``--connections`` keep-alive connections, sends one request on each and reads its answer, then
leaves them all idle for ``--hold`` seconds and reads the resident memory (VmRSS, /proc) of the
front's process tree against what it was before the first connection: the difference over N is
the memory per idle connection. The kernel's TCP socket memory (``mem`` in /proc/net/sockstat,
pages, for the whole machine: both ends of every loopback connection) is read the same way.
Then one more request on each connection: the bench reports how many were still open and
answered 200. Issue 13's target is under 8 KiB per connection with 10,000 held.

The soft limit of open files (``RLIMIT_NOFILE``) is raised to the hard one for the bench and the
processes it starts. An idle client connection is closed by the proxy after ``--header-timeout``
(10 s by default) and by nginx after ``keepalive_timeout`` (75 s); both are set to 300 s here so
that connections opened first are not closed while the last ones open.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import proxy_bench_common as common  # noqa: E402

IDLE_TIMEOUT = 300
OPENING_AT_ONCE = 200
REQUEST = b"GET /api/items HTTP/1.1\r\nHost: bench.example.com\r\n\r\n"


def nginx_front_block(port: int, backend: int) -> str:
    return f"""  upstream app {{
    server 127.0.0.1:{backend};
    keepalive 64;
  }}
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    keepalive_timeout {IDLE_TIMEOUT}s;
    location /api {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }}
    location / {{ return 404; }}
  }}"""


def rss_kib(root: int) -> int:
    """VmRSS of ``root``'s process tree, in KiB."""
    total = 0
    for pid in common.process_tree(root):
        try:
            with open(f"/proc/{pid}/status") as handle:
                total += int(re.search(r"VmRSS:\s+(\d+) kB", handle.read()).group(1))
        except (OSError, AttributeError):
            continue
    return total


def tcp_socket_kib() -> int:
    """The kernel's memory of every TCP socket on the machine (/proc/net/sockstat ``mem``, pages)."""
    with open("/proc/net/sockstat") as handle:
        pages = int(re.search(r"TCP:.*\bmem (\d+)", handle.read()).group(1))
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def raise_open_files(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            return needed
        except (ValueError, OSError):
            raise SystemExit(f"{needed} open files needed, the hard limit is {hard} (run as root or lower --connections)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    """One request on a keep-alive connection; its status, or 0 when the connection failed."""
    writer.write(REQUEST)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if length is None:
        return 0  # both fronts answer with a Content-Length here
    await reader.readexactly(int(length.group(1)))
    return int(head.split(b" ", 2)[1])


async def open_one(port: int):
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=16384)
    status = await exchange(reader, writer)
    if status != 200:
        raise RuntimeError(f"first request answered {status}")
    return reader, writer


async def again(connection) -> bool:
    try:
        return await asyncio.wait_for(exchange(*connection), 30) == 200
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError):
        return False


async def measure(name: str, port: int, root: int, count: int, hold: float) -> dict:
    warm = [await open_one(port) for _ in range(4)]  # pools, caches, lazily built tables; held to the end
    rss_before, sockets_before = rss_kib(root), tcp_socket_kib()
    connections = []
    started = time.perf_counter()
    for start in range(0, count, OPENING_AT_ONCE):
        connections += await asyncio.gather(*(open_one(port) for _ in range(min(OPENING_AT_ONCE, count - start))))
    opened = time.perf_counter() - started
    await asyncio.sleep(hold)  # the connections stay idle for this long: what is measured is idleness
    rss_after, sockets_after = rss_kib(root), tcp_socket_kib()
    answered = 0
    for start in range(0, count, OPENING_AT_ONCE):
        answered += sum(await asyncio.gather(*(again(c) for c in connections[start:start + OPENING_AT_ONCE])))
    for _, writer in connections + warm:
        writer.close()
    return {"name": name, "opened_s": opened, "rss_before": rss_before, "rss_after": rss_after,
            "per_connection": (rss_after - rss_before) / count,
            "sockets_per_connection": (sockets_after - sockets_before) / count, "answered": answered}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--hold", type=float, default=5.0, help="seconds the connections stay idle before measuring")
    parser.add_argument("--data-plane", choices=("asyncio", "c"), default="c",
                        help="the proxy's data plane (its --data-plane)")
    args = parser.parse_args(argv)
    limit = raise_open_files(args.connections + 512)
    os.environ["ROUTESHIFT_DATA_PLANE"] = args.data_plane  # read by the proxy's --data-plane default
    common.ensure_tools()
    work = common.workdir("bench-idle-connections-")
    backend, nginx_port = common.free_port(), common.free_port()
    config_dir = os.path.join(work, "config")
    os.makedirs(config_dir)
    common.write_config(config_dir, "bench.yaml", common.proxy_config([(backend, 1)]))
    processes = []
    results = []
    try:
        processes.append(common.Nginx(work, "backends", common.backends_block([backend])))
        front = common.Nginx(work, "front", nginx_front_block(nginx_port, backend),
                             worker_connections=args.connections + 1024)
        processes.append(front)
        proxy = common.GatewayProxy(work, config_dir, workers=1,
                                    extra_args=("--header-timeout", str(IDLE_TIMEOUT)))
        processes.append(proxy)
        for port in (backend, nginx_port):
            common.wait_port(port)
        proxy.wait_ready()
        for name, port, process in (("nginx", nginx_port, front), ("proxy", proxy.port, proxy)):
            results.append(asyncio.run(measure(name, port, process.popen.pid, args.connections, args.hold)))
    finally:
        for process in reversed(processes):
            process.stop()
    print(f"{args.connections} idle keep-alive connections held {args.hold:.0f} s, data plane {args.data_plane}, "
          f"1 worker each, open files limit {limit}")
    for r in results:
        print(f"{r['name']:6s} RSS {r['rss_before'] / 1024:7.1f} -> {r['rss_after'] / 1024:7.1f} MiB   "
              f"{r['per_connection']:5.2f} KiB/connection   kernel TCP memory {r['sockets_per_connection']:5.2f} KiB/connection"
              f"   answered again {r['answered']}/{args.connections}   opened in {r['opened_s']:.1f} s")
    nginx, proxy_result = results
    print(f"idle connection memory proxy {proxy_result['per_connection']:.2f} KiB, nginx {nginx['per_connection']:.2f} KiB"
          f" (target < 8 KiB); all answered: proxy {proxy_result['answered'] == args.connections},"
          f" nginx {nginx['answered'] == args.connections}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
