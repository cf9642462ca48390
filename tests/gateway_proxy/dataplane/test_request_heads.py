"""The strict request-head parser: what it accepts, what it refuses and with which status.

Each refusal is a rule of RFC 9112/9110 that a smuggler would otherwise exploit, or a limit of
the asyncio path (414, 431), answered with the status that path answers. Every case is also fed
one byte per receive, so that incrementality cannot change a decision.
"""

from __future__ import annotations

import pytest

from dataplane_support import LIMITS

MAX_URI, MAX_HEAD, MAX_HEADERS = LIMITS


def head(*lines: bytes, start: bytes = b"GET / HTTP/1.1") -> bytes:
    return start + b"\r\n" + b"".join(line + b"\r\n" for line in lines) + b"\r\n"


def parse(http1, data: bytes):
    whole = http1.inspect_request(data, LIMITS)
    bytewise = http1.inspect_request(data, LIMITS, cuts=range(1, len(data)))
    assert bytewise == whole, "the decision depends on how the bytes were received"
    return whole


@pytest.mark.parametrize("data, expected", [
    pytest.param(head(b"Host: example.com", start=b"GET /a/b?x=1&y HTTP/1.1"),
                 {"method": b"GET", "path": b"/a/b", "query": b"x=1&y", "host": b"example.com", "form": "origin",
                  "framing": "none", "keep_alive": True, "version": "1.1"}, id="origin-form"),
    pytest.param(head(b"Host: a", start=b"GET /p?q#frag HTTP/1.1"),
                 {"target": b"/p?q#frag", "path": b"/p", "query": b"q"}, id="fragment-dropped-from-path-and-query"),
    pytest.param(head(b"Host: a", start=b"GET /p#f?q HTTP/1.1"),
                 {"path": b"/p", "query": b""}, id="question-mark-inside-fragment"),
    pytest.param(head(b"Host: a", start=b"GET /a|b{c}\"^`\\%zz HTTP/1.1"),
                 {"path": b"/a|b{c}\"^`\\%zz"}, id="visible-ascii-in-target-as-llhttp"),
    pytest.param(b"\r\n\r\n" + head(b"Host: a"), {"head_length": 31}, id="empty-lines-before-request-line"),
    pytest.param(head(b"Host: a", start=b"GET http://Example.com:8080/x?y HTTP/1.1"),
                 {"form": "absolute", "host": b"Example.com:8080", "path": b"/x", "query": b"y", "https": False},
                 id="absolute-form-authority-replaces-host"),
    pytest.param(head(b"Host: a", start=b"GET HTTPS://h?q HTTP/1.1"),
                 {"form": "absolute", "host": b"h", "path": b"", "query": b"q", "https": True},
                 id="absolute-form-without-path"),
    pytest.param(head(b"Host: [::1]:8080"), {"host": b"[::1]:8080"}, id="ipv6-host"),
    pytest.param(head(b"Host:"), {"host": b""}, id="empty-host"),
    pytest.param(head(start=b"GET / HTTP/1.0"), {"version": "1.0", "keep_alive": False, "host": b""},
                 id="http10-without-host-closes"),
    pytest.param(head(b"Connection: Keep-Alive", start=b"GET / HTTP/1.0"), {"keep_alive": True},
                 id="http10-keep-alive"),
    pytest.param(head(b"Connection: keep-alive, close", start=b"GET / HTTP/1.0"), {"keep_alive": False},
                 id="http10-close-wins-over-keep-alive"),
    pytest.param(head(b"Host: a", b"Connection: , foo ,CLOSE,"), {"keep_alive": False}, id="connection-close-in-list"),
    pytest.param(head(b"Host: a", b"Connection: closed"), {"keep_alive": True}, id="connection-token-must-match"),
    pytest.param(head(b"Host: a", b"Upgrade: websocket", b"Connection: Upgrade"), {"upgrade": True, "keep_alive": True},
                 id="upgrade"),
    pytest.param(head(b"Host: a", b"Upgrade: websocket"), {"upgrade": False}, id="upgrade-without-connection-token"),
    pytest.param(head(b"Host: a", b"Expect: 100-Continue", b"Content-Length: 3", start=b"PUT / HTTP/1.1"),
                 {"expect_continue": True, "framing": "length", "content_length": 3}, id="expect-continue"),
    pytest.param(head(b"Host: a", b"Content-Length: 0"), {"framing": "length", "content_length": 0}, id="content-length-0"),
    pytest.param(head(b"Host: a", b"Content-Length: 007"), {"content_length": 7}, id="content-length-leading-zeros"),
    pytest.param(head(b"Host: a", b"Content-Length: 18446744073709551615"), {"content_length": 2**64 - 1},
                 id="content-length-max"),
    pytest.param(head(b"Host: a", b"Transfer-Encoding: \tChunked  "), {"framing": "chunked"},
                 id="chunked-case-insensitive-with-ows"),
    pytest.param(head(b"Host: a", b"X-A:  v \t v\t ", b"X-B:", b"X-C:\xe9t\xe9"),
                 {"headers": [(b"Host", b"a"), (b"X-A", b"v \t v"), (b"X-B", b""), (b"X-C", b"\xe9t\xe9")]},
                 id="values-trimmed-obs-text-kept"),
    pytest.param(head(b"Host: a", start=b"PROPFIND /d HTTP/1.1"), {"method": b"PROPFIND", "method_id": 13},
                 id="extension-method"),
    pytest.param(head(b"Host: a", start=b"OPTIONS /x HTTP/1.1"), {"method_id": 6}, id="options-origin-form"),
    pytest.param(head(b"Host: a", start=b"GET /" + b"a" * (MAX_URI - 1) + b" HTTP/1.1"), {"form": "origin"},
                 id="target-at-limit"),
    pytest.param(head(*[b"X-%d: 1" % i for i in range(MAX_HEADERS - 1)], b"Host: a"), {"host": b"a"},
                 id="fields-at-limit"),
    pytest.param(head(b"Host: a", b"X: " + b"v" * (MAX_HEAD - 32)), {"head_length": MAX_HEAD}, id="head-at-limit"),
])
def test_accepted(http1, data, expected):
    result = parse(http1, data)
    assert isinstance(result, dict), result
    assert {key: result[key] for key in expected} == expected


