"""Command line of the reference gateway proxy (DESIGN.md section 5 contract).

    python -m gateway_proxy --config-dir DIR --listen HOST:PORT --admin HOST:PORT [--workers N]
                            [--listen-tls HOST:PORT]

``--listen`` serves every listener in plain HTTP (a listener's port is logical). ``--listen-tls``
additionally terminates TLS for the HTTPS listeners, choosing the certificate by SNI.

With ``--workers 1`` one process serves data and admin. With more, each worker process binds
the listen address with SO_REUSEPORT and the kernel spreads connections; the parent serves the
admin endpoints, aggregating the workers' metrics through prometheus_client's multiprocess
mode. That mode is chosen by an environment variable read when prometheus_client is imported,
which is why the imports below happen only after the arguments are parsed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import tempfile

logger = logging.getLogger("gateway_proxy")


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gateway-proxy", description="Gateway API HTTPRoute reference proxy")
    parser.add_argument("--config-dir", help="directory of *.yaml/*.yml Gateway API objects (standalone mode)")
    parser.add_argument("--kubernetes", action="store_true",
                        help="watch the Kubernetes API and write Gateway API status instead of reading --config-dir")
    parser.add_argument("--kubeconfig", default=None,
                        help="kubeconfig for --kubernetes (default: in-cluster in a Pod, else $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--controller-name", default="routeshift.dev/gateway-proxy",
                        help="serve Gateways whose GatewayClass has this controllerName (--kubernetes)")
    parser.add_argument("--listen", required=True, type=_address, help="HOST:PORT serving every listener")
    parser.add_argument("--admin", required=True, type=_address, help="HOST:PORT of /ready, /metrics, /config")
    parser.add_argument("--listen-tls", type=_address, default=None,
                        help="HOST:PORT terminating TLS for HTTPS listeners (certificates from their Secrets)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes sharing --listen (SO_REUSEPORT)")
    parser.add_argument("--header-timeout", type=float, default=10.0, help="seconds a client has to send a head")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if not args.kubernetes and not args.config_dir:
        parser.error("--config-dir is required unless --kubernetes is given")
    return args


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        logger.info("gateway_proxy: uvloop missing, using the asyncio default loop")
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _stop_on_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)


async def _run(args: argparse.Namespace, serve_data: bool, serve_admin: bool, metrics_text=None) -> None:
    from gateway_proxy import admin, serving

    loop = asyncio.get_running_loop()
    runtime = serving.Runtime(loop, header_timeout=args.header_timeout)
    stop = asyncio.Event()
    _stop_on_signals(loop, stop)
    if args.kubernetes:
        from gateway_proxy import kube_mode

        # With --workers N every process watches the API; only the admin process writes status.
        loaded = asyncio.Event()
        poller = loop.create_task(kube_mode.run_kubernetes(
            runtime, kubeconfig=args.kubeconfig, stop=stop, controller_name=args.controller_name,
            write_status=serve_admin, ready=loaded))
    else:
        reloader = serving.Reloader(runtime, args.config_dir)
        await reloader.reload(force=True)
        poller = loop.create_task(reloader.run())
    servers = []
    runner = None
    if serve_admin:
        runner = await admin.start(runtime, args.admin[0], args.admin[1], metrics_text)
    if args.kubernetes:
        # As with the first reload above, the first table is in before the data sockets open;
        # meanwhile /ready answers 503 and /config shows why (e.g. the API is unreachable).
        waiters = [loop.create_task(loaded.wait()), loop.create_task(stop.wait())]
        await asyncio.wait([*waiters, poller], return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
        if poller.done():
            poller.result()  # a kubeconfig that cannot be loaded ends the process here
    # Everything alive now (modules, the first table) lives as long as the process: keep it out
    # of full collections, which otherwise pause a reload by ~100 ms at 1,000 routes.
    gc.freeze()
    if serve_data:
        sock = serving.listen_socket(args.listen[0], args.listen[1], reuse_port=args.workers > 1)
        servers.append(await serving.serve(runtime, sock))
        if args.listen_tls is not None:
            tls_sock = serving.listen_socket(args.listen_tls[0], args.listen_tls[1], reuse_port=args.workers > 1)
            servers.append(await serving.serve(runtime, tls_sock, terminate_tls=True))
    logger.info("gateway_proxy: serving %s (data=%s admin=%s, pid %d)", args.listen, serve_data, serve_admin,
                os.getpid())
    try:
        await stop.wait()
    finally:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        for server in servers:
            server.close()
        runtime.pool.close()
        if runner is not None:
            await runner.cleanup()


def _worker(args: argparse.Namespace) -> None:
    loop = _new_loop()
    try:
        loop.run_until_complete(_run(args, serve_data=True, serve_admin=False))
    finally:
        loop.close()


def _supervise(args: argparse.Namespace) -> int:
    """Fork the workers, then serve admin here with the workers' metrics aggregated."""
    children = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _worker(args)
            except BaseException:  # the child must never return into the parent's code path
                logger.exception("gateway_proxy: worker failed")
                code = 1
            os._exit(code)
        children.append(pid)

    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    def metrics_text() -> bytes:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)

    loop = _new_loop()
    try:
        loop.run_until_complete(_run(args, serve_data=False, serve_admin=True, metrics_text=metrics_text))
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        loop.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    if args.workers > 1:
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="gateway-proxy-metrics-"))
        return _supervise(args)
    loop = _new_loop()
    try:
        loop.run_until_complete(_run(args, serve_data=True, serve_admin=True))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
