"""The backend response-head parser: framing the proxy can trust, or 502.

A backend is not an attacker the way a client is, but a response the proxy frames differently
from the backend desynchronises the pooled connection (response splitting), so the same rules
apply as for requests: CRLF only, token names, one Content-Length, no CL with TE, exactly
``chunked``. RFC 9112 6.3 decides the framing: no body for 1xx, 204, 304 and answers to HEAD;
read-until-close when nothing frames it.
"""

from __future__ import annotations

import pytest

from dataplane_support import LIMITS

MAX_URI, MAX_HEAD, MAX_HEADERS = LIMITS


def response(*lines: bytes, start: bytes = b"HTTP/1.1 200 OK") -> bytes:
    return start + b"\r\n" + b"".join(line + b"\r\n" for line in lines) + b"\r\n"


def parse(http1, data: bytes, head_request: bool = False):
    whole = http1.inspect_response(data, LIMITS, head_request)
    bytewise = http1.inspect_response(data, LIMITS, head_request, cuts=range(1, len(data)))
    assert bytewise == whole, "the decision depends on how the bytes were received"
    return whole


@pytest.mark.parametrize("data, head_request, expected", [
    pytest.param(response(b"Content-Length: 2"), False,
                 {"status": 200, "reason": b"OK", "framing": "length", "content_length": 2, "keep_alive": True},
                 id="content-length"),
    pytest.param(response(b"Transfer-Encoding: chunked"), False, {"framing": "chunked", "keep_alive": True},
                 id="chunked"),
    pytest.param(response(), False, {"framing": "close", "keep_alive": False}, id="close-delimited"),
    pytest.param(response(b"Content-Length: 0", start=b"HTTP/1.1 200"), False, {"reason": b"", "framing": "length"},
                 id="no-reason-no-space-as-llhttp"),
    pytest.param(response(b"Content-Length: 0", start=b"HTTP/1.1 404 "), False, {"status": 404, "reason": b""},
                 id="empty-reason"),
    pytest.param(response(b"Content-Length: 0", start=b"HTTP/1.1 200 Fine \xe9\tyes"), False,
                 {"reason": b"Fine \xe9\tyes"}, id="reason-with-obs-text-and-htab"),
    pytest.param(response(b"Content-Length: 3", start=b"HTTP/1.1 204 No Content"), False,
                 {"framing": "none", "content_length": 0, "keep_alive": True}, id="204-has-no-body"),
    pytest.param(response(b"Content-Length: 3", start=b"HTTP/1.1 304 Not Modified"), False,
                 {"framing": "none", "keep_alive": True}, id="304-has-no-body"),
    pytest.param(response(b"Content-Length: 3"), True, {"framing": "none", "keep_alive": True}, id="answer-to-head"),
    pytest.param(response(b"Transfer-Encoding: chunked"), True, {"framing": "none"}, id="chunked-answer-to-head"),
    pytest.param(response(start=b"HTTP/1.1 100 Continue"), False, {"status": 100, "framing": "none"}, id="interim"),
    pytest.param(response(b"Upgrade: websocket", b"Connection: upgrade", start=b"HTTP/1.1 101 Switching"), False,
                 {"status": 101, "keep_alive": False, "upgrade_header": True}, id="switching-protocols-ends-reuse"),
    pytest.param(response(b"Content-Length: 1", b"Connection: close"), False, {"keep_alive": False},
                 id="connection-close"),
    pytest.param(response(b"Content-Length: 1", start=b"HTTP/1.0 200 OK"), False, {"keep_alive": False},
                 id="http10-closes"),
    pytest.param(response(b"Content-Length: 1", b"Connection: keep-alive", start=b"HTTP/1.0 200 OK"), False,
                 {"keep_alive": True, "version": "1.0"}, id="http10-keep-alive"),
    pytest.param(b"\r\n" + response(b"Content-Length: 0"), False, {"head_length": 40}, id="empty-line-before-status"),
])
def test_accepted(http1, data, head_request, expected):
    result = parse(http1, data, head_request)
    assert isinstance(result, dict), result
    assert {key: result[key] for key in expected} == expected


@pytest.mark.parametrize("data", [
    pytest.param(b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", id="bare-lf"),
    pytest.param(response(start=b"HTTP/1.1 099 Low"), id="status-below-100"),
    pytest.param(response(start=b"HTTP/1.1 600 High"), id="status-above-599"),
    pytest.param(response(start=b"HTTP/1.1 20 OK"), id="two-digit-status"),
    pytest.param(response(start=b"HTTP/1.1 2000 OK"), id="four-digit-status"),
    pytest.param(response(start=b"HTTP/1.1 200OK"), id="no-space-before-reason"),
    pytest.param(response(start=b"HTTP/1.1  200 OK"), id="two-spaces-before-status"),
    pytest.param(response(start=b"HTTP/1.1 200 O\x01K"), id="ctl-in-reason"),
    pytest.param(response(start=b"HTTP/2.0 200 OK"), id="http20"),
    pytest.param(response(start=b"HTTP/1.1"), id="no-status"),
    pytest.param(response(b"Content-Length: 2", b"Transfer-Encoding: chunked"), id="content-length-with-chunked"),
    pytest.param(response(b"Content-Length: 2", b"Content-Length: 2"), id="two-content-lengths"),
    pytest.param(response(b"Content-Length: 2a"), id="content-length-not-digits"),
    pytest.param(response(b"Transfer-Encoding: gzip"), id="coding-other-than-chunked"),
    pytest.param(response(b"Transfer-Encoding: gzip, chunked"), id="coding-list"),
    pytest.param(response(b"Transfer-Encoding: chunked", start=b"HTTP/1.0 200 OK"), id="chunked-in-http10"),
    pytest.param(response(b"X: a", b" b"), id="obs-fold"),
    pytest.param(response(b"X : a"), id="space-before-colon"),
    pytest.param(response(b"X: \x00"), id="nul-in-value"),
    pytest.param(response(*[b"X-%d: 1" % i for i in range(MAX_HEADERS + 1)]), id="too-many-fields"),
    pytest.param(response(b"X: " + b"v" * MAX_HEAD), id="head-too-large"),
    pytest.param(b"HTTP/1.1 200 OK\r\nX: " + b"v" * MAX_HEAD, id="head-too-large-before-end"),
])
def test_refused_with_502(http1, data):
    assert parse(http1, data) == 502


def test_interim_response_is_followed_by_the_final_one(http1):
    interim = response(start=b"HTTP/1.1 100 Continue")
    final = response(b"Content-Length: 1", start=b"HTTP/1.1 201 Created")
    first = parse(http1, interim + final)
    assert first["head_length"] == len(interim)
    assert parse(http1, (interim + final)[first["head_length"]:])["status"] == 201


def test_incomplete_head_waits_for_more_bytes(http1):
    assert parse(http1, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n") is None
