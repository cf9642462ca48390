"""Command line of the reference gateway proxy (DESIGN.md section 5 contract).

    python -m gateway_proxy --config-dir DIR --listen HOST:PORT --admin HOST:PORT [--workers N]
                            [--listen-tls HOST:PORT] [--data-plane asyncio|c]
    python -m gateway_proxy --kubernetes --listen HOST:PORT --admin HOST:PORT [--workers N]
                            [--gateway-address IP|HOSTNAME ...] [--kubeconfig FILE]

``--listen`` serves every listener in plain HTTP (a listener's port is logical). ``--listen-tls``
additionally terminates TLS for the HTTPS listeners, choosing the certificate by SNI.
``--gateway-address`` is where clients reach the proxy (its Service or load balancer), published
in every Gateway's ``status.addresses``; without it, the ``--listen`` host is, unless it is a
wildcard such as 0.0.0.0.

``--data-plane c`` (opt-in; also ``ROUTESHIFT_DATA_PLANE=c``) serves ``--listen`` with the C event
loop of :mod:`gateway_proxy.dataplane.loop`, one per worker process, whenever the table allows;
otherwise the asyncio path serves it and the reason is logged (:mod:`gateway_proxy.dataplane.worker`).

With ``--workers 1`` one process serves data and admin. With more, each worker process binds
the listen address with SO_REUSEPORT and the kernel spreads connections; the parent serves the
admin endpoints, aggregating the workers' metrics through prometheus_client's multiprocess
mode. That mode is chosen by an environment variable read when prometheus_client is imported,
which is why the imports below happen only after the arguments are parsed. In ``--kubernetes``
mode the parent alone watches the API and writes status; it relays what it sees to the workers
over a pair of pipes each, and writes status only once they all serve it
(:mod:`gateway_proxy.kubernetes.relay`).
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


def _gateway_address(text: str):
    from gateway_proxy.kubernetes import status as kube_status  # pure: importing it does not import prometheus_client

    try:
        return kube_status.address(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gateway-proxy", description="Gateway API HTTPRoute reference proxy")
    parser.add_argument("--config-dir", help="directory of *.yaml/*.yml Gateway API objects (standalone mode)")
    parser.add_argument("--kubernetes", action="store_true",
                        help="watch the Kubernetes API and write Gateway API status instead of reading --config-dir")
    parser.add_argument("--kubeconfig", default=None,
                        help="kubeconfig for --kubernetes (default: in-cluster in a Pod, else $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--controller-name", default="routeshift.dev/gateway-proxy",
                        help="serve Gateways whose GatewayClass has this controllerName (--kubernetes)")
    parser.add_argument("--gateway-address", action="append", type=_gateway_address, default=[],
                        metavar="IP|HOSTNAME",
                        help="where clients reach the proxy, published in Gateway status.addresses (--kubernetes; "
                             "repeatable; default: the --listen host unless it is a wildcard)")
    parser.add_argument("--listen", required=True, type=_address, help="HOST:PORT serving every listener")
    parser.add_argument("--admin", required=True, type=_address, help="HOST:PORT of /ready, /metrics, /config")
    parser.add_argument("--listen-tls", type=_address, default=None,
                        help="HOST:PORT terminating TLS for HTTPS listeners (certificates from their Secrets)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes sharing --listen (SO_REUSEPORT)")
    parser.add_argument("--header-timeout", type=float, default=10.0, help="seconds a client has to send a head")
    parser.add_argument("--tunnel-idle-timeout", type=float, default=300.0,
                        help="seconds an upgraded connection (WebSocket) may stay silent both ways before it is "
                             "closed; 0 disables (default: 300, as Envoy's stream idle timeout)")
    parser.add_argument("--data-plane", choices=("asyncio", "c"),
                        default=os.environ.get("ROUTESHIFT_DATA_PLANE", "asyncio"),
                        help="who serves --listen: the asyncio path, or the C event loop where the table allows "
                             "(falls back to asyncio, logged, otherwise; default $ROUTESHIFT_DATA_PLANE or asyncio)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if not args.kubernetes and not args.config_dir:
        parser.error("--config-dir is required unless --kubernetes is given")
    if args.gateway_address:
        from gateway_proxy.kubernetes import status as kube_status

        if not args.kubernetes:
            parser.error("--gateway-address is published in Gateway status, which only --kubernetes writes")
        args.gateway_address = list(dict.fromkeys(args.gateway_address))
        if len(args.gateway_address) > kube_status.MAX_ADDRESSES:
            parser.error(f"at most {kube_status.MAX_ADDRESSES} --gateway-address (the Gateway API's limit)")
    return args


def gateway_addresses(args: argparse.Namespace) -> tuple:
    """The addresses to publish: ``--gateway-address``, else the ``--listen`` host if it names one."""
    from gateway_proxy.kubernetes import status as kube_status

    if args.gateway_address:
        return tuple(args.gateway_address)
    listened = kube_status.listen_address(args.listen[0])
    return (listened,) if listened is not None else ()


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


async def _run(args: argparse.Namespace, serve_data: bool, serve_admin: bool, metrics_text=None,
               relay=None) -> None:
    """One process: ``relay`` is, in --kubernetes mode with workers, the parent's list of
    (write fd, read fd) pipe ends per worker, or a worker's own (read fd, write fd)."""
    from gateway_proxy import admin, serving

    loop = asyncio.get_running_loop()
    runtime = serving.Runtime(loop, header_timeout=args.header_timeout, data_plane=args.data_plane,
                              tunnel_idle_timeout=args.tunnel_idle_timeout)
    stop = asyncio.Event()
    _stop_on_signals(loop, stop)
    follower = None
    waiting = None
    if args.kubernetes:
        from gateway_proxy.kubernetes import mode as kube_mode, relay as kube_relay

        loaded = asyncio.Event()
        if serve_admin:
            fanout = kube_relay.Fanout(relay) if relay else None
            if fanout is not None:
                waiting = fanout.not_serving  # /ready also waits until every worker serves
            poller = loop.create_task(kube_mode.run_kubernetes(
                runtime, kubeconfig=args.kubeconfig, stop=stop, controller_name=args.controller_name,
                ready=loaded, addresses=gateway_addresses(args), fanout=fanout))
        else:
            # A worker follows the admin process, and stops when that one is gone.
            follower = kube_relay.Follower(*relay)
            poller = loop.create_task(kube_mode.follow(runtime, follower, stop=stop,
                                                       controller_name=args.controller_name, ready=loaded))
            poller.add_done_callback(lambda _: stop.set())
    else:
        reloader = serving.Reloader(runtime, args.config_dir)
        await reloader.reload(force=True)
        poller = loop.create_task(reloader.run())
    servers = []
    runner = None
    if serve_admin:
        runner = await admin.start(runtime, args.admin[0], args.admin[1], metrics_text, waiting)
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
        if follower is not None:
            follower.serving()
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
        runtime.grpc_pool.close()
        if runner is not None:
            await runner.cleanup()


