"""HTTPRoute ``rules[].retry`` (Gateway API ``HTTPRouteRetry``) as pure decisions: which values
are served, when an attempt may be repeated, how long to wait first.

The exchange (:mod:`gateway_proxy.exchange`) does the I/O; every choice it makes about a retry is
asked here, so the spec's wording is tested as tables:

- ``codes``: the response statuses that are retried. The spec lets an implementation accept
  400-599 (500, 502, 503 and 504 are required); anything else is refused as ``UnsupportedValue``.
- ``attempts``: retries *in addition to* the first request; an explicit 0 disables retries, and
  when unset the implementation picks, here :data:`DEFAULT_ATTEMPTS`.
- ``backoff``: the base interval. Attempt ``n`` (1 for the first retry) waits
  ``base * 2**(n-1)``, jittered up to half as much again, capped at :func:`cap`; never less than
  the base, as the spec asks of a cap. Unset means :data:`DEFAULT_BACKOFF`.
- A connection that could not be established is retried whenever a retry stanza exists (the
  request never left), and so is an attempt that hit ``timeouts.backendRequest`` (the spec: the
  next attempt is scheduled); a connection lost after the request was sent is not (the spec:
  SHOULD NOT, it may have been processed). Each attempt is counted for the backend that answered.
- Bodies: the request body is kept while it is sent, up to :data:`REPLAY_LIMIT` bytes, so that a
  retry can send it again. A longer body is streamed without a copy, and then only a connection
  that could not be established is retried (nothing was sent yet).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway_proxy import resources as r

DEFAULT_ATTEMPTS = 1
DEFAULT_BACKOFF = 0.025  # seconds; Envoy's base interval, which GEP-1731 cites
MAX_BACKOFF = 10.0  # seconds; a larger configured base is its own cap
JITTER = 0.5  # up to half the nominal delay is added at random
REPLAY_LIMIT = 64 * 1024  # bytes of request body kept so that a retry can resend it
LOWEST_CODE, HIGHEST_CODE = 400, 599


@dataclass(frozen=True)
class Policy:
    """A rule's retry policy as served."""

    codes: frozenset[int]
    attempts: int  # retries after the first attempt
    backoff: float  # base interval, seconds


def problem(retry: r.Retry | None) -> str:
    """Why a rule's ``retry`` cannot be served as written, or "" (the route reports UnsupportedValue)."""
    if retry is None:
        return ""
    bad = [code for code in retry.codes if not LOWEST_CODE <= code <= HIGHEST_CODE]
    if bad:
        return f"retry codes {bad} are outside {LOWEST_CODE}-{HIGHEST_CODE}"
    if retry.attempts is not None and retry.attempts < 0:
        return f"retry attempts {retry.attempts} is negative"
    return ""


def policy(retry: r.Retry | None) -> Policy | None:
    """The served policy of a rule whose ``retry`` passed :func:`problem`; None when retries are off."""
    if retry is None:
        return None
    attempts = DEFAULT_ATTEMPTS if retry.attempts is None else retry.attempts
    if attempts == 0:
        return None  # the spec: an explicit zero disables retries
    backoff = DEFAULT_BACKOFF if retry.backoff is None else retry.backoff
    return Policy(frozenset(retry.codes), attempts, backoff)


def may_retry(policy: Policy, attempts_made: int) -> bool:
    """Whether another attempt is allowed after ``attempts_made`` (the first request counts as one)."""
    return attempts_made <= policy.attempts


def retried_status(policy: Policy, status: int) -> bool:
    """Whether a response with ``status`` is one the rule retries."""
    return status in policy.codes


def cap(policy: Policy) -> float:
    """The longest wait before an attempt: MAX_BACKOFF, or the base interval when that is longer."""
    return max(policy.backoff, MAX_BACKOFF)


def backoff(policy: Policy, retry_number: int, fraction: float) -> float:
    """Seconds to wait before retry ``retry_number`` (1 for the first), for a uniform ``fraction`` in [0, 1)."""
    nominal = policy.backoff * (2 ** min(retry_number - 1, 30))
    return min(cap(policy), nominal * (1.0 + JITTER * fraction))
