"""Why the loadtester refused a hook call, as exception types the server maps to HTTP answers.

Exception tree::

    LoadtesterError            base of everything the loadtester raises on purpose
    ├── BadRequest             the payload or its metadata is wrong          400, permanent
    ├── Unauthorized           signature missing or wrong (secret configured) 401, permanent
    ├── TargetRefused          the target host is not on the allow-list      403, permanent
    └── Busy                   too many generators run already               429, retryable

The status codes follow the controller's webhook contract (``analysis/webhooks.py``): a 4xx
is the receiver's final answer and is not retried, a 429 is retried with backoff, so only
:class:`Busy` (capacity may free up within seconds) is ``retryable``.
"""

from __future__ import annotations


class LoadtesterError(Exception):
    """Base class; ``status`` is the HTTP answer, ``retryable`` whether asking again can help."""

    status: int = 500
    retryable: bool = False


class BadRequest(LoadtesterError):
    """The hook payload is not JSON of the documented shape, or its metadata is invalid or out of bounds."""

    status = 400


class Unauthorized(LoadtesterError):
    """A secret is configured and the X-Routeshift-Signature header is missing or does not match."""

    status = 401


class TargetRefused(LoadtesterError):
    """The target URL's host is not on the allow-list: the loadtester sends nothing there."""

    status = 403


class Busy(LoadtesterError):
    """The configured maximum of concurrently running generators is reached."""

    status = 429
    retryable = True
