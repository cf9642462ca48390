"""Routing cost as rules grow, and how long a reload of 10,000 rules takes.

    python bench/route_scaling.py [--seconds 5] [--rounds 3] [--rules 10000] [--reload-only] [--data-plane asyncio|c]

Part 1 serves the same weighted route with 10 and with 10,000 HTTPRoute rules attached to the
listener (the request matches neither first nor last: filler rules have their own prefixes) and
compares wrk throughput, alternating the two for several rounds (medians reported). Part 2
times, in this process, what a reload does with 10,000 rules: parse the directory and compile
the table, cold (every file) and incremental (one of 100 route files changed, the usual edit),
and how long the parse alone and the compile alone take. ``--reload-only`` runs part 2 alone
(no nginx or wrk needed); on a shared machine, compare medians of several runs.

``--data-plane c`` serves part 1 with the C event loop (issue 13) and adds to part 2 what the C
data plane does on a reload: build its route table (``dataplane.table.RouteTable``) on a cold
reload, and on the one-file edit (a weight change) decide that only weights changed
(``dataplane.weight_changes``), which lets it update the loop's table in place instead.

Part 2 times the pieces as the proxy runs them, with full garbage collections held off
(``gateway_proxy.gc_pause``), and then the proxy's own cold reload end to end: its reloader
(``serving.Reloader``) reading the directory into a runtime that serves a loopback socket with the
chosen data plane, until the new table serves (for the C loop: until its thread took the table).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import proxy_bench_common as common  # noqa: E402

from gateway_proxy import compiling, gc_pause, hotpath, loading, serving  # noqa: E402


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


def reload_times(work: str, backend_port: int, rules: int, data_plane: str = "asyncio") -> dict[str, float]:
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
    c_table = weight_changes = None
    if data_plane == "c":
        from gateway_proxy.dataplane import table as c_table, weight_changes
    cold, parse, c_cold, c_build = [], [], [], []
    for _ in range(5):
        loader = loading.DirectoryLoader(config_dir)
        with gc_pause.paused():  # as serving.Reloader.reload runs them
            started = time.perf_counter()
            config = loader.load()
            parsed = time.perf_counter()
            compiled = compiling.compile_config(config, hotpath.impl)
            cold.append(time.perf_counter() - started)
            parse.append(parsed - started)
            if c_table is not None:
                built = time.perf_counter()
                c_table.RouteTable(compiled.table, compiled.tls_table)
                c_build.append(time.perf_counter() - built)
                c_cold.append(time.perf_counter() - started)
    assert compiled.rule_count == rules, compiled.rule_count
    compile_only = []
    for _ in range(5):
        with gc_pause.paused():
            started = time.perf_counter()
            compiling.compile_config(config, hotpath.impl)
            compile_only.append(time.perf_counter() - started)
    cache = compiling.CompileCache()  # as the proxy's reloader keeps one
    previous = compiling.compile_config(config, hotpath.impl, cache)
    incremental, detect = [], []
    for round_ in range(5):
        name, docs = files[round_ % len(files)]
        docs[0]["spec"]["rules"][0]["backendRefs"][0]["weight"] = round_ + 2
        common.write_config(config_dir, name, docs)
        started = time.perf_counter()
        config = loader.load()
        current = compiling.compile_config(config, hotpath.impl, cache)
        incremental.append(time.perf_counter() - started)
        if weight_changes is not None:
            started = time.perf_counter()
            assert weight_changes.weights_only(previous, current) is not None, "a weight edit must update in place"
            detect.append(time.perf_counter() - started)
        previous = current
    # The directory as the edits above left it: the same rules, weights aside.
    proxy = [proxy_reload(config_dir, data_plane) for _ in range(5)]
    times = {"cold": statistics.median(cold), "incremental": statistics.median(incremental),
             "parse": statistics.median(parse), "compile": statistics.median(compile_only),
             "proxy": statistics.median(proxy)}
    if c_table is not None:
        times.update({"c_cold": statistics.median(c_cold), "c_table": statistics.median(c_build),
                      "weights_only": statistics.median(detect)})
    return times


def proxy_reload(config_dir: str, data_plane: str) -> float:
    """Seconds of the proxy's own cold reload of ``config_dir``: its reloader, from the first look
    at the directory until the runtime serves the new table on a loopback socket (with the C data
    plane, until the loop's thread took it)."""
    async def cold_reload() -> float:
        runtime = serving.Runtime(asyncio.get_running_loop(), data_plane=data_plane)
        sock = serving.listen_socket("127.0.0.1", 0, reuse_port=False)
        server = await serving.serve(runtime, sock)
        try:
            reloader = serving.Reloader(runtime, config_dir)
            started = time.perf_counter()
            assert await reloader.reload(force=True), reloader.runtime.errors
            return time.perf_counter() - started
        finally:
            server.close()
            await server.wait_closed()
            runtime.pool.close()
            runtime.grpc_pool.close()
            sock.close()
    return asyncio.run(cold_reload())


def print_reload_times(rules: int, times: dict[str, float]) -> None:
    print(f"reload {rules} rules, cold (parse every file + compile): {times['cold'] * 1000:.0f} ms")
    print(f"reload {rules} rules, one file of 100 changed:        {times['incremental'] * 1000:.0f} ms")
    print(f"parse {rules} rules alone (100 files, cold):           {times['parse'] * 1000:.0f} ms")
    print(f"compile {rules} rules alone:                          {times['compile'] * 1000:.0f} ms")
    if "c_cold" in times:
        print(f"reload {rules} rules, cold, with the C table:          {times['c_cold'] * 1000:.0f} ms")
        print(f"C route table of {rules} rules alone:                  {times['c_table'] * 1000:.0f} ms")
        print(f"weight edit: only-weights check (then in place):      {times['weights_only'] * 1000:.1f} ms")
    print(f"the proxy's own reload of {rules} rules, cold:          {times['proxy'] * 1000:.0f} ms")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--reload-only", action="store_true", help="run part 2 (reload times) alone")
    parser.add_argument("--data-plane", choices=("asyncio", "c"), default="asyncio",
                        help="the proxies' data plane (their --data-plane), and the C table in part 2")
    args = parser.parse_args(argv)
    os.environ["ROUTESHIFT_DATA_PLANE"] = args.data_plane  # read by the proxy's --data-plane default
    if args.reload_only:
        print_reload_times(args.rules, reload_times(common.workdir("bench-route-scaling-"), 8080, args.rules,
                                                    args.data_plane))
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
        times = reload_times(work, backend_ports[0], args.rules, args.data_plane)
    finally:
        for proxy in proxies.values():
            proxy.stop()
        backends.stop()
    build = "compiled" if hotpath.impl is not hotpath.PURE else "pure-python"
    print(f"hot path build: {build}, data plane: {args.data_plane}")
    print(f"10 rules      rps {small.rps:9.0f}  p50 {small.p50_ms:6.2f} ms  p99 {small.p99_ms:6.2f} ms")
    print(f"{args.rules} rules rps {large.rps:9.0f}  p50 {large.p50_ms:6.2f} ms  p99 {large.p99_ms:6.2f} ms")
    print(f"throughput {args.rules}/10 rules: {large.rps / small.rps:.3f}")
    print_reload_times(args.rules, times)
    return 0


if __name__ == "__main__":
    sys.exit(main())