def _worker(args: argparse.Namespace, relay=None) -> None:
    loop = _new_loop()
    try:
        loop.run_until_complete(_run(args, serve_data=True, serve_admin=False, relay=relay))
    finally:
        loop.close()


def _pipes(count: int) -> list[tuple[int, int, int, int]]:
    """Per worker: (parent writes, parent reads, worker reads, worker writes) pipe ends."""
    out = []
    for _ in range(count):
        down_read, down_write = os.pipe()
        up_read, up_write = os.pipe()
        out.append((down_write, up_read, down_read, up_write))
    return out


def _supervise(args: argparse.Namespace) -> int:
    """Fork the workers, then serve admin here with the workers' metrics aggregated."""
    pipes = _pipes(args.workers) if args.kubernetes else []
    children = []
    for index in range(args.workers):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                relay = None
                if pipes:
                    # Keep only this worker's ends: a pipe reports EOF once every writer has closed it.
                    for number, ends in enumerate(pipes):
                        for fd in (ends if number != index else ends[:2]):
                            os.close(fd)
                    relay = pipes[index][2:]
                _worker(args, relay)
            except BaseException:  # the child must never return into the parent's code path
                logger.exception("gateway_proxy: worker failed")
                code = 1
            os._exit(code)
        children.append(pid)
    for ends in pipes:
        os.close(ends[2])
        os.close(ends[3])

    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    def metrics_text() -> bytes:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)

    loop = _new_loop()
    try:
        loop.run_until_complete(_run(args, serve_data=False, serve_admin=True, metrics_text=metrics_text,
                                     relay=[ends[:2] for ends in pipes]))
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
        # Every worker must accept the session tokens the others issue (gateway_proxy.sessions).
        os.environ.setdefault("ROUTESHIFT_SESSION_KEY", os.urandom(32).hex())
        return _supervise(args)
    loop = _new_loop()
    try:
        loop.run_until_complete(_run(args, serve_data=True, serve_admin=True))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
