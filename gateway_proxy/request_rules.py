"""The request-head rules llhttp does not enforce, so that the asyncio path refuses what the C parser refuses.

Why it exists: both builds must answer byte-identically (issue 13). The C data plane parses with
``dataplane/http1.pyx``, which refuses every ambiguity a front end and a backend could read
differently (RFC 9112 11.2, request smuggling); the asyncio path parses with httptools (llhttp),
which accepts more. This module holds the difference, as plain functions of what httptools
reports (the version, each field as ``on_header`` sees it, the target), with the C parser's
statuses: 400, and 405 for the targets the proxy does not serve. ``downstream`` calls
:func:`field_status` per field and ``exchange.prepare`` calls :func:`head_status` once the head
is complete, which is the order the C parser checks in (request line, each field line as it
arrives, then the whole head), so a head breaking several rules gets the same status from both.

What llhttp hides cannot be checked here: it skips runs of spaces in the request line (RFC 9112 3
wants exactly one) and accepts an empty chunk-extension name or value (``;=v``, ``;n=``, ``;;n``,
against RFC 9112 7.1.1) without reporting the line to any callback. Those stay refused by the C
parser only; ``tests/gateway_proxy/test_asyncio_path_refuses_like_the_c_parser.py`` lists them.
"""

from __future__ import annotations

# Results of field_status besides a status: the field was fine, or it was a valid Host field
# (the caller counts those, since a second one is refused).
FIELD_OK = 0
FIELD_HOST = 1

BAD_REQUEST = 400
METHOD_NOT_ALLOWED = 405

