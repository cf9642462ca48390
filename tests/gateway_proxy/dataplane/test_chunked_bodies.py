"""The chunked body decoder: data spans out, extensions and trailers checked and dropped.

RFC 9112 7.1 framing is where CL.TE and TE.TE smuggling meet the body, so every deviation from
the grammar is refused; the refusal carries the status the decoder was reset with (400 for a
request body, 502 for a response body). Each case is also fed one byte per receive and with
one span per call, so that neither receive boundaries nor a full span array change the result.
"""

from __future__ import annotations

import pytest


def decode(http1, data: bytes, error_status: int = 400):
    whole = http1.inspect_chunked(data, error_status=error_status)
    bytewise = http1.inspect_chunked(data, cuts=range(1, len(data)), max_spans=1, error_status=error_status)
    assert bytewise == whole, "the decision depends on how the bytes were received"
    return whole


@pytest.mark.parametrize("data, body", [
    pytest.param(b"0\r\n\r\n", b"", id="empty-body"),
    pytest.param(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world", id="two-chunks"),
    pytest.param(b"a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n", b"0123456789abcdefghij", id="hex-either-case"),
    pytest.param(b"0005\r\nhello\r\n000\r\n\r\n", b"hello", id="leading-zeros"),
    pytest.param(b"5;name\r\nhello\r\n0\r\n\r\n", b"hello", id="extension-name-only"),
    pytest.param(b"5;a=b;c=d\r\nhello\r\n0;last\r\n\r\n", b"hello", id="extensions-with-token-values"),
    pytest.param(b"5;a=\"b c;\\\"d\\\\\"\r\nhello\r\n0\r\n\r\n", b"hello", id="extension-quoted-value"),
    pytest.param(b"5;a=\"\xe9\"\r\nhello\r\n0\r\n\r\n", b"hello", id="extension-quoted-obs-text"),
    pytest.param(b"3\r\n\r\n\r\r\n0\r\n\r\n", b"\r\n\r", id="crlf-inside-data-is-data"),
    pytest.param(b"5\r\nhello\r\n0\r\nX-Sum: 1\r\nX-Empty:\r\n\r\n", b"hello", id="trailers-dropped"),
    pytest.param(b"0\r\nContent-Lengthy: 1\r\n\r\n", b"", id="trailer-name-merely-starting-like-framing"),
])
def test_decoded(http1, data, body):
    assert decode(http1, data) == (body, len(data))


def test_the_next_message_starts_where_the_body_ends(http1):
    data = b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n"
    assert decode(http1, data) == (b"abc", data.index(b"GET"))


def test_largest_chunk_size_is_accepted_and_waits_for_its_data(http1):
    assert decode(http1, b"ffffffffffffffff\r\nabc") is None


@pytest.mark.parametrize("data", [
    pytest.param(b"\r\n", id="no-size"),
    pytest.param(b"x\r\n", id="size-not-hex"),
    pytest.param(b"0x5\r\nhello\r\n0\r\n\r\n", id="size-with-0x"),
    pytest.param(b"-5\r\nhello\r\n0\r\n\r\n", id="negative-size"),
    pytest.param(b"+5\r\nhello\r\n0\r\n\r\n", id="signed-size"),
    pytest.param(b" 5\r\nhello\r\n0\r\n\r\n", id="space-before-size"),
    pytest.param(b"5 \r\nhello\r\n0\r\n\r\n", id="space-after-size"),
    pytest.param(b"5\t\r\nhello\r\n0\r\n\r\n", id="htab-after-size"),
    pytest.param(b"10000000000000000\r\n", id="size-overflows-64-bits"),
    pytest.param(b"5\nhello\r\n0\r\n\r\n", id="bare-lf-after-size"),
    pytest.param(b"5\rhello\r\n0\r\n\r\n", id="bare-cr-after-size"),
    pytest.param(b"5\r\nhelloXX0\r\n\r\n", id="data-longer-than-size"),
    pytest.param(b"5\r\nhello\n0\r\n\r\n", id="bare-lf-after-data"),
    pytest.param(b"5\r\nhello\r0\r\n\r\n", id="bare-cr-after-data"),
    pytest.param(b"5 ;a=b\r\nhello\r\n0\r\n\r\n", id="bws-before-semicolon"),
    pytest.param(b"5; a=b\r\nhello\r\n0\r\n\r\n", id="bws-after-semicolon"),
    pytest.param(b"5;a =b\r\nhello\r\n0\r\n\r\n", id="bws-before-equals"),
    pytest.param(b"5;a= b\r\nhello\r\n0\r\n\r\n", id="bws-after-equals"),
    pytest.param(b"5;\r\nhello\r\n0\r\n\r\n", id="semicolon-without-name"),
    pytest.param(b"5;;a\r\nhello\r\n0\r\n\r\n", id="empty-extension"),
    pytest.param(b"5;=b\r\nhello\r\n0\r\n\r\n", id="extension-without-name"),
    pytest.param(b"5;a=\r\nhello\r\n0\r\n\r\n", id="extension-without-value"),
    pytest.param(b"5;a\"\r\nhello\r\n0\r\n\r\n", id="quote-in-extension-name"),
    pytest.param(b"5;a=b\x80\r\nhello\r\n0\r\n\r\n", id="obs-text-in-token-value"),
    pytest.param(b"5;a=\"b\x01\"\r\nhello\r\n0\r\n\r\n", id="ctl-in-quoted-value"),
    pytest.param(b"5;a=\"\\\x01\"\r\nhello\r\n0\r\n\r\n", id="ctl-in-quoted-pair"),
    pytest.param(b"5;a=\"b\"c\r\nhello\r\n0\r\n\r\n", id="text-after-closing-quote"),
    pytest.param(b"5;a=\"b\r\nhello\r\n0\r\n\r\n", id="unterminated-quoted-value"),
    pytest.param(b"0\r\nX : y\r\n\r\n", id="trailer-space-before-colon"),
    pytest.param(b"0\r\nX: y\r\n z\r\n\r\n", id="trailer-obs-fold"),
    pytest.param(b"0\r\n: y\r\n\r\n", id="trailer-empty-name"),
    pytest.param(b"0\r\nX y\r\n\r\n", id="trailer-without-colon"),
    pytest.param(b"0\r\nX: \x00\r\n\r\n", id="trailer-nul-in-value"),
    pytest.param(b"0\r\nX: y\n\r\n", id="trailer-bare-lf"),
    pytest.param(b"0\r\nContent-Length: 5\r\n\r\n", id="trailer-content-length"),
    pytest.param(b"0\r\ntransfer-encoding: chunked\r\n\r\n", id="trailer-transfer-encoding"),
    pytest.param(b"0\r\n\n", id="bare-lf-ending-body"),
    pytest.param(b"0\r\n\r\r\n", id="cr-cr-lf-ending-body"),
])
def test_refused(http1, data):
    assert decode(http1, data) == 400


def test_a_response_body_is_refused_with_502(http1):
    assert decode(http1, b"5\r\nhelloXX", error_status=502) == 502


@pytest.mark.parametrize("data", [
    pytest.param(b"", id="nothing"),
    pytest.param(b"5;a=\"b", id="inside-an-extension"),
    pytest.param(b"5\r\nhel", id="inside-data"),
    pytest.param(b"5\r\nhello\r", id="before-data-lf"),
    pytest.param(b"0\r\nX: y\r\n", id="inside-trailers"),
    pytest.param(b"0\r\n\r", id="before-the-last-lf"),
])
def test_incomplete_bodies_wait_for_more_bytes(http1, data):
    assert decode(http1, data) is None
