"""Differential fuzzing against httptools (llhttp), the parser of the asyncio path.

The C parser is meant to accept a subset of what llhttp accepts: a request it forwards that the
asyncio path would have refused, or read differently, is exactly the disagreement a smuggler
looks for. Hypothesis builds pipelined requests from valid parts and hostile variants
(duplicated or conflicting Content-Length, CL with TE, TE spellings, bare LF and CR, obs-fold,
space before a colon, odd chunk sizes and extensions), optionally mutates one spot, and splits
the bytes into random receives. For every request the C parser completes, llhttp must complete
the same request: method, target, fields, keep-alive, upgrade, decoded body. And the C result
must not depend on where the receives were split.
"""

from __future__ import annotations

import httptools
from hypothesis import HealthCheck, given, settings, strategies as st

from dataplane_support import LIMITS

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

def mostly(valid: list, hostile: list, odds: int = 6):
    """One of ``valid`` most of the time, else one of ``hostile``: a request built from uniformly
    drawn parts would almost never be valid, and the test is about the ones the C parser accepts."""
    return st.sampled_from([True] * odds + [False]).flatmap(lambda ok: st.sampled_from(valid if ok else hostile))


METHODS = mostly([b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH", b"PROPFIND", b"M-SEARCH"],
                 [b"get", b"FOO", b"CONNECT", b"G T", b""], odds=12)
TARGETS = mostly([b"/", b"/a/b?c=d&e", b"/x#frag", b"/a?b?c", b"/%zz|{}^", b"http://example.com/p?q",
                  b"HTTPS://h:8443"],
                 [b"*", b"http://u@h/", b"ftp://h/", b"h:443", b"/sp ace", b"/\x7f", b"/\x80", b""], odds=10)
VERSIONS = mostly([b"HTTP/1.1", b"HTTP/1.0"], [b"HTTP/2.0", b"HTTP/1.1 ", b"http/1.1", b"HTTP/0.9"], odds=12)
SEPARATORS = mostly([b" "], [b"  ", b"\t", b""], odds=40)
LINE_ENDS = mostly([b"\r\n"], [b"\n", b"\r", b"\r\r\n"], odds=80)
CL_VALUES = mostly([b"0", b"3", b"5", b"007", b" 3 "],
                   [b"3,3", b"+3", b"-1", b"", b"3 3", b"0x3", b"18446744073709551616", b"99999999999999999999"])
TE_VALUES = mostly([b"chunked", b"Chunked", b" chunked\t"],
                   [b"gzip, chunked", b"chunked, chunked", b"identity", b"gzip", b"chunked;x=1", b"xchunked"])
FIELDS = mostly([b"Connection: close", b"Connection: keep-alive", b"Connection: Upgrade", b"Upgrade: websocket",
                 b"Connection: keep-alive, close", b"Connection: closed", b"Upgrade:", b"Expect: 100-continue",
                 b"X-A: v  ", b"X-B:\tv\tw", b"X-E: \xe9", b"X-F:", b"Accept: */*"],
                [b"Host: a", b"Host:", b"Host: a,b", b"Host : a", b"host: [::1]:80", b"X-C: \x01", b"X-D: a\x7f",
                 b"X-G: a\rb", b" folded", b"\tfolded", b"NoColon", b"X\"Y: 1", b": empty"], odds=10)
CHUNK_SIZES = mostly([b"%x", b"%X", b"00%x", b"%x;a=b", b"%x;a=\"q s\""],
                     [b"0x%x", b" %x", b"%x ", b"-%x", b"%x; a", b"%x;", b"%x;a=", b"%x;=b", b"%x;a\"",
                      b"fffffffffffffffff", b"%x\r\n"], odds=15)
LAST_CHUNKS = mostly([b"0", b"000", b"0;a=b"], [b"0 ", b"00;"], odds=12)
TRAILERS = mostly([b"X: y", b"X-Sum:1"], [b"X : y", b"Content-Length: 1", b"Transfer-Encoding: chunked", b" fold",
                                          b"X: \x00"], odds=8)
MUTATION_BYTES = [b"\r", b"\n", b" ", b"\t", b":", b"\x00", b",", b"0", b"a", b"\r\n", b";", b"\""]


@st.composite
def chunked_body(draw):
    out = b""
    for _ in range(draw(st.integers(0, 3))):
        data = draw(st.binary(min_size=1, max_size=20))
        template = draw(CHUNK_SIZES)
        out += (template % len(data) if b"%" in template else template) + draw(LINE_ENDS) + data + draw(LINE_ENDS)
    out += draw(LAST_CHUNKS) + draw(LINE_ENDS)
    for _ in range(draw(st.integers(0, 2))):
        out += draw(TRAILERS) + draw(LINE_ENDS)
    return out + draw(LINE_ENDS)


@st.composite
def request(draw):
    line = draw(METHODS) + draw(SEPARATORS) + draw(TARGETS) + draw(SEPARATORS) + draw(VERSIONS)
    fields = draw(st.lists(FIELDS, max_size=4))
    if draw(st.sampled_from([True] * 9 + [False])):
        fields.insert(0, b"Host: example.com")
    framing = draw(mostly(["none", "length", "chunked"], ["both", "lengths", "chunks"], odds=5))
    body = b""
    if framing in ("length", "both", "lengths"):
        value = draw(CL_VALUES)
        fields.append(b"Content-Length:" + draw(st.sampled_from([b" ", b""])) + value)
        if framing == "lengths":
            fields.append(b"Content-Length: " + draw(CL_VALUES))
        digits = value.strip()
        size = int(digits) if digits.isdigit() and int(digits) < 64 else 3
        body = draw(st.binary(min_size=size, max_size=size))
    if framing in ("chunked", "both", "chunks"):
        fields.append(b"Transfer-Encoding: " + draw(TE_VALUES))
        if framing == "chunks":
            fields.append(b"Transfer-Encoding: " + draw(TE_VALUES))
        body = draw(chunked_body())
    fields = draw(st.permutations(fields))
    return line + draw(LINE_ENDS) + b"".join(f + draw(LINE_ENDS) for f in fields) + draw(LINE_ENDS) + body


@st.composite
def stream(draw):
    data = b"".join(draw(st.lists(request(), min_size=1, max_size=3)))
    if draw(st.sampled_from([False] * 3 + [True])):
        at = draw(st.integers(0, len(data) - 1))
        patch = draw(st.sampled_from(MUTATION_BYTES))
        data = draw(st.sampled_from([data[:at] + patch + data[at + 1:], data[:at] + patch + data[at:],
                                     data[:at] + data[at + 1:]]))
    cuts = draw(st.lists(st.integers(1, max(len(data) - 1, 1)), max_size=8))
    return data, cuts


class _Llhttp:
    """Collects what httptools reports, message by message."""

    def __init__(self):
        self.messages = []
        self.current = None
        self.parser = httptools.HttpRequestParser(self)

    def on_message_begin(self):
        self.current = {"target": b"", "headers": [], "trailers": [], "body": b"", "complete": False}
        self.messages.append(self.current)

    def on_url(self, url):
        self.current["target"] += url

    def on_header(self, name, value):
        # After the head, llhttp reports trailer fields through the same callback.
        self.current["trailers" if "method" in self.current else "headers"].append((name, value))

    def on_headers_complete(self):
        self.current["method"] = self.parser.get_method()
        self.current["version"] = self.parser.get_http_version()
        self.current["keep_alive"] = self.parser.should_keep_alive()
        self.current["upgrade"] = self.parser.should_upgrade()

    def on_body(self, body):
        self.current["body"] += body

    def on_message_complete(self):
        self.current["complete"] = True

    def feed(self, data: bytes) -> str:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            return "upgrade"
        except httptools.HttpParserError:
            return "error"
        return "ok"


def _assert_same_request(ours: dict, theirs: dict, upgrade: bool) -> None:
    assert ours["method"] == theirs["method"]
    assert ours["target"] == theirs["target"]
    assert ours["version"] == theirs["version"]
    # llhttp keeps trailing whitespace in values; RFC 9110 5.5 says it is not part of the value.
    assert ours["headers"] == [(name, value.rstrip(b" \t")) for name, value in theirs["headers"]]
    names = {name.lower() for name, _ in ours["headers"]}
    tokens = {token.strip(b" \t") for name, value in ours["headers"] if name.lower() == b"connection"
              for token in value.lower().split(b",")}
    both = {b"close", b"keep-alive"} <= tokens and ours["version"] == "1.0"
    # llhttp keeps an HTTP/1.0 connection alive on "keep-alive, close"; the C parser lets close win.
    assert ours["keep_alive"] == (theirs["keep_alive"] and not both)
    assert ours["upgrade"] == upgrade == bool(theirs["upgrade"])
    if not upgrade:
        assert theirs["complete"]
        assert ours["body"] == theirs["body"]
        assert ours["framing"] == ("chunked" if b"transfer-encoding" in names else
                                   "length" if b"content-length" in names else "none")


@SETTINGS
@given(stream())
def test_every_request_the_c_parser_accepts_llhttp_reads_the_same(http1, case):
    data, cuts = case
    messages, outcome = http1.read_requests(data, LIMITS)
    assert http1.read_requests(data, LIMITS, cuts=cuts) == (messages, outcome), "split changed the result"
    if not messages:
        return
    theirs = _Llhttp()
    result = theirs.feed(data)
    assert len(theirs.messages) >= len(messages), (messages, theirs.messages, result)
    for index, ours in enumerate(messages):
        upgrade = outcome == "upgrade" and index == len(messages) - 1
        if upgrade:
            assert result == "upgrade" and len(theirs.messages) == len(messages)
        _assert_same_request(ours, theirs.messages[index], upgrade)


@settings(SETTINGS, max_examples=60)
@given(st.lists(st.sampled_from([b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
                                 b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
                                 b"PUT /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 b"3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n",
                                 b"\r\nHEAD /h?q HTTP/1.1\r\nHost: a\r\n\r\n"]), min_size=1, max_size=5),
       st.lists(st.integers(1, 400), max_size=12))
def test_valid_pipelines_are_read_whole_whatever_the_receives(http1, requests, cuts):
    data = b"".join(requests)
    messages, outcome = http1.read_requests(data, LIMITS, cuts=cuts)
    assert outcome == "end"
    assert len(messages) == len(requests)
    theirs = _Llhttp()
    assert theirs.feed(data) == "ok"
    for ours, their in zip(messages, theirs.messages):
        _assert_same_request(ours, their, False)


@settings(SETTINGS, max_examples=200)
@given(st.binary(max_size=200), st.lists(st.integers(1, 199), max_size=6))
def test_random_bytes_never_crash_and_do_not_depend_on_receives(http1, data, cuts):
    whole = http1.read_requests(data, LIMITS)
    assert http1.read_requests(data, LIMITS, cuts=cuts) == whole
    assert http1.inspect_chunked(data) == http1.inspect_chunked(data, cuts=cuts, max_spans=1)
    assert http1.inspect_response(data, LIMITS) == http1.inspect_response(data, LIMITS, cuts=cuts)
