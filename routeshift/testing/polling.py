"""Wait for a condition by polling it against a deadline, never by a fixed sleep.

Tests and the demo assert on things that become true asynchronously (a status patched,
a sample scraped). A fixed sleep is either too short on a loaded CI machine or wastes
time everywhere else; polling returns as soon as the condition holds and fails with the
last observed value when it never does.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class ConditionTimeout(AssertionError):
    """The condition did not hold before the deadline; carries the last value and error seen."""

    def __init__(self, description: str, timeout: float, last_value: Any, last_error: BaseException | None):
        detail = f"last value: {last_value!r}"
        if last_error is not None:
            detail += f"; last error: {last_error!r}"
        super().__init__(f"{description} did not hold within {timeout:g}s ({detail})")
        self.last_value = last_value
        self.last_error = last_error


def until(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    *,
    interval: float = 0.02,
    description: str | None = None,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``predicate`` until it returns a truthy value; return that value.

    Exceptions of the types in ``ignore`` count as "not yet" (e.g. connection refused
    while a server starts); any other exception propagates at once.
    """
    deadline = time.monotonic() + timeout
    last_value: Any = None
    last_error: BaseException | None = None
    while True:
        try:
            last_value = predicate()
            last_error = None
            if last_value:
                return last_value
        except ignore as error:
            last_error = error
        if time.monotonic() >= deadline:
            raise ConditionTimeout(description or _describe(predicate), timeout, last_value, last_error)
        time.sleep(interval)


async def until_async(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = 10.0,
    *,
    interval: float = 0.02,
    description: str | None = None,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """The asyncio twin of :func:`until`; ``predicate`` may be sync or async."""
    deadline = time.monotonic() + timeout
    last_value: Any = None
    last_error: BaseException | None = None
    while True:
        try:
            result = predicate()
            last_value = await result if inspect.isawaitable(result) else result
            last_error = None
            if last_value:
                return last_value
        except ignore as error:
            last_error = error
        if time.monotonic() >= deadline:
            raise ConditionTimeout(description or _describe(predicate), timeout, last_value, last_error)
        await asyncio.sleep(interval)


def _describe(predicate: Callable[..., Any]) -> str:
    return getattr(predicate, "__qualname__", None) or repr(predicate)
