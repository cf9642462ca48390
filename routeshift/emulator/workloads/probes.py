"""Readiness checks of a running container against its Pod IP, as the kubelet's prober does.

An ``httpGet`` probe succeeds on a status from 200 to 399, a ``tcpSocket`` probe when the
port accepts a connection, each within ``timeoutSeconds``; ``successThreshold`` and
``failureThreshold`` consecutive results flip readiness. A container without a readiness
probe is ready once its first declared TCP port accepts connections (or at once when it
declares none), which is when a real process could serve its first request. ``exec`` and
``grpc`` probes are not run: an ``exec`` probe counts as passing, a ``grpc`` one as a TCP check.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from routeshift.emulator.workloads import images


def resolve_port(port: Any, container: Mapping[str, Any]) -> int | None:
    """A probe's ``port``: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for declared in container.get("ports") or ():
        if declared.get("name") == port:
            return int(declared["containerPort"])
    return None


async def tcp_check(host: str, port: int, timeout: float) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def http_check(host: str, port: int, path: str, headers: Mapping[str, str], timeout: float) -> bool:
    """One HTTP/1.1 GET; only the status line is read."""
    async def exchange() -> bool:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            lines = [f"GET {path or '/'} HTTP/1.1", f"Host: {host}:{port}", "User-Agent: kube-probe/1.37",
                     "Accept: */*", "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            await writer.drain()
            status_line = await reader.readline()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        parts = status_line.split()
        return len(parts) >= 2 and parts[1].isdigit() and 200 <= int(parts[1]) < 400
    try:
        return await asyncio.wait_for(exchange(), timeout)
    except (OSError, TimeoutError, ValueError):
        return False


def checker(container: Mapping[str, Any], host: str) -> Callable[[], Any] | None:
    """An async callable running the container's readiness probe once (None: no probe)."""
    probe = container.get("readinessProbe")
    if not probe:
        return None
    timeout = float(probe.get("timeoutSeconds") or 1)
    if "httpGet" in probe:
        spec = probe["httpGet"]
        port = resolve_port(spec.get("port"), container)
        headers = {h["name"]: h.get("value", "") for h in spec.get("httpHeaders") or () if h.get("name")}
        target = spec.get("host") or host
        return lambda: http_check(target, port, spec.get("path", "/"), headers, timeout) if port else _false()
    if "tcpSocket" in probe or "grpc" in probe:
        spec = probe.get("tcpSocket") or probe.get("grpc") or {}
        port = resolve_port(spec.get("port"), container)
        target = spec.get("host") or host
        return lambda: tcp_check(target, port, timeout) if port else _false()
    return _true


async def _true() -> bool:
    return True


async def _false() -> bool:
    return False


async def readiness(container: Mapping[str, Any], host: str, report: Callable[[bool], None], *,
                    fast: float, period_cap: float, alive: Callable[[], bool]) -> None:
    """Report readiness changes of one running container until cancelled or ``alive()`` is false."""
    check = checker(container, host)
    if check is None:
        port = images.container_port(container)
        while port is not None and alive() and not await tcp_check(host, port, 1.0):
            await asyncio.sleep(fast)
        if alive():
            report(True)
        return
    probe = container["readinessProbe"]
    await asyncio.sleep(float(probe.get("initialDelaySeconds") or 0))
    period = min(float(probe.get("periodSeconds") or 10), period_cap)
    successes_needed = int(probe.get("successThreshold") or 1)
    failures_allowed = int(probe.get("failureThreshold") or 3)
    ready, ever_ready = False, False
    successes = failures = 0
    while alive():
        if await check():
            successes, failures = successes + 1, 0
            if not ready and successes >= successes_needed:
                ready = ever_ready = True
                report(True)
        else:
            successes, failures = 0, failures + 1
            if ready and failures >= failures_allowed:
                ready = False
                report(False)
        await asyncio.sleep(period if ever_ready else fast)
