"""The controller's exceptions, shaped by what the caller should do about them.

::

    RolloutsError                   anything the controller raises on purpose
    └── ApiError                    the Kubernetes API answered with an error (status, reason)
        ├── NotFound                404: the object is gone; not worth retrying
        ├── Conflict                409, or 422 from a failed JSON-patch ``test``: re-read, re-plan
        └── Unavailable             connection trouble, 5xx, 429: retry later

``retryable`` tells the adapter whether a later attempt can succeed (kopf's temporary vs
permanent errors); the original library error is always chained as ``__cause__``.
"""

from __future__ import annotations


class RolloutsError(Exception):
    """Base of every error raised on purpose by ``rollouts``."""

    retryable = False


class ApiError(RolloutsError):
    """The Kubernetes API refused a request."""

    def __init__(self, status: int | None, message: str, *, reason: str = ""):
        super().__init__(f"HTTP {status} {reason}: {message}" if status else message)
        self.status = status
        self.reason = reason


class NotFound(ApiError):
    """The object does not exist (any more)."""


class Conflict(ApiError):
    """The object changed since it was read: a stale resourceVersion precondition."""

    retryable = True


class Unavailable(ApiError):
    """The API could not be reached or is overloaded; the request may succeed later."""

    retryable = True


def from_status(status: int | None, message: str, reason: str = "") -> ApiError:
    """The error class for an HTTP status of the API server."""
    if status == 404:
        return NotFound(status, message, reason=reason)
    if status == 409 or (status == 422 and "test" in message.lower()):
        return Conflict(status, message, reason=reason)
    if status is None or status >= 500 or status == 429:
        return Unavailable(status, message, reason=reason)
    return ApiError(status, message, reason=reason)
