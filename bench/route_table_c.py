"""Per-request routing cost of the C route table against the compiled hot path, 10 vs 10,000 rules.

    python bench/route_table_c.py [--rules 10000] [--iterations 2000000]

The table is the one ``route_scaling.py`` serves (one weighted route on /api plus filler rules
with their own prefixes); the request is ``GET /api/items/42``. Printed per request, in ns:
the C table's whole decision (route, weighted pick, endpoint) run in a C loop, and the compiled
hot path's ``route`` + ``pick_backend`` called from Python as the asyncio data path calls them.
Figures only: on a shared machine compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import proxy_bench_common as common  # noqa: E402

from gateway_proxy import compiling, hotpath, loading  # noqa: E402
from gateway_proxy.attachment import Config  # noqa: E402
from gateway_proxy.dataplane import table as route_table  # noqa: E402

PATH, HOST = "/api/items/42", "127.0.0.1:8080"
HEADERS = [("Host", HOST), ("User-Agent", "wrk"), ("Accept", "*/*")]


def compile_rules(rules: int):
    documents = common.proxy_config([(8081, 9), (8082, 1)], extra_rules=rules - 1)
    objects = [loading.resources.parse(document, f"doc#{n}") for n, document in enumerate(documents)]
    compiled = compiling.compile_config(Config.of([o for o in objects if o is not None]), hotpath.impl)
    assert compiled.rule_count == rules, compiled.rule_count
    return compiled


def c_table_ns(compiled, iterations: int) -> float:
    c_table = route_table.RouteTable(compiled.table, compiled.tls_table)
    source = route_table.RandomSource(1)
    assert c_table.repeat(1, source, "GET", PATH, "", HOST, HEADERS) == 0
    started = time.perf_counter_ns()
    c_table.repeat(iterations, source, "GET", PATH, "", HOST, HEADERS)
    return (time.perf_counter_ns() - started) / iterations


def hotpath_ns(compiled, iterations: int) -> float:
    impl = hotpath.impl
    route, pick, draw = impl.route, impl.pick_backend, random.random
    table, host = compiled.table, impl.normalize_host(HOST)
    headers = impl.index_headers([(n.encode(), v.encode()) for n, v in HEADERS])
    started = time.perf_counter_ns()
    for _ in range(iterations):
        pick(route(table, host, "GET", PATH, "", headers).rule, draw()).next_endpoint()
    return (time.perf_counter_ns() - started) / iterations


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--iterations", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    if hotpath.compiled() is None:
        print("note: the compiled hot path is not built; the comparison is against the pure one")
    started = time.perf_counter()
    worlds = {10: compile_rules(10), args.rules: compile_rules(args.rules)}
    build = time.perf_counter()
    route_table.RouteTable(worlds[args.rules].table, worlds[args.rules].tls_table)
    print(f"C table built from {args.rules} compiled rules in {(time.perf_counter() - build) * 1000:.0f} ms "
          f"(compiling both tables took {(build - started):.1f} s)")
    python_iterations = max(args.iterations // 20, 1000)
    for rules, compiled in worlds.items():
        c_ns = statistics.median(c_table_ns(compiled, args.iterations) for _ in range(args.rounds))
        py_ns = statistics.median(hotpath_ns(compiled, python_iterations) for _ in range(args.rounds))
        print(f"{rules:>6} rules: C table {c_ns:7.1f} ns/request   compiled hot path ({hotpath.impl.__name__}) "
              f"{py_ns:7.1f} ns/request   ratio {py_ns / c_ns:5.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
