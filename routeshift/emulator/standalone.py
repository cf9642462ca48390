"""``routeshift api-server``: the emulator as a process, for the demo and manual kubectl use.

Serves on 127.0.0.1:PORT, writes a kubeconfig that points at it (plain HTTP, an empty user,
a current context), and runs until SIGTERM or SIGINT, then stops its watches and server and
returns, so the caller exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import signal

from routeshift.emulator import serving

logger = logging.getLogger(__name__)


async def _serve_until_signalled(port: int, kubeconfig: pathlib.Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with serving.serve("127.0.0.1", port) as running:
            running.write_kubeconfig(kubeconfig)
            logger.info("Kubernetes API emulator serving on %s; kubeconfig: %s", running.url, kubeconfig)
            print(f"Kubernetes API emulator serving on {running.url}; kubeconfig: {kubeconfig}", flush=True)
            await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def run(port: int, kubeconfig: pathlib.Path) -> None:
    """Serve on 127.0.0.1:``port`` and write ``kubeconfig``; block until SIGTERM/SIGINT."""
    asyncio.run(_serve_until_signalled(port, pathlib.Path(kubeconfig)))
