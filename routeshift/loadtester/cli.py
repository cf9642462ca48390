"""``routeshift loadtester``: options, bounds and the allow-list, then serve until SIGTERM.

Every bound has a default that keeps one loadtester from overwhelming a small service by
accident; the allow-list has none: without ``--allow-target`` the command refuses to start,
because a loadtester allowed to target anything is a tool for hitting anything.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from analysis import durations
from routeshift.loadtester import allowlist, server, spec

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    defaults = spec.Limits()
    parser = argparse.ArgumentParser(
        prog="routeshift loadtester",
        description="Generate HTTP load when a Canary's webhook asks for it (see docs/load-testing.md).")
    parser.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT",
                        help="address of the webhook, /healthz and /metrics (default: %(default)s)")
    parser.add_argument("--allow-target", action="append", default=[], required=True, metavar="CIDR|NAME|*.SUFFIX",
                        help="a network, host name or name suffix the load may target (repeat); required")
    parser.add_argument("--max-rate", type=float, default=defaults.max_rate,
                        help="requests per second of one run (default: %(default)g)")
    parser.add_argument("--max-concurrency", type=int, default=defaults.max_concurrency,
                        help="requests in flight of one run (default: %(default)d)")
    parser.add_argument("--max-duration", default=durations.format_duration(defaults.max_duration),
                        help="length of one run (default: %(default)s)")
    parser.add_argument("--max-request-timeout", default=durations.format_duration(defaults.max_timeout),
                        help="timeout of one request (default: %(default)s)")
    parser.add_argument("--max-generators", type=int, default=server.Settings.max_running,
                        help="runs in progress at once (default: %(default)d)")
    parser.add_argument("--secret-file", type=Path, default=None,
                        help="HMAC key file: hook calls must carry a valid X-Routeshift-Signature")
    return parser


def settings_from(args: argparse.Namespace, parser: argparse.ArgumentParser) -> server.Settings:
    try:
        allow = allowlist.AllowList.parse(args.allow_target)
        limits = spec.Limits(max_rate=args.max_rate, max_concurrency=args.max_concurrency,
                             max_duration=durations.seconds(args.max_duration),
                             max_timeout=durations.seconds(args.max_request_timeout))
    except ValueError as error:
        parser.error(str(error))
    if limits.max_rate <= 0 or limits.max_concurrency < 1 or args.max_generators < 1:
        parser.error("--max-rate, --max-concurrency and --max-generators must be positive")
    secret = None
    if args.secret_file is not None:
        try:
            secret = args.secret_file.read_bytes().rstrip(b"\r\n")
        except OSError as error:
            parser.error(f"--secret-file: {error}")
        if not secret:
            parser.error(f"--secret-file {args.secret_file} is empty")
    return server.Settings(allow=allow, limits=limits, max_running=args.max_generators, secret=secret)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = settings_from(args, parser)
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"--listen {args.listen!r} is not HOST:PORT")
    logger.info("loadtester on %s; targets allowed: %s; per run at most %g req/s, %d in flight, %gs; %s",
                args.listen, settings.allow.describe(), settings.limits.max_rate, settings.limits.max_concurrency,
                settings.limits.max_duration, "signed calls only" if settings.secret else "unsigned calls accepted")
    web.run_app(server.build_app(settings), host=host.strip("[]"), port=int(port), print=None, access_log=None)
    return 0