@pytest.mark.parametrize("data, status", [
    # Line ends: only CRLF (RFC 9112 2.2).
    pytest.param(b"GET / HTTP/1.1\nHost: a\r\n\r\n", 400, id="bare-lf-after-request-line"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\n\r\n", 400, id="bare-lf-after-field"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\n\n", 400, id="bare-lf-ending-head"),
    pytest.param(head(b"Host: a", b"X: a\rb"), 400, id="bare-cr-in-value"),
    pytest.param(b"GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", 400, id="cr-cr-lf"),
    pytest.param(b"\n" + head(b"Host: a"), 400, id="bare-lf-before-request-line"),
    # Request line (RFC 9112 3): token method, single SP, 1.0 or 1.1.
    pytest.param(head(b"Host: a", start=b"get / HTTP/1.1"), 400, id="lower-case-method"),
    pytest.param(head(b"Host: a", start=b"FOO / HTTP/1.1"), 400, id="unknown-method"),
    pytest.param(head(b"Host: a", start=b"G\x00T / HTTP/1.1"), 400, id="nul-in-method"),
    pytest.param(head(b"Host: a", start=b" / HTTP/1.1"), 400, id="empty-method"),
    pytest.param(head(b"Host: a", start=b"GET  / HTTP/1.1"), 400, id="two-spaces-after-method"),
    pytest.param(head(b"Host: a", start=b"GET /  HTTP/1.1"), 400, id="two-spaces-before-version"),
    pytest.param(head(b"Host: a", start=b"GET\t/ HTTP/1.1"), 400, id="htab-as-separator"),
    pytest.param(head(b"Host: a", start=b"GET / HTTP/1.1 "), 400, id="space-after-version"),
    pytest.param(head(b"Host: a", start=b"GET /"), 400, id="no-version"),
    pytest.param(head(b"Host: a", start=b"GET / HTTP/1.2"), 400, id="http12"),
    pytest.param(head(b"Host: a", start=b"GET / HTTP/2.0"), 400, id="http20"),
    pytest.param(head(b"Host: a", start=b"GET / HTTP/0.9"), 400, id="http09"),
    pytest.param(head(b"Host: a", start=b"GET / http/1.1"), 400, id="lower-case-version"),
    pytest.param(head(b"Host: a", start=b"GET / HTTP/1.10"), 400, id="long-version"),
    pytest.param(head(b"Host: a", start=b"GET /\x01 HTTP/1.1"), 400, id="ctl-in-target"),
    pytest.param(head(b"Host: a", start=b"GET /\x7f HTTP/1.1"), 400, id="del-in-target"),
    pytest.param(head(b"Host: a", start=b"GET /\xc3\xa9 HTTP/1.1"), 400, id="non-ascii-in-target"),
    pytest.param(head(b"Host: a", start=b"GET  HTTP/1.1"), 400, id="empty-target"),
    # Target forms (RFC 9112 3.2), answered as exchange.prepare does.
    pytest.param(head(b"Host: a", start=b"GET a:443 HTTP/1.1"), 400, id="authority-form-without-connect"),
    pytest.param(head(b"Host: a", start=b"GET * HTTP/1.1"), 400, id="asterisk-without-options"),
    pytest.param(head(b"Host: a", start=b"GET ftp://a/ HTTP/1.1"), 400, id="absolute-form-other-scheme"),
    pytest.param(head(b"Host: a", start=b"GET http://u:p@a/ HTTP/1.1"), 400, id="absolute-form-userinfo"),
    pytest.param(head(b"Host: a", start=b"GET http:///x HTTP/1.1"), 400, id="absolute-form-empty-host"),
    pytest.param(head(b"Host: a", start=b"GET http://a b/ HTTP/1.1"), 400, id="absolute-form-space"),
    pytest.param(head(b"Host: a", start=b"OPTIONS * HTTP/1.1"), 405, id="options-asterisk"),
    pytest.param(head(b"Host: a", start=b"OPTIONS a:443 HTTP/1.1"), 400, id="options-authority-form"),
    pytest.param(head(b"Host: a", start=b"OPTIONS *x HTTP/1.1"), 400, id="options-asterisk-prefix"),
    pytest.param(head(b"Host: a:443", start=b"CONNECT a:443 HTTP/1.1"), 405, id="connect"),
    pytest.param(head(b"Host: a", start=b"CONNECT / HTTP/1.1"), 405, id="connect-origin-form"),
    # Host (RFC 9112 3.2): exactly one in HTTP/1.1, valid.
    pytest.param(head(), 400, id="http11-without-host"),
    pytest.param(head(start=b"GET http://a/ HTTP/1.1"), 400, id="absolute-form-without-host"),
    pytest.param(head(b"Host: a", b"Host: a"), 400, id="two-equal-hosts"),
    pytest.param(head(b"Host: a", b"host: b", start=b"GET / HTTP/1.0"), 400, id="two-hosts-http10"),
    pytest.param(head(b"Host: a,b"), 400, id="host-list"),
    pytest.param(head(b"Host: a b"), 400, id="host-with-space"),
    pytest.param(head(b"Host: u@a"), 400, id="host-with-userinfo"),
    pytest.param(head(b"Host: a/b"), 400, id="host-with-slash"),
    pytest.param(head(b"Host: a:http"), 400, id="host-port-not-digits"),
    pytest.param(head(b"Host: a:123456"), 400, id="host-port-too-long"),
    pytest.param(head(b"Host: [::1"), 400, id="host-unclosed-ip-literal"),
    # Field lines (RFC 9112 5, RFC 9110 5.5).
    pytest.param(head(b"Host : a"), 400, id="space-before-colon"),
    pytest.param(head(b"Host\t: a"), 400, id="htab-before-colon"),
    pytest.param(head(b"Host: a", b"NoColon"), 400, id="field-without-colon"),
    pytest.param(head(b"Host: a", b": v"), 400, id="empty-field-name"),
    pytest.param(head(b"Host: a", b"X\"Y: v"), 400, id="non-token-field-name"),
    pytest.param(head(b"Host: a", b"X: a", b" b"), 400, id="obs-fold"),
    pytest.param(head(b"Host: a", b"X: a", b"\tb"), 400, id="obs-fold-htab"),
    pytest.param(head(b" Host: a"), 400, id="whitespace-before-first-field"),
    pytest.param(head(b"Host: a", b"X: a\x00b"), 400, id="nul-in-value"),
    pytest.param(head(b"Host: a", b"X: \x01"), 400, id="ctl-in-value"),
    pytest.param(head(b"Host: a", b"X: a\x7f"), 400, id="del-in-value"),
    pytest.param(head(b"Host: a", b"Connection: close;x"), 400, id="connection-option-not-a-token"),
    pytest.param(head(b"Host: a", b"Connection: keep alive"), 400, id="connection-options-without-comma"),
    # Content-Length (RFC 9110 8.6, RFC 9112 6.3).
    pytest.param(head(b"Host: a", b"Content-Length: 3", b"Content-Length: 3"), 400, id="two-equal-content-lengths"),
    pytest.param(head(b"Host: a", b"Content-Length: 3", b"Content-Length: 4"), 400, id="two-content-lengths"),
    pytest.param(head(b"Host: a", b"Content-Length: 3,3"), 400, id="content-length-list"),
    pytest.param(head(b"Host: a", b"Content-Length: +3"), 400, id="content-length-sign"),
    pytest.param(head(b"Host: a", b"Content-Length: -1"), 400, id="content-length-negative"),
    pytest.param(head(b"Host: a", b"Content-Length:"), 400, id="content-length-empty"),
    pytest.param(head(b"Host: a", b"Content-Length: 3 3"), 400, id="content-length-two-numbers"),
    pytest.param(head(b"Host: a", b"Content-Length: 0x10"), 400, id="content-length-hex"),
    pytest.param(head(b"Host: a", b"Content-Length: 18446744073709551616"), 400, id="content-length-overflow"),
    # Transfer-Encoding (RFC 9112 6.1, 6.3): exactly "chunked", never with Content-Length or HTTP/1.0.
    pytest.param(head(b"Host: a", b"Content-Length: 5", b"Transfer-Encoding: chunked"), 400,
                 id="content-length-then-transfer-encoding"),
    pytest.param(head(b"Host: a", b"Transfer-Encoding: chunked", b"Content-Length: 5"), 400,
                 id="transfer-encoding-then-content-length"),
    pytest.param(head(b"Host: a", b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"), 400,
                 id="two-transfer-encodings"),
    pytest.param(head(b"Host: a", b"Transfer-Encoding: chunked, chunked"), 400, id="chunked-twice"),
    pytest.param(head(b"Host: a", b"Transfer-Encoding: gzip, chunked"), 400, id="coding-before-chunked"),
    pytest.param(head(b"Host: a", b"Transfer-Encoding: chunked, identity"), 400, id="chunked-not-last"),
    pytest.param(head(b"Host: a", b"Transfer-Encoding: gzip"), 400, id="chunked-missing"),
    pytest.param(head(b"Host: a", b"Transfer-Encoding: chunked;q=1"), 400, id="chunked-with-parameter"),
    pytest.param(head(b"Host: a", b"Transfer-Encoding: xchunked"), 400, id="chunked-as-suffix"),
    pytest.param(head(b"Host: a", b"Transfer-Encoding: chunked\t"), 400, id="chunked-then-htab-as-llhttp"),
    pytest.param(head(b"Transfer-Encoding: chunked", start=b"POST / HTTP/1.0"), 400, id="transfer-encoding-in-http10"),
    # Limits of the asyncio path (downstream.py), with its statuses.
    pytest.param(head(b"Host: a", start=b"GET /" + b"a" * MAX_URI + b" HTTP/1.1"), 414, id="target-too-long"),
    pytest.param(b"GET /" + b"a" * MAX_URI, 414, id="target-too-long-before-line-end"),
    pytest.param(head(*[b"X-%d: 1" % i for i in range(MAX_HEADERS)], b"Host: a"), 431, id="too-many-fields"),
    pytest.param(head(b"Host: a", b"X: " + b"v" * (MAX_HEAD - 31)), 431, id="head-too-large"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * MAX_HEAD, 431, id="head-too-large-before-end"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\n" + b"\r\n" * 0 + b"X: a\r\n" * 6000, 431,
                 id="many-lines-too-large-before-end"),
])
def test_refused_with_status(http1, data, status):
    assert parse(http1, data) == status


@pytest.mark.parametrize("data", [
    pytest.param(b"", id="nothing"),
    pytest.param(b"\r\n", id="only-an-empty-line"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\n", id="no-final-empty-line"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\n\r", id="final-cr-without-lf"),
    pytest.param(b"GET /" + b"a" * (MAX_URI - 1), id="long-target-within-limit"),
])
def test_incomplete_heads_wait_for_more_bytes(http1, data):
    assert parse(http1, data) is None


def test_head_length_points_at_the_body(http1):
    data = head(b"Host: a", b"Content-Length: 3", start=b"POST / HTTP/1.1") + b"abcGET"
    result = parse(http1, data)
    assert data[result["head_length"]:] == b"abcGET"


def test_limits_are_parameters(http1):
    data = head(b"Host: a", b"X: 1", b"Y: 2", start=b"GET /abc HTTP/1.1")
    assert http1.inspect_request(data, (4, 1000, 3))["path"] == b"/abc"
    assert http1.inspect_request(data, (3, 1000, 3)) == 414
    assert http1.inspect_request(data, (4, 1000, 2)) == 431
    assert http1.inspect_request(data, (4, len(data) - 1, 3)) == 431
