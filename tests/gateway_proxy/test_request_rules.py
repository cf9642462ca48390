"""The asyncio path's request-head rules, one table per rule: input as httptools reports it -> status.

Each row is a case the C data plane's parser (``dataplane/http1.pyx``) decides the same way;
``test_asyncio_path_refuses_like_the_c_parser.py`` checks that agreement on random bytes.
"""

from __future__ import annotations

import pytest

from gateway_proxy import request_rules
from gateway_proxy.request_rules import BAD_REQUEST, FIELD_HOST, FIELD_OK, METHOD_NOT_ALLOWED


@pytest.mark.parametrize("version, expected", [
    pytest.param("1.1", 0, id="http-1.1"),
    pytest.param("1.0", 0, id="http-1.0"),
    pytest.param("2.0", BAD_REQUEST, id="http-2.0-in-an-http1-request-line"),
    pytest.param("0.9", BAD_REQUEST, id="http-0.9"),
    pytest.param("1.2", BAD_REQUEST, id="unknown-minor"),
])
def test_version(version, expected):
    assert request_rules.version_status(version) == expected


@pytest.mark.parametrize("name, value, expected", [
    pytest.param(b"Host", b"example.com", FIELD_HOST, id="host"),
    pytest.param(b"hOsT", b"example.com:8080", FIELD_HOST, id="host-any-case-with-port"),
    pytest.param(b"Host", b"", FIELD_HOST, id="host-empty"),
    pytest.param(b"Host", b"example.com \t", FIELD_HOST, id="host-trailing-ows"),
    pytest.param(b"Host", b"[::1]:80", FIELD_HOST, id="host-ipv6-literal"),
    pytest.param(b"Host", b"a:", FIELD_HOST, id="host-empty-port"),
    pytest.param(b"Host", b"a:99999", FIELD_HOST, id="host-five-digit-port"),
    pytest.param(b"Host", b"a,b", BAD_REQUEST, id="host-comma"),
    pytest.param(b"Host", b"a b", BAD_REQUEST, id="host-space"),
    pytest.param(b"Host", b"user@a", BAD_REQUEST, id="host-userinfo"),
    pytest.param(b"Host", b"a/b", BAD_REQUEST, id="host-slash"),
    pytest.param(b"Host", b"a:x", BAD_REQUEST, id="host-port-not-digits"),
    pytest.param(b"Host", b"a:123456", BAD_REQUEST, id="host-port-six-digits"),
    pytest.param(b"Host", b"[]", BAD_REQUEST, id="host-empty-ip-literal"),
    pytest.param(b"Host", b"[::1", BAD_REQUEST, id="host-ip-literal-unclosed"),
    pytest.param(b"Host", b"[::g]", BAD_REQUEST, id="host-ip-literal-not-hex"),
    pytest.param(b"Host", b"\xe9.example", BAD_REQUEST, id="host-obs-text"),
    pytest.param(b"Transfer-Encoding", b"chunked", FIELD_OK, id="te-chunked"),
    pytest.param(b"transfer-encoding", b"Chunked  ", FIELD_OK, id="te-chunked-case-and-trailing-spaces"),
    pytest.param(b"Transfer-Encoding", b"gzip, chunked", BAD_REQUEST, id="te-coding-before-chunked"),
    pytest.param(b"Transfer-Encoding", b"chunked, chunked", BAD_REQUEST, id="te-chunked-twice"),
    pytest.param(b"Transfer-Encoding", b"gzip", BAD_REQUEST, id="te-not-chunked"),
    pytest.param(b"Transfer-Encoding", b"chunked\t", BAD_REQUEST, id="te-chunked-then-tab"),
    pytest.param(b"Transfer-Encoding", b"chunked \t", BAD_REQUEST, id="te-chunked-then-space-tab"),
    pytest.param(b"Transfer-Encoding", b"", BAD_REQUEST, id="te-empty"),
    pytest.param(b"Connection", b"close", FIELD_OK, id="connection-close"),
    pytest.param(b"Connection", b"keep-alive, Upgrade", FIELD_OK, id="connection-list"),
    pytest.param(b"Connection", b", ,close,\t", FIELD_OK, id="connection-empty-elements"),
    pytest.param(b"Connection", b"", FIELD_OK, id="connection-empty"),
    pytest.param(b"Connection", b"a b", BAD_REQUEST, id="connection-space-inside-an-element"),
    pytest.param(b"Connection", b"close;x", BAD_REQUEST, id="connection-not-a-token"),
    pytest.param(b"Connection", b"\"close\"", BAD_REQUEST, id="connection-quoted"),
    pytest.param(b"X-Host", b"a b", FIELD_OK, id="other-field-of-another-length"),
    pytest.param(b"Hxst", b"a b", FIELD_OK, id="other-field-of-the-same-length"),
])
def test_field(name, value, expected):
    assert request_rules.field_status(name, value) == expected


