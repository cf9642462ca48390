"""How fast a weight change written to a route file is serving: p50/p99 over many flips.

    python bench/propagation.py [--rounds 50] [--filler-rules 0] [--data-plane asyncio|c]

Two nginx backends, one route whose weights flip between 100/0 and 0/100 by rewriting its
file (atomic rename, as editors and config tools do). After each write a keep-alive client
asks the proxy in a tight loop until the other backend answers; the time from the rename to
that answer is one sample. ``--filler-rules`` adds rules in another file (they are compiled on
every reload, so the sample includes the compile of the whole table). ``--data-plane c`` serves
with the C event loop (issue 13), where a weight flip updates the loop's table in place; the
last line says how many flips the proxy applied that way (from its log).

The bench keeps the documents it wrote (10,000 filler rules are some hundred thousand objects),
and a full collection of its own heap took 80 to 180 ms on the shared 2-core machine: landing
inside a sample, it was counted as propagation. They are frozen out of collection (``gc.freeze``)
before the first flip, so that a sample measures the proxy, not the bench.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import proxy_bench_common as common  # noqa: E402


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--filler-rules", type=int, default=0)
    parser.add_argument("--data-plane", choices=("asyncio", "c"), default="asyncio",
                        help="the proxy's data plane (its --data-plane)")
    args = parser.parse_args(argv)
    os.environ["ROUTESHIFT_DATA_PLANE"] = args.data_plane  # read by the proxy's --data-plane default
    common.ensure_tools()
    work = common.workdir("bench-propagation-")
    ports = [common.free_port(), common.free_port()]
    config_dir = os.path.join(work, "config")
    os.makedirs(config_dir)
    documents = common.proxy_config([(ports[0], 100), (ports[1], 0)], extra_rules=args.filler_rules)
    infra, route, filler = documents[:5], documents[5], documents[6:]
    common.write_config(config_dir, "infra.yaml", infra)
    if filler:
        common.write_config(config_dir, "filler.yaml", filler)
    common.write_config(config_dir, "route.yaml", [route])
    backends = common.Nginx(work, "backends", common.backends_block(ports))
    proxy = None
    samples = []
    try:
        for port in ports:
            common.wait_port(port)
        proxy = common.GatewayProxy(work, config_dir, log_level="INFO")
        proxy.wait_ready(60)
        client = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)

        def answering() -> bytes:
            client.request("GET", "/api/x", headers={"Host": "bench.example.com"})
            return client.getresponse().read()

        current = 0
        assert answering() == f"backend-{ports[current]}\n".encode()
        gc.freeze()
        for _ in range(args.rounds):
            target = 1 - current
            refs = route["spec"]["rules"][0]["backendRefs"]
            refs[target]["weight"], refs[current]["weight"] = 100, 0
            expected = f"backend-{ports[target]}\n".encode()
            common.write_config(config_dir, "route.yaml", [route])
            written = time.perf_counter()
            deadline = written + 10
            while answering() != expected:
                if time.perf_counter() > deadline:
                    raise SystemExit("the new weights were not serving within 10 s")
            samples.append(time.perf_counter() - written)
            current = target
        client.close()
    finally:
        if proxy is not None:
            proxy.stop()
        backends.stop()
    print(f"rounds {len(samples)}, filler rules {args.filler_rules}, data plane {args.data_plane}")
    print(f"propagation p50 {statistics.median(samples) * 1000:.1f} ms   p99 {percentile(samples, 0.99) * 1000:.1f} ms"
          f"   max {max(samples) * 1000:.1f} ms")
    if args.data_plane == "c":
        with open(proxy.log.name, errors="replace") as handle:
            in_place = sum("updated in place" in line for line in handle)
        print(f"flips applied in place by the C data plane: {in_place} of {len(samples)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