# RFC 9110 5.6.2 tchar, for Connection options.
_TCHAR = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# RFC 3986 3.2.2 reg-name octets (unreserved, pct-encoded, sub-delims) without ",": the asyncio
# path joins repeated fields with ",", so a comma in Host would read as two Host fields.
_REG_NAME = frozenset(b"-._~%!$&'()*+;=0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_IP_LITERAL = frozenset(b"0123456789abcdefABCDEF:.")
_DIGITS = frozenset(b"0123456789")
_OWS = b" \t"
# Only these fields carry a rule; their name lengths let every other field skip the lower-casing.
_CHECKED = {b"host": 1, b"transfer-encoding": 2, b"connection": 3}
_CHECKED_LENGTHS = frozenset(len(name) for name in _CHECKED)


def version_status(version: str) -> int:
    """HTTP/1.0 and HTTP/1.1 only (``version`` as httptools' ``get_http_version`` gives it).

    llhttp accepts any single-digit major and minor; a 2.0 or 0.9 request line on an HTTP/1
    connection has no framing this proxy can trust, so, as in the C parser, it is a 400."""
    return 0 if version == "1.1" or version == "1.0" else BAD_REQUEST


def host_length(value: bytes) -> int:
    """Length of the host in ``uri-host [":" port]``, or -1 when ``value`` is not of that form.

    RFC 9112 3.2 makes an invalid Host a 400. The port is up to five digits (its range is not
    checked, as in the C parser); an IP-literal holds hex digits, ":" and "." only."""
    end = len(value)
    i = 0
    if end and value[0] == 0x5B:  # "[" IP-literal "]" (RFC 3986 3.2.2)
        i = 1
        while i < end and value[i] != 0x5D:
            if value[i] not in _IP_LITERAL:
                return -1
            i += 1
        if i >= end or i == 1:
            return -1
        i += 1
    else:
        while i < end and value[i] in _REG_NAME:
            i += 1
    host_end = i
    if i < end:
        if value[i] != 0x3A:  # ":"
            return -1
        port = value[i + 1:]
        if len(port) > 5 or any(c not in _DIGITS for c in port):
            return -1
    return host_end


def _connection_ok(value: bytes) -> bool:
    """Connection = #token (RFC 9110 7.6.1), empty elements allowed (RFC 9110 5.6.1). A list
    element that is not a token is refused, so that keep-alive never rests on a guess."""
    for element in value.split(b","):
        element = element.strip(_OWS)
        if any(c not in _TCHAR for c in element):
            return False
    return True


def _chunked_ok(value: bytes) -> bool:
    """Transfer-Encoding must say exactly ``chunked`` (RFC 9112 6.3: a request whose final coding
    is not chunked is a 400; the proxy applies no other coding, so ``gzip, chunked`` would be
    forwarded with a meaning it does not check). An HTAB after it is refused although it is OWS,
    as the C parser refuses it: llhttp does not read ``chunked<HTAB>`` as chunked, and two hops
    that disagree on that are the TE.TE smuggle."""
    stripped = value.rstrip(_OWS)
    return stripped.lower() == b"chunked" and b"\t" not in value[len(stripped):]


def field_status(name: bytes, value: bytes) -> int:
    """Check one field line as httptools' ``on_header`` reports it (leading OWS already gone).

    FIELD_OK, FIELD_HOST for a valid Host field, or 400. A Host value must be a valid
    ``uri-host [":" port]`` (RFC 9112 3.2); Transfer-Encoding see :func:`_chunked_ok`;
    Connection see :func:`_connection_ok`. Repeated Host fields are the caller's to count."""
    if len(name) not in _CHECKED_LENGTHS:
        return FIELD_OK
    kind = _CHECKED.get(name.lower(), 0)
    if kind == 1:
        return FIELD_HOST if host_length(value.rstrip(_OWS)) >= 0 else BAD_REQUEST
    if kind == 2:
        return FIELD_OK if _chunked_ok(value) else BAD_REQUEST
    if kind == 3:
        return FIELD_OK if _connection_ok(value) else BAD_REQUEST
    return FIELD_OK


def split_absolute(target: bytes):
    """(scheme is https, authority, path, query) of an ``http://`` or ``https://`` target, scheme
    matched case-insensitively (RFC 9110 4.2.3); None for any other target. The path is up to
    "?" or "#", the query after "?" up to "#" (RFC 3986 3); an empty path is "/"."""
    lowered = target[:8].lower()
    if lowered[:7] == b"http://":
        start, https = 7, False
    elif lowered == b"https://":
        start, https = 8, True
    else:
        return None
    end = start
    size = len(target)
    while end < size and target[end] not in b"/?#":
        end += 1
    rest = target[end:]
    fragment = rest.find(b"#")
    if fragment >= 0:
        rest = rest[:fragment]
    question = rest.find(b"?")
    path, query = (rest, b"") if question < 0 else (rest[:question], rest[question + 1:])
    return https, target[start:end], path or b"/", query


def target_status(method: str, target: bytes) -> int:
    """0 for a target the proxy serves, else its status (RFC 9112 3.2).

    origin-form (``/...``) and absolute-form with the http or https scheme are served. An
    absolute-form authority with userinfo is an error (RFC 9110 4.2.4), and one without a valid
    host is a 400 like a bad Host. asterisk-form (``OPTIONS *``, RFC 9112 3.2.4) and
    authority-form (CONNECT's, 3.2.3) are not served: 405 for those two methods with their form,
    400 for any other target, whatever the method (llhttp refuses ``OPTIONS host:443`` itself)."""
    if target[:1] == b"/":
        return 0
    parts = split_absolute(target)
    if parts is None:
        if method == "CONNECT" or (method == "OPTIONS" and target == b"*"):
            return METHOD_NOT_ALLOWED
        return BAD_REQUEST
    authority = parts[1]
    if b"@" in authority or host_length(authority) <= 0:
        return BAD_REQUEST
    return 0


def head_status(method: str, target: bytes, version: str, host_fields: int, transfer_encoding: bool) -> int:
    """The checks that need the whole head, in the C parser's order; 0 or the status.

    Transfer-Encoding in HTTP/1.0 means the framing is faulty (RFC 9112 6.1). Then the target's
    status; an HTTP/1.1 request without a Host field is a 400 whatever the target's form (RFC
    9112 3.2: an absolute-form authority replaces Host's value, not the need to send it), unless
    the target was already refused; CONNECT is a 405 whatever else holds."""
    status = version_status(version)
    if status:
        return status
    if transfer_encoding and version == "1.0":
        return BAD_REQUEST
    status = target_status(method, target)
    if status == 0 and host_fields == 0 and version == "1.1":
        status = BAD_REQUEST
    if method == "CONNECT":
        status = METHOD_NOT_ALLOWED
    return status


def keep_alive(version: str, llhttp_keep_alive: bool, connection: str | None) -> bool:
    """llhttp's keep-alive decision, except that ``close`` wins over ``keep-alive`` in HTTP/1.0.

    RFC 9112 9.3 lets an HTTP/1.0 connection persist only when asked to, and 9.6 says a
    ``close`` option ends it; llhttp keeps ``Connection: keep-alive, close`` open."""
    if llhttp_keep_alive and version == "1.0" and connection:
        for option in connection.split(","):
            if option.strip(" \t").lower() == "close":
                return False
    return llhttp_keep_alive