@pytest.mark.parametrize("method, target, expected", [
    pytest.param("GET", b"/a?b#c", 0, id="origin-form"),
    pytest.param("GET", b"http://example.com/p?q", 0, id="absolute-http"),
    pytest.param("GET", b"HTTPS://h:8443", 0, id="absolute-https-any-case-no-path"),
    pytest.param("GET", b"http://[::1]:80/", 0, id="absolute-ipv6"),
    pytest.param("GET", b"ftp://h/", BAD_REQUEST, id="absolute-other-scheme"),
    pytest.param("GET", b"http://user@h/", BAD_REQUEST, id="absolute-userinfo"),
    pytest.param("GET", b"http:///p", BAD_REQUEST, id="absolute-empty-host"),
    pytest.param("GET", b"http://:80/p", BAD_REQUEST, id="absolute-port-only"),
    pytest.param("GET", b"http://a,b/", BAD_REQUEST, id="absolute-comma-in-host"),
    pytest.param("GET", b"https:/h", BAD_REQUEST, id="absolute-one-slash"),
    pytest.param("OPTIONS", b"*", METHOD_NOT_ALLOWED, id="options-asterisk"),
    pytest.param("OPTIONS", b"h:443", BAD_REQUEST, id="options-authority"),
    pytest.param("OPTIONS", b"*x", BAD_REQUEST, id="options-asterisk-prefix"),
    pytest.param("CONNECT", b"h:443", METHOD_NOT_ALLOWED, id="connect-authority"),
    pytest.param("GET", b"*", BAD_REQUEST, id="get-asterisk"),
    pytest.param("POST", b"h:443", BAD_REQUEST, id="post-authority"),
])
def test_target(method, target, expected):
    assert request_rules.target_status(method, target) == expected


@pytest.mark.parametrize("method, target, version, hosts, te, expected", [
    pytest.param("GET", b"/", "1.1", 1, False, 0, id="plain"),
    pytest.param("GET", b"/", "1.0", 0, False, 0, id="http-1.0-needs-no-host"),
    pytest.param("GET", b"/", "1.1", 0, False, BAD_REQUEST, id="http-1.1-without-host"),
    pytest.param("GET", b"http://h/", "1.1", 0, False, BAD_REQUEST, id="absolute-form-still-needs-host"),
    pytest.param("POST", b"/", "1.1", 1, True, 0, id="chunked-http-1.1"),
    pytest.param("POST", b"/", "1.0", 0, True, BAD_REQUEST, id="transfer-encoding-in-http-1.0"),
    pytest.param("OPTIONS", b"/", "1.0", 0, True, BAD_REQUEST, id="te-in-1.0-before-the-target"),
    pytest.param("OPTIONS", b"*", "1.1", 0, False, METHOD_NOT_ALLOWED, id="refused-target-keeps-its-405"),
    pytest.param("GET", b"*", "1.1", 0, False, BAD_REQUEST, id="refused-target-keeps-its-400"),
    pytest.param("CONNECT", b"h:443", "1.1", 1, False, METHOD_NOT_ALLOWED, id="connect"),
    pytest.param("CONNECT", b"/", "1.1", 1, False, METHOD_NOT_ALLOWED, id="connect-with-origin-form"),
    pytest.param("CONNECT", b"/", "1.1", 0, False, METHOD_NOT_ALLOWED, id="connect-wins-over-missing-host"),
    pytest.param("GET", b"/", "2.0", 1, False, BAD_REQUEST, id="version-first"),
])
def test_head(method, target, version, hosts, te, expected):
    assert request_rules.head_status(method, target, version, hosts, te) == expected


@pytest.mark.parametrize("version, llhttp, connection, expected", [
    pytest.param("1.1", True, None, True, id="http-1.1-default"),
    pytest.param("1.1", False, "close", False, id="http-1.1-close"),
    pytest.param("1.0", False, None, False, id="http-1.0-default"),
    pytest.param("1.0", True, "keep-alive", True, id="http-1.0-keep-alive"),
    pytest.param("1.0", True, "keep-alive, close", False, id="http-1.0-close-wins"),
    pytest.param("1.0", True, "Keep-Alive,\tCLOSE", False, id="http-1.0-close-wins-any-case"),
    pytest.param("1.0", True, "keep-alive, closed", True, id="http-1.0-closed-is-not-close"),
])
def test_keep_alive(version, llhttp, connection, expected):
    assert request_rules.keep_alive(version, llhttp, connection) is expected


@pytest.mark.parametrize("target, expected", [
    pytest.param(b"http://h", (False, b"h", b"/", b""), id="no-path"),
    pytest.param(b"https://h:1/a/b?c=d#e", (True, b"h:1", b"/a/b", b"c=d"), id="everything"),
    pytest.param(b"http://h?q", (False, b"h", b"/", b"q"), id="query-without-path"),
    pytest.param(b"http://h/p#f?x", (False, b"h", b"/p", b""), id="question-mark-in-fragment"),
    pytest.param(b"/p", None, id="origin-form"),
])
def test_split_absolute(target, expected):
    assert request_rules.split_absolute(target) == expected
