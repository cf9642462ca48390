"""Exceptions of the gateway proxy, one tree so callers can catch at the right depth.

    GatewayProxyError                 every error this package raises on purpose
    ├── ConfigError                   a configuration directory cannot be turned into a routing table
    │   └── InvalidDocument           one YAML file or document is malformed; carries the file and reason
    ├── ProtocolError                 a client sent something that is not acceptable HTTP/1.1
    │   ├── BadRequest                400: malformed request line, headers or framing
    │   ├── HeadersTooLarge           431: the header block exceeds the limit
    │   └── UriTooLong                414: the request target exceeds the limit
    └── ApiError                      --kubernetes mode: the API server answered with an error status
        └── Gone                      410: a watch's resourceVersion is too old; list again

API errors say themselves whether they are temporary (5xx, 409, 429: retried with backoff)
or not (403 on an optional resource: reported, the rest keeps working). Config errors are
permanent for the files as they are: the loader keeps the last good table
and reports them, and a later edit of the file is the retry. Protocol errors are answered with
their status and the client connection is closed, because the framing can no longer be trusted.
"""

from __future__ import annotations


class GatewayProxyError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(GatewayProxyError):
    """The configuration cannot be compiled; the last good routing table keeps serving."""


class InvalidDocument(ConfigError):
    """One file or document is malformed."""

    def __init__(self, source: str, reason: str):
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class ProtocolError(GatewayProxyError):
    """The client broke HTTP/1.1; ``status`` is what it is answered with."""

    status = 400
    reason = "Bad Request"


class BadRequest(ProtocolError):
    status = 400
    reason = "Bad Request"


class HeadersTooLarge(ProtocolError):
    status = 431
    reason = "Request Header Fields Too Large"


class UriTooLong(ProtocolError):
    status = 414
    reason = "URI Too Long"


class ApiError(GatewayProxyError):
    """The API answered with an error status; 5xx, 429 and 409 are worth retrying."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def temporary(self) -> bool:
        return self.status >= 500 or self.status in (409, 429)


class Gone(ApiError):
    """410: the requested resourceVersion is no longer available."""
