"""Waiting for an event with a timeout without losing a cancellation.

On Python 3.11, ``asyncio.wait_for`` returns normally when its awaitable completes in the
same iteration as the surrounding task is cancelled: the cancellation is swallowed and a
``while`` loop around it never ends (seen here as an emulator that would not stop).
``asyncio.wait`` has no such window, so the control plane waits through it.
"""

from __future__ import annotations

import asyncio


async def wait(event: asyncio.Event, timeout: float | None) -> bool:
    """Whether ``event`` was set within ``timeout`` seconds; a cancellation always propagates."""
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()
    return bool(done)
