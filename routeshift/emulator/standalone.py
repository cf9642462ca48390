"""``routeshift api-server``: the emulator as a process, for the demo and manual kubectl use.

Serves on 127.0.0.1:PORT, writes a kubeconfig that points at it (plain HTTP, an empty user,
a current context), and runs until SIGTERM or SIGINT, then stops its watches, its workload
controllers (killing every container process the kubelet started) and its server, and
returns, so the caller exits 0. The workload options are here as argparse arguments
(:func:`add_arguments`, :func:`workload_settings`) for any command line that serves it;
``python -m routeshift.emulator.standalone`` is one.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import pathlib
import signal
from collections.abc import Sequence
from typing import Any

import uvloop

from routeshift.emulator import serving, workloads

logger = logging.getLogger(__name__)


async def _serve_until_signalled(port: int, kubeconfig: pathlib.Path,
                                 settings: workloads.WorkloadSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with serving.serve("127.0.0.1", port, workloads=settings) as running:
            running.write_kubeconfig(kubeconfig)
            logger.info("Kubernetes API emulator serving on %s; kubeconfig: %s", running.url, kubeconfig)
            print(f"Kubernetes API emulator serving on {running.url}; kubeconfig: {kubeconfig}", flush=True)
            await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def run(port: int, kubeconfig: pathlib.Path,
        workloads_settings: workloads.WorkloadSettings | bool | dict[str, Any] | None = None) -> None:
    """Serve on 127.0.0.1:``port`` and write ``kubeconfig``; block until SIGTERM/SIGINT.

    On uvloop, as the controller: with hundreds of Canaries the emulator shares the machine with
    the controller it serves, and asyncio's own loop and transports were a quarter of its CPU.
    """
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve_until_signalled(port, pathlib.Path(kubeconfig), workloads.coerce(workloads_settings)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The workload options: ``--no-workloads``, ``--restart-backoff``, ``--image-fault`` …"""
    group = parser.add_argument_group("workload controllers and local kubelet")
    group.add_argument("--no-workloads", action="store_true",
                       help="serve the bare API: no Deployment/ReplicaSet/EndpointSlice controllers, no kubelet")
    group.add_argument("--restart-backoff", type=float, default=10.0, metavar="SECONDS",
                       help="first crash-loop back-off; doubles up to --restart-backoff-cap (default 10)")
    group.add_argument("--restart-backoff-cap", type=float, default=300.0, metavar="SECONDS")
    group.add_argument("--termination-grace-cap", type=float, default=5.0, metavar="SECONDS",
                       help="longest a Pod's containers get between SIGTERM and SIGKILL (default 5)")
    group.add_argument("--kubelet-logs", type=pathlib.Path, default=None, metavar="DIR",
                       help="keep the containers' output here (default: a temporary directory)")
    group.add_argument("--image-fault", action="append", default=[], metavar="IMAGE:TAG=ERROR_RATE[,LATENCY_MS]",
                       help="give a demo-app tag faults, e.g. ghcr.io/routeshift/demo-app:v3=0.05")


def workload_settings(args: argparse.Namespace) -> workloads.WorkloadSettings:
    faults = {}
    for entry in args.image_fault:
        image, _, values = entry.rpartition("=")
        rate, _, latency = values.partition(",")
        faults[image] = workloads.Image(error_rate=float(rate or 0), latency_ms=float(latency) if latency else None)
    return workloads.WorkloadSettings(
        enabled=not args.no_workloads, restart_backoff=args.restart_backoff,
        restart_backoff_cap=args.restart_backoff_cap, termination_grace_cap=args.termination_grace_cap,
        log_dir=args.kubelet_logs, images=faults)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m routeshift.emulator.standalone",
                                     description="Serve the Kubernetes API emulator on 127.0.0.1.")
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--kubeconfig", required=True, help="where to write a kubeconfig pointing at it")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run(args.port, pathlib.Path(args.kubeconfig), workload_settings(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
