"""Errors seen by clients while the route file is rewritten under load: the hot reload's cost.

    python bench/reload_under_load.py [--seconds 10] [--connections 32] [--interval 0.1]
                                      [--variant weights|rules|both] [--data-plane asyncio|c]

Two nginx backends behind one route; wrk drives the proxy with keep-alive connections for
``--seconds`` while a thread of the bench rewrites the route file (atomic rename) every
``--interval`` seconds. ``weights`` alternates the route's weights between 9:1 and 1:9 (with
``--data-plane c`` the C loop takes most of these in place); ``rules`` alternates the route
between one rule and two (a second PathPrefix rule added, then removed), so every write is a new
table. Printed per variant: wrk's requests, non-2xx answers and socket errors (connect, read,
write, timeout), the number of files written, and the reloads the proxy reported in its log
(``config loaded``; ``updated in place`` for the C loop; with ``--workers N`` the main process and
each worker log their own, so N + 1 per write). Issue 13's target: zero non-2xx and
zero socket errors with a rewrite every 100 ms for 10 s. The last line sums them.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import proxy_bench_common as common  # noqa: E402


def route_versions(route: dict, variant: str) -> list[dict]:
    """The two contents the route file alternates between."""
    first, second = copy.deepcopy(route), copy.deepcopy(route)
    if variant == "weights":
        for document, weights in ((first, (9, 1)), (second, (1, 9))):
            for ref, weight in zip(document["spec"]["rules"][0]["backendRefs"], weights):
                ref["weight"] = weight
    else:
        extra = {"matches": [{"path": {"type": "PathPrefix", "value": "/extra"}}],
                 "backendRefs": [{"name": "backend-1", "port": 80}]}
        second["spec"]["rules"].append(extra)
    return [first, second]


def log_count(path: str, text: str) -> int:
    with open(path, errors="replace") as handle:
        return sum(text in line for line in handle)


class Rewriter(threading.Thread):
    """Writes the route file every ``interval`` seconds (atomic rename), alternating ``versions``."""

    def __init__(self, config_dir: str, versions: list[dict], interval: float):
        super().__init__(daemon=True)
        self.config_dir, self.versions, self.interval = config_dir, versions, interval
        self.stopping = threading.Event()
        self.written = 0

    def run(self) -> None:
        started = time.monotonic()
        while not self.stopping.wait(max(0.0, started + (self.written + 1) * self.interval - time.monotonic())):
            common.write_config(self.config_dir, "route.yaml", [self.versions[(self.written + 1) % 2]])
            self.written += 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between two writes of the route file")
    parser.add_argument("--variant", choices=("weights", "rules", "both"), default="both")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--data-plane", choices=("asyncio", "c"), default="c",
                        help="the proxy's data plane (its --data-plane)")
    args = parser.parse_args(argv)
    os.environ["ROUTESHIFT_DATA_PLANE"] = args.data_plane  # read by the proxy's --data-plane default
    common.ensure_tools()
    work = common.workdir("bench-reload-under-load-")
    ports = [common.free_port(), common.free_port()]
    config_dir = os.path.join(work, "config")
    os.makedirs(config_dir)
    documents = common.proxy_config([(ports[0], 9), (ports[1], 1)])
    infra, route = documents[:5], documents[5]
    common.write_config(config_dir, "infra.yaml", infra)
    common.write_config(config_dir, "route.yaml", [route])
    variants = ("weights", "rules") if args.variant == "both" else (args.variant,)
    processes = []
    rows = []
    try:
        processes.append(common.Nginx(work, "backends", common.backends_block(ports)))
        for port in ports:
            common.wait_port(port)
        proxy = common.GatewayProxy(work, config_dir, workers=args.workers, log_level="INFO")
        processes.append(proxy)
        proxy.wait_ready()
        common.wait_port(proxy.port)  # with --workers N, the workers listen after the main process is ready
        url = f"http://127.0.0.1:{proxy.port}/api/items"
        common.wrk(url, 1, args.connections)  # warm-up: connections and pools
        for variant in variants:
            versions = route_versions(route, variant)
            loaded, in_place = log_count(proxy.log.name, "config loaded"), log_count(proxy.log.name, "updated in place")
            common.write_config(config_dir, "route.yaml", [versions[0]])  # counted with the rewriter's writes
            rewriter = Rewriter(config_dir, versions, args.interval)
            rewriter.start()
            try:
                result = common.wrk(url, args.seconds, args.connections)
            finally:
                rewriter.stopping.set()
                rewriter.join()
            rows.append((variant, result, rewriter.written + 1,
                         log_count(proxy.log.name, "config loaded") - loaded,
                         log_count(proxy.log.name, "updated in place") - in_place))
    finally:
        for process in reversed(processes):
            process.stop()
    print(f"data plane {args.data_plane}, workers {args.workers}, {args.connections} keep-alive connections, "
          f"{args.seconds} s, a write every {args.interval * 1000:.0f} ms")
    for variant, result, written, loaded, in_place in rows:
        errors = result.socket_errors
        print(f"{variant:8s} requests {result.rps * args.seconds:9.0f}   rps {result.rps:8.0f}   p99 {result.p99_ms:7.2f} ms"
              f"   non-2xx {result.non_2xx}   socket errors connect {errors['connect']}, read {errors['read']},"
              f" write {errors['write']}, timeout {errors['timeout']}   files written {written}"
              f"   reloads logged {loaded}" + (f" (in place {in_place})" if args.data_plane == "c" else ""))
    failures = sum(result.non_2xx + sum(result.socket_errors.values()) for _, result, *_ in rows)
    print(f"reload under load: {failures} non-2xx answers and socket errors over {len(rows)} variant(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
