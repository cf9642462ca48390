"""gRPC status codes, and the status a response without ``grpc-status`` stands for.

The per-backend gRPC counter is labelled with the numeric code as a string (``"0"``, ``"14"``),
as the trailer carries it and as the analysis templates select it (``analysis.grpc_status``
maps names to numbers). A response that ends without ``grpc-status`` (a proxy or server
answering in plain HTTP) gets the code gRPC clients derive from its HTTP status (gRPC's
"HTTP to gRPC Status Code Mapping").
"""

from __future__ import annotations

OK = 0
UNKNOWN = 2
INTERNAL = 13
UNIMPLEMENTED = 12
UNAVAILABLE = 14

PERMISSION_DENIED = 7
UNAUTHENTICATED = 16

_FROM_HTTP = {400: INTERNAL, 401: UNAUTHENTICATED, 403: PERMISSION_DENIED, 404: UNIMPLEMENTED, 429: UNAVAILABLE,
              502: UNAVAILABLE, 503: UNAVAILABLE, 504: UNAVAILABLE}


def parse(value: bytes | str | None) -> int | None:
    """A ``grpc-status`` field's code, or None when absent or not a number."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def from_http(status: int) -> int:
    """What a gRPC client makes of an HTTP status that came without ``grpc-status``."""
    if status == 200:
        return UNKNOWN  # a 200 must end with grpc-status; without it the call failed
    return _FROM_HTTP.get(status, UNKNOWN)
