"""Canned bytes the proxy writes itself: status lines, error responses, read-pause reasons.

Shared by the client protocol and the exchange, which must not import each other's internals.
"""

from __future__ import annotations

PAUSE_BODY = 1  # the request body outran the backend socket or nothing is attached yet
PAUSE_PIPELINE = 2  # too many pipelined requests queued
PAUSE_REJECTED = 4  # a framing error was seen: nothing more is read, only owed answers are written
PAUSE_UPGRADE = 8  # an upgrade request was read: what follows is not HTTP, held until the backend answers

_STATUS_LINES = {
    301: b"Moved Permanently", 302: b"Found", 303: b"See Other", 307: b"Temporary Redirect",
    308: b"Permanent Redirect",
    400: b"Bad Request", 404: b"Not Found", 405: b"Method Not Allowed", 408: b"Request Timeout",
    414: b"URI Too Long", 431: b"Request Header Fields Too Large", 500: b"Internal Server Error",
    502: b"Bad Gateway", 503: b"Service Unavailable", 504: b"Gateway Timeout",
}


def simple_response(status: int, keep_alive: bool, extra: bytes = b"") -> bytes:
    reason = _STATUS_LINES.get(status, b"Unknown")
    body = str(status).encode() + b" " + reason + b"\n"
    return (b"HTTP/1.1 %d %s\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n%s%s\r\n%s"
            % (status, reason, len(body), extra, b"" if keep_alive else b"connection: close\r\n", body))
