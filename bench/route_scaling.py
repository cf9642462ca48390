"""Routing cost as rules grow, and how long a reload of 10,000 rules takes.

    python bench/route_scaling.py [--seconds 5] [--rounds 3] [--rules 10000] [--reload-only]

Part 1 serves the same weighted route with 10 and with 10,000 HTTPRoute rules attached to the
listener (the request matches neither first nor last: filler rules have their own prefixes) and
compares wrk throughput, alternating the two for several rounds (medians reported). Part 2
times, in this process, what a reload does with 10,000 rules: parse the directory and compile
the table, cold (every file) and incremental (one of 100 route files changed, the usual edit),
and how long the parse alone and the compile alone take. ``--reload-only`` runs part 2 alone
(no nginx or wrk needed); on a shared machine, compare medians of several runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import proxy_bench_common as common  # noqa: E402

from gateway_proxy import compiling, hotpath, loading  # noqa: E402


def start_proxy(work: str, backend_ports: list[int], rules: int) -> common.GatewayProxy:
    config_dir = os.path.join(work, f"config-{rules}")
    os.makedirs(config_dir)
    common.write_config(config_dir, "bench.yaml", common.proxy_config([(backend_ports[0], 9), (backend_ports[1], 1)],
                                                                      extra_rules=max(rules - 1, 0)))
    return common.GatewayProxy(work, config_dir)


def alternate(proxies: dict, seconds: int, connections: int, rounds: int) -> dict:
    """wrk against each proxy in turn, several rounds: a shared machine's noise hits both alike."""
    results: dict[str, list] = {name: [] for name in proxies}
    for name, proxy in proxies.items():
        common.wrk(f"http://127.0.0.1:{proxy.port}/api/items/42", 2, connections)  # warm-up
    for _ in range(rounds):
        for name, proxy in proxies.items():
            results[name].append(common.wrk(f"http://127.0.0.1:{proxy.port}/api/items/42", seconds, connections))
    return {name: common.WrkResult(statistics.median(r.rps for r in runs), statistics.median(r.p50_ms for r in runs),
                                   statistics.median(r.p99_ms for r in runs), sum(r.non_2xx for r in runs))
            for name, runs in results.items()}


def reload_times(work: str, backend_port: int, rules: int) -> dict[str, float]:
    config_dir = os.path.join(work, "reload")
    os.makedirs(config_dir)
    documents = common.proxy_config([(backend_port, 1)], extra_rules=rules - 1)
    infra, routes = documents[:3], documents[3:]
    common.write_config(config_dir, "infra.yaml", infra)
    per_file = max(len(routes) // 100, 1)
    files = []
    for index in range(0, len(routes), per_file):
        name = f"routes-{index // per_file:03d}.yaml"
        common.write_config(config_dir, name, routes[index:index + per_file])
        files.append((name, routes[index:index + per_file]))
    cold, parse = [], []
    for _ in range(5):
        loader = loading.DirectoryLoader(config_dir)
        started = time.perf_counter()
        config = loader.load()
        parsed = time.perf_counter()
        compiled = compiling.compile_config(config, hotpath.impl)
        cold.append(time.perf_counter() - started)
        parse.append(parsed - started)
    assert compiled.rule_count == rules, compiled.rule_count
    compile_only = []
    for _ in range(5):
        started = time.perf_counter()
        compiling.compile_config(config, hotpath.impl)
        compile_only.append(time.perf_counter() - started)
    cache = compiling.CompileCache()  # as the proxy's reloader keeps one
    compiling.compile_config(config, hotpath.impl, cache)
    incremental = []
    for round_ in range(5):
        name, docs = files[round_ % len(files)]
        docs[0]["spec"]["rules"][0]["backendRefs"][0]["weight"] = round_ + 2
        common.write_config(config_dir, name, docs)
        started = time.perf_counter()
        config = loader.load()
        compiling.compile_config(config, hotpath.impl, cache)
        incremental.append(time.perf_counter() - started)
    return {"cold": statistics.median(cold), "incremental": statistics.median(incremental),
            "parse": statistics.median(parse), "compile": statistics.median(compile_only)}


def print_reload_times(rules: int, times: dict[str, float]) -> None:
    print(f"reload {rules} rules, cold (parse every file + compile): {times['cold'] * 1000:.0f} ms")
    print(f"reload {rules} rules, one file of 100 changed:        {times['incremental'] * 1000:.0f} ms")
    print(f"parse {rules} rules alone (100 files, cold):           {times['parse'] * 1000:.0f} ms")
    print(f"compile {rules} rules alone:                          {times['compile'] * 1000:.0f} ms")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--reload-only", action="store_true", help="run part 2 (reload times) alone")
    args = parser.parse_args(argv)
    if args.reload_only:
        print_reload_times(args.rules, reload_times(common.workdir("bench-route-scaling-"), 8080, args.rules))
        return 0
    common.ensure_tools()
    work = common.workdir("bench-route-scaling-")
    backend_ports = [common.free_port(), common.free_port()]
    backends = common.Nginx(work, "backends", common.backends_block(backend_ports))
    proxies = {}
    try:
        for port in backend_ports:
            common.wait_port(port)
        proxies = {"small": start_proxy(work, backend_ports, 10), "large": start_proxy(work, backend_ports, args.rules)}
        for proxy in proxies.values():
            proxy.wait_ready(60)
        measured = alternate(proxies, args.seconds, args.connections, args.rounds)
        small, large = measured["small"], measured["large"]
        for proxy in proxies.values():
            proxy.stop()
        times = reload_times(work, backend_ports[0], args.rules)
    finally:
        for proxy in proxies.values():
            proxy.stop()
        backends.stop()
    build = "compiled" if hotpath.impl is not hotpath.PURE else "pure-python"
    print(f"hot path build: {build}")
    print(f"10 rules      rps {small.rps:9.0f}  p50 {small.p50_ms:6.2f} ms  p99 {small.p99_ms:6.2f} ms")
    print(f"{args.rules} rules rps {large.rps:9.0f}  p50 {large.p50_ms:6.2f} ms  p99 {large.p99_ms:6.2f} ms")
    print(f"throughput {args.rules}/10 rules: {large.rps / small.rps:.3f}")
    print_reload_times(args.rules, times)
    return 0


if __name__ == "__main__":
    sys.exit(main())
