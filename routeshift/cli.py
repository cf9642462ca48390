"""The ``routeshift`` command: one entry point for the controller, the demo and the API emulator.

Each subcommand imports its package only when chosen, so ``routeshift api-server`` starts
without loading kopf and ``routeshift controller`` without loading the emulator.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from routeshift import __version__


def _api_server(args: argparse.Namespace) -> int:
    from routeshift.emulator import standalone

    standalone.run(port=args.port, kubeconfig=Path(args.kubeconfig),
                   workloads_settings=standalone.workload_settings(args))
    return 0


def _controller(args: argparse.Namespace) -> int:
    from rollouts import operator

    return operator.main(args.options) or 0


def _demo(args: argparse.Namespace) -> int:
    from routeshift import demo

    return demo.main(args.options)


def _loadtester(args: argparse.Namespace) -> int:
    from routeshift.loadtester import cli

    return cli.main(args.options)


def _version(args: argparse.Namespace) -> int:
    print(f"routeshift {__version__}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="routeshift", description="Routeshift: progressive delivery for the Kubernetes Gateway API.")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    # controller and demo parse their own options (see `routeshift demo --help`).
    controller = commands.add_parser(
        "controller", help="run the Canary controller (kopf operator) against KUBECONFIG or in-cluster",
        add_help=False)
    controller.set_defaults(handler=_controller, passes_options=True)

    demo = commands.add_parser("demo", help="run the whole stack on this machine and show a rollout",
                               add_help=False)
    demo.set_defaults(handler=_demo, passes_options=True)

    loadtester = commands.add_parser(
        "loadtester", help="serve the load-testing webhook (see `routeshift loadtester --help`)", add_help=False)
    loadtester.set_defaults(handler=_loadtester, passes_options=True)

    api_server = commands.add_parser(
        "api-server", help="serve the in-memory Kubernetes API emulator on 127.0.0.1 until SIGTERM/SIGINT")
    api_server.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1 (0 picks a free one)")
    api_server.add_argument("--kubeconfig", required=True, help="where to write a kubeconfig pointing at it")
    from routeshift.emulator import standalone  # its options: workload controllers, kubelet, image faults

    standalone.add_arguments(api_server)
    api_server.set_defaults(handler=_api_server)

    version = commands.add_parser("version", help="print the version")
    version.set_defaults(handler=_version)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and not getattr(args, "passes_options", False):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.options = rest
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # One line per HTTP request drowns the controller's own decisions in its log.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
