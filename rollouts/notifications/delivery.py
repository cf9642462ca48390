"""POST one message to a chat service: a timeout per attempt, tenacity retries on transient failures.

Transient means the service may take it next time: no connection, no answer within the
timeout, HTTP 5xx, or 429 (every service here throttles per webhook; Teams allows four
requests a second). Any other non-2xx answer is final: the payload or the URL is wrong and
repeating it would be refused again. The outcome is returned or raised as
``DeliveryFailed``; the caller only logs and counts it, a rollout never waits for it.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import tenacity

from analysis.tls import default_context
from rollouts.notifications.errors import DeliveryFailed

#: A Retry-After longer than this is not honoured: the message would be stale by then.
MAX_RETRY_AFTER = 5.0


class _Transient(DeliveryFailed):
    """Worth another attempt."""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return min(float(value), MAX_RETRY_AFTER) if value is not None else None
    except ValueError:
        return None


async def post(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float, retries: int,
               backoff: float = 0.5) -> int:
    """Deliver ``body``; the status code of the accepting answer, or raise ``DeliveryFailed``."""
    attempts = 0

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        pause = getattr(error, "retry_after", None)
        return pause if pause is not None else min(backoff * 2 ** (state.attempt_number - 1), 4.0)

    retrying = tenacity.AsyncRetrying(stop=tenacity.stop_after_attempt(retries + 1), wait=wait,
                                      retry=tenacity.retry_if_exception_type(_Transient), reraise=True)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False, verify=default_context()) as client:
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    return await _attempt(client, url, body, headers, attempts)
        except _Transient as error:
            raise DeliveryFailed(f"{error} (after {attempts} attempts)", status_code=error.status_code,
                                 attempts=attempts) from error
    raise AssertionError("unreachable: tenacity returns or reraises")


async def _attempt(client: httpx.AsyncClient, url: str, body: bytes, headers: Mapping[str, str],
                   attempts: int) -> int:
    try:
        response = await client.post(url, content=body, headers=dict(headers))
    except httpx.TransportError as error:  # connect errors and timeouts alike
        raise _Transient(f"{type(error).__name__}: {error}".rstrip(": "), attempts=attempts) from error
    status = response.status_code
    if 200 <= status < 300:
        return status
    detail = response.text.strip()[:200]
    reason = f"HTTP {status}" + (f": {detail}" if detail else "")
    if status >= 500 or status == 429:
        transient = _Transient(reason, status_code=status, attempts=attempts)
        transient.retry_after = _retry_after(response)
        raise transient
    raise DeliveryFailed(reason, status_code=status, attempts=attempts)
