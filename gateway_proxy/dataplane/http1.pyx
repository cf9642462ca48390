"""Strict HTTP/1.1 parsing for the C data plane: request heads, response heads, chunked bodies.

Why it exists: the asyncio path parses with httptools, one Python call and several Python objects
per header; the C event loop of issue 13 must not create any per request. These functions read a
``const char*`` receive buffer and fill C structs with spans (offsets into that buffer); they are
``noexcept nogil``, so the compiler rejects any Python object in them. What they decide is
shown to the tests by :mod:`gateway_proxy.dataplane.http1_inspect`, never from here.

Why strict: a proxy forwards what it parsed, and every place where it and the backend could read
the same bytes differently is a request-smuggling hole (RFC 9112 11.2). So this parser accepts a
subset of what llhttp accepts (proven by the differential test) and of what RFC 9112 allows; each
refusal below cites the rule it enforces. Errors answer with the statuses the asyncio path answers
(400 malformed, 405 CONNECT and ``OPTIONS *``, 414 target above MAX_URI, 431 head above MAX_HEAD or
more than MAX_HEADERS fields) and the connection closes, because the stream cannot be framed.

Incremental: a head arriving in several receives is scanned once; the caller passes the same
buffer start with a growing length, and the parser resumes at the line it stopped in.
"""

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t, UINT64_MAX
from libc.string cimport memchr, memcmp

from gateway_proxy.dataplane.spans cimport Span, HeaderSpan

# Octets by name; the parser compares unsigned bytes.
cdef enum:
    HT = 9
    LF = 10
    CR = 13
    SP = 32
    DQUOTE = 34
    HASH = 35
    SLASH = 47
    COLON = 58
    SEMICOLON = 59
    EQUALS = 61
    QUESTION = 63
    AT = 64
    LBRACKET = 91
    BACKSLASH = 92
    RBRACKET = 93

# Character classes, one bit each in CLASS[octet].
cdef enum:
    C_TCHAR = 1     # token (RFC 9110 5.6.2): method, field names, chunk-extension names and values
    C_VALUE = 2     # field-vchar / obs-text / SP / HTAB (RFC 9110 5.5): no CTL, no DEL
    C_TARGET = 4    # request-target octets: visible ASCII (what llhttp accepts; see _request_line)
    C_HOST = 8      # reg-name: unreserved / pct-encoded / sub-delims except "," (RFC 3986 3.2.2)
    C_HEX = 16
    C_DIGIT = 32
    C_QDTEXT = 64   # quoted-string text (RFC 9110 5.6.4)

cdef uint8_t CLASS[256]
cdef uint8_t LOWER[256]
cdef uint8_t HEXVAL[256]

# Field names the parser acts on, matched case-insensitively (RFC 9110 5.1).
cdef enum:
    F_OTHER = 0
    F_HOST = 1
    F_CONTENT_LENGTH = 2
    F_TRANSFER_ENCODING = 3
    F_CONNECTION = 4
    F_UPGRADE = 5
    F_EXPECT = 6

# The methods llhttp accepts for requests, so that no method the asyncio path serves is refused
# here; an unknown method is answered 400, as llhttp does, rather than forwarded.
_METHODS = (b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"CONNECT", b"OPTIONS", b"TRACE", b"PATCH",
            b"COPY", b"LOCK", b"MKCOL", b"MOVE", b"PROPFIND", b"PROPPATCH", b"SEARCH", b"UNLOCK", b"BIND",
            b"REBIND", b"UNBIND", b"ACL", b"REPORT", b"MKACTIVITY", b"CHECKOUT", b"MERGE", b"M-SEARCH",
            b"NOTIFY", b"SUBSCRIBE", b"UNSUBSCRIBE", b"PURGE", b"MKCALENDAR", b"LINK", b"UNLINK", b"SOURCE",
            b"QUERY")
cdef enum:
    METHOD_COUNT = 35
    LONGEST_METHOD = 11
cdef const char* METHOD_NAMES[METHOD_COUNT]
cdef uint8_t METHOD_LENGTHS[METHOD_COUNT]


cdef void _init_tables():
    cdef int c, i
    for c in range(256):
        CLASS[c] = 0
        LOWER[c] = c + 32 if 65 <= c <= 90 else c
        HEXVAL[c] = 0
        if 48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c in b"!#$%&'*+-.^_`|~":
            CLASS[c] |= C_TCHAR
        if c == HT or 32 <= c <= 126 or c >= 128:
            CLASS[c] |= C_VALUE
        if 33 <= c <= 126:
            CLASS[c] |= C_TARGET
        if 48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c in b"-._~%!$&'()*+;=":
            CLASS[c] |= C_HOST
        if 48 <= c <= 57:
            CLASS[c] |= C_DIGIT | C_HEX
            HEXVAL[c] = c - 48
        elif 97 <= c <= 102 or 65 <= c <= 70:
            CLASS[c] |= C_HEX
            HEXVAL[c] = (c | 32) - 87
        if c == HT or c == SP or c == 33 or 35 <= c <= 91 or 93 <= c <= 126 or c >= 128:
            CLASS[c] |= C_QDTEXT
    assert len(_METHODS) == METHOD_COUNT and max(map(len, _METHODS)) == LONGEST_METHOD
    for i in range(METHOD_COUNT):
        METHOD_NAMES[i] = _METHODS[i]  # the tuple keeps the bytes alive for the module's lifetime
        METHOD_LENGTHS[i] = len(_METHODS[i])


_init_tables()


# Small helpers ----------------------------------------------------------------------------------

cdef inline Span _span(uint32_t off, uint32_t length) noexcept nogil:
    cdef Span span
    span.off = off
    span.len = length
    return span


cdef inline bint _equals_lower(const uint8_t* p, Span span, const char* lower) noexcept nogil:
    """``span`` equals the lower-case ASCII ``lower``, ignoring case."""
    cdef uint32_t i
    for i in range(span.len):
        if lower[i] == 0 or LOWER[p[span.off + i]] != <uint8_t>lower[i]:
            return False
    return lower[span.len] == 0


cdef int _method_id(const uint8_t* p, uint32_t off, uint32_t length) noexcept nogil:
    cdef int i
    for i in range(METHOD_COUNT):
        if METHOD_LENGTHS[i] == length and memcmp(p + off, METHOD_NAMES[i], length) == 0:
            return i
    return -1


cdef bint _version(const uint8_t* p, uint32_t a, uint8_t* minor) noexcept nogil:
    """``HTTP/1.0`` or ``HTTP/1.1`` at ``a`` (8 octets, case-sensitive: RFC 9112 2.3). Other versions
    are refused: this proxy speaks HTTP/1.x only, and a 0.9 or 2.0 head has no framing to trust."""
    if memcmp(p + a, b"HTTP/1.", 7) != 0 or (p[a + 7] != 48 and p[a + 7] != 49):
        return False
    minor[0] = p[a + 7] - 48
    return True


cdef int _host_length(const uint8_t* p, uint32_t a, uint32_t e) noexcept nogil:
    """Length of the host in ``uri-host [":" port]`` over [a, e), or -1 if that is not its form.

    RFC 9112 3.2 makes an invalid Host a 400. The comma is refused although RFC 3986 allows it in a
    reg-name, because the asyncio path reads a comma as two Host fields folded into one."""
    cdef uint32_t i = a
    cdef uint32_t digits = 0
    if i < e and p[i] == LBRACKET:  # IP-literal (RFC 3986 3.2.2)
        i += 1
        while i < e and p[i] != RBRACKET:
            if not (CLASS[p[i]] & C_HEX or p[i] == COLON or p[i] == 46):
                return -1
            i += 1
        if i >= e or i == a + 1:
            return -1
        i += 1
    else:
        while i < e and CLASS[p[i]] & C_HOST:
            i += 1
    cdef uint32_t host_end = i
    if i < e:
        if p[i] != COLON:
            return -1
        i += 1
        while i < e:
            if not CLASS[p[i]] & C_DIGIT or digits == 5:
                return -1
            digits += 1
            i += 1
    return host_end - a


cdef int _split_field(const uint8_t* p, uint32_t a, uint32_t e, HeaderSpan* field) noexcept nogil:
    """Parse ``field-name ":" OWS field-value OWS`` over [a, e) (RFC 9112 5); 0 or -1."""
    cdef uint32_t i = a
    # obs-fold (a line starting with SP or HTAB) is refused, not unfolded: RFC 9112 5.2 lets a
    # server reject it with 400, and unfolding would forward a different header than received.
    # The same test refuses whitespace between the start line and the first field (RFC 9112 2.2).
    while i < e and CLASS[p[i]] & C_TCHAR:
        i += 1
    # An empty name, or anything but ":" after the token, is refused. That includes whitespace
    # before the colon, which RFC 9112 5.1 says a server MUST answer with 400.
    if i == a or i >= e or p[i] != COLON:
        return -1
    field.name = _span(a, i - a)
    i += 1
    while i < e and (p[i] == SP or p[i] == HT):
        i += 1
    cdef uint32_t v = i
    # Field values carry no CTL but HTAB and no DEL (RFC 9110 5.5): a NUL or bare CR is read
    # differently by different servers, which is all a smuggler needs.
    while i < e:
        if not CLASS[p[i]] & C_VALUE:
            return -1
        i += 1
    while e > v and (p[e - 1] == SP or p[e - 1] == HT):
        e -= 1
    field.value = _span(v, e - v)
    return 0


cdef int _field_kind(const uint8_t* p, Span name) noexcept nogil:
    cdef uint32_t n = name.len
    if n == 4 and _equals_lower(p, name, b"host"):
        return F_HOST
    if n == 14 and _equals_lower(p, name, b"content-length"):
        return F_CONTENT_LENGTH
    if n == 17 and _equals_lower(p, name, b"transfer-encoding"):
        return F_TRANSFER_ENCODING
    if n == 10 and _equals_lower(p, name, b"connection"):
        return F_CONNECTION
    if n == 7 and _equals_lower(p, name, b"upgrade"):
        return F_UPGRADE
    if n == 6 and _equals_lower(p, name, b"expect"):
        return F_EXPECT
    return F_OTHER


cdef int _content_length(const uint8_t* p, Span value, uint64_t* out) noexcept nogil:
    """Content-Length = 1*DIGIT (RFC 9110 8.6): no sign, no list, no overflow; 0 or -1."""
    cdef uint64_t n = 0
    cdef uint32_t i
    cdef uint8_t d
    if value.len == 0:
        return -1
    for i in range(value.off, value.off + value.len):
        if not CLASS[p[i]] & C_DIGIT:
            return -1
        d = p[i] - 48
        if n > (UINT64_MAX - d) // 10:
            return -1
        n = n * 10 + d
    out[0] = n
    return 0


cdef int _connection_options(const uint8_t* p, Span value, uint32_t* flags) noexcept nogil:
    """Connection = #token (RFC 9110 7.6.1). A list element that is not a token is refused, so
    that the keep-alive decision never rests on a guess about a malformed list."""
    cdef uint32_t i = value.off
    cdef uint32_t e = value.off + value.len
    cdef uint32_t start
    cdef Span token
    while i < e:
        while i < e and (p[i] == SP or p[i] == HT or p[i] == 44):  # empty elements are allowed (5.6.1)
            i += 1
        start = i
        while i < e and CLASS[p[i]] & C_TCHAR:
            i += 1
        token = _span(start, i - start)
        while i < e and (p[i] == SP or p[i] == HT):
            i += 1
        if i < e and p[i] != 44:
            return -1
        if token.len == 5 and _equals_lower(p, token, b"close"):
            flags[0] |= FLAG_CONNECTION_CLOSE
        elif token.len == 10 and _equals_lower(p, token, b"keep-alive"):
            flags[0] |= FLAG_CONNECTION_KEEP_ALIVE
        elif token.len == 7 and _equals_lower(p, token, b"upgrade"):
            flags[0] |= FLAG_CONNECTION_UPGRADE
    return 0


cdef int _framing_field(const uint8_t* p, int kind, Span value, uint8_t* framing,
                        uint64_t* content_length) noexcept nogil:
    """Content-Length and Transfer-Encoding, shared by requests and responses; 0 or -1.

    A second Content-Length is refused even when equal: RFC 9112 6.3 allows merging equal ones,
    but refusing is the only reading on which every hop agrees. Content-Length with
    Transfer-Encoding is refused (RFC 9112 6.1 permits it, and it is the classic CL.TE smuggle).
    Transfer-Encoding must be exactly one field saying ``chunked``: RFC 9112 6.3 makes any request
    whose final coding is not chunked a 400, and the proxy applies no other coding, so a list
    (``gzip, chunked``, ``chunked, chunked``) would be forwarded with a meaning it does not check.
    An HTAB after ``chunked`` is refused although it is OWS: llhttp does not read
    ``chunked<HTAB>`` as chunked, and two hops that disagree on that are the TE.TE smuggle.
    """
    cdef uint32_t i
    if kind == F_CONTENT_LENGTH:
        if framing[0] != FRAMING_NONE:
            return -1
        if _content_length(p, value, content_length) < 0:
            return -1
        framing[0] = FRAMING_LENGTH
    else:
        if framing[0] != FRAMING_NONE or not (value.len == 7 and _equals_lower(p, value, b"chunked")):
            return -1
        i = value.off + value.len
        while p[i] != CR:  # the trailing OWS the value span left out; the line ends in CR
            if p[i] == HT:
                return -1
            i += 1
        framing[0] = FRAMING_CHUNKED
    return 0


cdef int _next_line(uint32_t* line_start, uint32_t* scan, const uint8_t* p, uint32_t length,
                    uint32_t* end) noexcept nogil:
    """Find the current line's LF: 1 with ``end`` at its CR, 0 if it has not arrived, -1 if the
    line ends in a bare LF (RFC 9112 2.2: only CRLF ends a line; a lone LF is where parsers
    disagree)."""
    cdef uint32_t s = scan[0] if scan[0] > line_start[0] else line_start[0]
    cdef const uint8_t* nl = NULL
    if s < length:
        nl = <const uint8_t*>memchr(p + s, LF, length - s)
    if nl == NULL:
        scan[0] = length
        return 0
    cdef uint32_t lf = nl - p
    if lf == line_start[0] or p[lf - 1] != CR:
        return -1
    end[0] = lf - 1
    return 1


# Requests ---------------------------------------------------------------------------------------

cdef void request_reset(RequestHead* head) noexcept nogil:
    head.line_start = 0
    head.scan = 0
    head.in_headers = 0
    head.method = _span(0, 0)
    head.method_id = 0
    head.target = _span(0, 0)
    head.target_form = 0
    head.path = _span(0, 0)
    head.query = _span(0, 0)
    head.version_minor = 0
    head.header_count = 0
    head.host = _span(0, 0)
    head.host_fields = 0
    head.framing = FRAMING_NONE
    head.content_length = 0
    head.keep_alive = 0
    head.upgrade = 0
    head.flags = 0


cdef int _request_line(RequestHead* head, const uint8_t* p, uint32_t a, uint32_t e,
                       const Limits* limits) noexcept nogil:
    """``method SP request-target SP HTTP-version`` over [a, e); 0 or minus a status.

    Exactly one SP between the parts (RFC 9112 3): llhttp also accepts runs of spaces, and 3
    warns that such lenient parsing is a smuggling vector when hops disagree."""
    cdef uint32_t i = a
    while i < e and CLASS[p[i]] & C_TCHAR:
        i += 1
    if i == a or i >= e or p[i] != SP:
        return HTTP1_BAD_REQUEST
    cdef int method = _method_id(p, a, i - a)
    if method < 0:
        return HTTP1_BAD_REQUEST
    head.method = _span(a, i - a)
    head.method_id = method
    i += 1
    cdef uint32_t t = i
    # Target octets: visible ASCII only, no CTL, no SP, no DEL, no octet above 0x7F. That is
    # llhttp's set, wider than RFC 3986's (it lets "|", "{", '"' through): those cannot change
    # framing, real clients send them, and refusing them would answer the same request
    # differently from the asyncio path.
    while i < e and p[i] != SP:
        if not CLASS[p[i]] & C_TARGET:
            return HTTP1_BAD_REQUEST
        i += 1
    if i - t > limits.max_uri:
        return HTTP1_URI_TOO_LONG
    if i == t or e - i != 9 or not _version(p, i + 1, &head.version_minor):
        return HTTP1_BAD_REQUEST
    head.target = _span(t, i - t)
    return 0


cdef int _partial_request_line(RequestHead* head, const uint8_t* p, uint32_t a, uint32_t length,
                               const Limits* limits) noexcept nogil:
    """A request line still without its LF: answer 414 as soon as the target outgrows the limit,
    as the asyncio path does, instead of waiting for MAX_HEAD bytes."""
    if length - a <= limits.max_uri:
        return HTTP1_INCOMPLETE  # the target cannot be too long yet
    cdef uint32_t window = length - a if length - a < LONGEST_METHOD + 1 else LONGEST_METHOD + 1
    cdef const uint8_t* sp = <const uint8_t*>memchr(p + a, SP, window)
    if sp == NULL:
        return HTTP1_BAD_REQUEST  # no known method is that long
    cdef uint32_t t = sp - p + 1
    sp = <const uint8_t*>memchr(p + t, SP, length - t)
    cdef uint32_t target_end = length if sp == NULL else <uint32_t>(sp - p)
    if target_end - t > limits.max_uri:
        return HTTP1_URI_TOO_LONG
    if length - target_end > 10:  # more than " HTTP/1.1\r" and still no LF
        return HTTP1_BAD_REQUEST
    return HTTP1_INCOMPLETE


cdef void _split_path(RequestHead* head, const uint8_t* p, uint32_t i, uint32_t e) noexcept nogil:
    """path up to "?" or "#", query after "?" up to "#" (RFC 3986 3). A fragment is not part of
    a request-target, but the asyncio path drops it rather than refusing it, so this does too."""
    cdef uint32_t start = i
    while i < e and p[i] != QUESTION and p[i] != HASH:
        i += 1
    head.path = _span(start, i - start)
    head.query = _span(i, 0)
    if i < e and p[i] == QUESTION:
        i += 1
        start = i
        while i < e and p[i] != HASH:
            i += 1
        head.query = _span(start, i - start)


cdef int _request_target(RequestHead* head, const uint8_t* p) noexcept nogil:
    """Classify the target (RFC 9112 3.2) the way the asyncio path's ``exchange.prepare`` does: 0,
    400 or 405. CONNECT and ``OPTIONS *`` are not served here (405)."""
    cdef uint32_t t = head.target.off
    cdef uint32_t e = t + head.target.len
    cdef uint32_t i, authority
    if p[t] == SLASH:
        head.target_form = TARGET_ORIGIN
        _split_path(head, p, t, e)
        return 0
    i = t
    if head.target.len >= 7 and _equals_lower(p, _span(t, 7), b"http://"):
        i = t + 7
    elif head.target.len >= 8 and _equals_lower(p, _span(t, 8), b"https://"):
        i = t + 8
        head.flags |= FLAG_HTTPS
    if i == t:
        # asterisk-form belongs to OPTIONS (RFC 9112 3.2.4) and authority-form to CONNECT (3.2.3);
        # the proxy serves neither, so those two are 405. Any other target here is malformed, 400,
        # also for OPTIONS: llhttp refuses ``OPTIONS host:443`` before the asyncio path sees it.
        if head.method_id == METHOD_CONNECT or (head.method_id == METHOD_OPTIONS and head.target.len == 1
                                                and p[t] == 42):  # "*"
            return 405
        return 400
    authority = i
    while i < e and p[i] != SLASH and p[i] != QUESTION and p[i] != HASH:
        if p[i] == AT:
            return 400  # userinfo: RFC 9110 4.2.4 says treat it as an error
        i += 1
    if _host_length(p, authority, i) <= 0:
        return 400
    # RFC 9112 3.2.2: with an absolute-form target the authority replaces Host.
    head.host = _span(authority, i - authority)
    head.target_form = TARGET_ABSOLUTE
    _split_path(head, p, i, e)
    return 0


cdef int _request_field(RequestHead* head, const uint8_t* p, uint32_t a, uint32_t e,
                        uint32_t max_headers) noexcept nogil:
    if head.header_count >= max_headers:
        return HTTP1_HEADERS_TOO_LARGE
    cdef HeaderSpan* field = &head.headers[head.header_count]
    if _split_field(p, a, e, field) < 0:
        return HTTP1_BAD_REQUEST
    head.header_count += 1
    cdef int kind = _field_kind(p, field.name)
    if kind == F_OTHER:
        return 0
    if kind == F_HOST:
        # RFC 9112 3.2: more than one Host field line, or an invalid Host value, is a 400.
        head.host_fields += 1
        if head.host_fields > 1 or _host_length(p, field.value.off, field.value.off + field.value.len) < 0:
            return HTTP1_BAD_REQUEST
        head.host = field.value
    elif kind == F_CONTENT_LENGTH or kind == F_TRANSFER_ENCODING:
        if _framing_field(p, kind, field.value, &head.framing, &head.content_length) < 0:
            return HTTP1_BAD_REQUEST
    elif kind == F_CONNECTION:
        if _connection_options(p, field.value, &head.flags) < 0:
            return HTTP1_BAD_REQUEST
    elif kind == F_UPGRADE:
        if field.value.len:  # an empty Upgrade offers no protocol; llhttp ignores it too
            head.flags |= FLAG_UPGRADE_HEADER
    elif kind == F_EXPECT:
        if field.value.len == 12 and _equals_lower(p, field.value, b"100-continue"):
            head.flags |= FLAG_EXPECT_CONTINUE
    return 0


cdef int _request_end(RequestHead* head, const uint8_t* p, uint32_t head_length) noexcept nogil:
    """The checks that need the whole head; the head length or minus a status."""
    # RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message means the framing is faulty.
    if head.framing == FRAMING_CHUNKED and head.version_minor == 0:
        return HTTP1_BAD_REQUEST
    # Statuses combine as in exchange.prepare: the target's, then a missing Host keeps an earlier
    # 405, an invalid Host is 400, CONNECT is always 405.
    cdef int status = _request_target(head, p)
    # RFC 9112 3.2: an HTTP/1.1 request without Host is a 400, whatever the target's form.
    if head.host_fields == 0 and head.version_minor == 1 and status == 0:
        status = 400
    if head.method_id == METHOD_CONNECT:
        status = 405
    if status:
        return -status
    if head.version_minor == 1:
        head.keep_alive = not head.flags & FLAG_CONNECTION_CLOSE
    else:
        # HTTP/1.0 persists only when asked to (RFC 9112 9.3); close wins over keep-alive.
        head.keep_alive = (head.flags & FLAG_CONNECTION_KEEP_ALIVE) and not head.flags & FLAG_CONNECTION_CLOSE
    head.upgrade = (head.flags & FLAG_CONNECTION_UPGRADE) and (head.flags & FLAG_UPGRADE_HEADER)
    return head_length


cdef int parse_request(RequestHead* head, const char* buf, uint32_t length, const Limits* limits) noexcept nogil:
    """Parse the request head at ``buf``: its length when complete, 0 when more bytes are needed,
    or minus the status to answer. Call again with the same ``buf`` and a larger ``length`` after
    0; call ``request_reset`` before the next request (whose ``buf`` is this one plus the head
    and body)."""
    cdef const uint8_t* p = <const uint8_t*>buf
    cdef uint32_t max_headers = limits.max_headers if limits.max_headers < HTTP1_HEADER_CAPACITY \
        else HTTP1_HEADER_CAPACITY
    cdef uint32_t a, e
    cdef int found, status
    while True:
        a = head.line_start
        found = _next_line(&head.line_start, &head.scan, p, length, &e)
        if found < 0:
            return HTTP1_BAD_REQUEST
        if found == 0:
            if not head.in_headers:
                status = _partial_request_line(head, p, a, length, limits)
                if status:
                    return status
            return HTTP1_HEADERS_TOO_LARGE if length > limits.max_head else HTTP1_INCOMPLETE
        if not head.in_headers:
            if e == a:
                pass  # an empty line before the request line is ignored (RFC 9112 2.2)
            else:
                status = _request_line(head, p, a, e, limits)
                if status:
                    return status
                head.in_headers = 1
        elif e == a:
            if e + 2 > limits.max_head:
                return HTTP1_HEADERS_TOO_LARGE
            return _request_end(head, p, e + 2)
        else:
            status = _request_field(head, p, a, e, max_headers)
            if status:
                return status
        if e + 2 > limits.max_head:
            return HTTP1_HEADERS_TOO_LARGE
        head.line_start = e + 2
        head.scan = e + 2


# Responses --------------------------------------------------------------------------------------

cdef void response_reset(ResponseHead* head) noexcept nogil:
    head.line_start = 0
    head.scan = 0
    head.in_headers = 0
    head.status = 0
    head.reason = _span(0, 0)
    head.version_minor = 0
    head.header_count = 0
    head.framing = FRAMING_NONE
    head.content_length = 0
    head.keep_alive = 0
    head.flags = 0


cdef int _status_line(ResponseHead* head, const uint8_t* p, uint32_t a, uint32_t e) noexcept nogil:
    """``HTTP-version SP 3DIGIT SP reason-phrase`` (RFC 9112 4); 0 or -1. A missing SP after an
    empty reason is tolerated, as llhttp does: many backends omit it, and it cannot change framing."""
    if e - a < 12 or not _version(p, a, &head.version_minor) or p[a + 8] != SP:
        return -1
    cdef uint32_t i
    cdef uint16_t status = 0
    for i in range(a + 9, a + 12):
        if not CLASS[p[i]] & C_DIGIT:
            return -1
        status = status * 10 + (p[i] - 48)
    if status < 100 or status > 599:  # RFC 9110 15: the first digit is the class, 1 to 5
        return -1
    head.status = status
    if e == a + 12:
        head.reason = _span(e, 0)
        return 0
    if p[a + 12] != SP:
        return -1
    for i in range(a + 13, e):
        if not CLASS[p[i]] & C_VALUE:  # HTAB / SP / VCHAR / obs-text (RFC 9112 4)
            return -1
    head.reason = _span(a + 13, e - a - 13)
    return 0


cdef int _response_field(ResponseHead* head, const uint8_t* p, uint32_t a, uint32_t e,
                         uint32_t max_headers) noexcept nogil:
    if head.header_count >= max_headers:
        return -1
    cdef HeaderSpan* field = &head.headers[head.header_count]
    if _split_field(p, a, e, field) < 0:
        return -1
    head.header_count += 1
    cdef int kind = _field_kind(p, field.name)
    if kind == F_CONTENT_LENGTH or kind == F_TRANSFER_ENCODING:
        return _framing_field(p, kind, field.value, &head.framing, &head.content_length)
    if kind == F_CONNECTION:
        return _connection_options(p, field.value, &head.flags)
    if kind == F_UPGRADE and field.value.len:
        head.flags |= FLAG_UPGRADE_HEADER
    return 0


cdef int _response_end(ResponseHead* head, bint head_request, uint32_t head_length) noexcept nogil:
    if head.framing == FRAMING_CHUNKED and head.version_minor == 0:
        return HTTP1_BAD_GATEWAY  # RFC 9112 6.1, as for requests
    cdef uint16_t status = head.status
    if head_request or status < 200 or status == 204 or status == 304:
        # RFC 9112 6.3 rule 1: these end at the head whatever their framing fields say.
        head.framing = FRAMING_NONE
        head.content_length = 0
    elif head.framing == FRAMING_NONE:
        head.framing = FRAMING_CLOSE  # RFC 9112 6.3 rule 8: read until the backend closes
    if head.version_minor == 1:
        head.keep_alive = not head.flags & FLAG_CONNECTION_CLOSE
    else:
        head.keep_alive = (head.flags & FLAG_CONNECTION_KEEP_ALIVE) and not head.flags & FLAG_CONNECTION_CLOSE
    if head.framing == FRAMING_CLOSE or status == 101:
        head.keep_alive = 0  # the connection ends the body, or stops speaking HTTP/1.1
    return head_length


cdef int parse_response(ResponseHead* head, const char* buf, uint32_t length, const Limits* limits,
                        bint head_request) noexcept nogil:
    """Parse a backend's response head; as ``parse_request``, every error being 502. A 1xx head
    is returned like any other: the caller skips it and parses the next one after it."""
    cdef const uint8_t* p = <const uint8_t*>buf
    cdef uint32_t max_headers = limits.max_headers if limits.max_headers < HTTP1_HEADER_CAPACITY \
        else HTTP1_HEADER_CAPACITY
    cdef uint32_t a, e
    cdef int found
    while True:
        a = head.line_start
        found = _next_line(&head.line_start, &head.scan, p, length, &e)
        if found < 0:
            return HTTP1_BAD_GATEWAY
        if found == 0:
            return HTTP1_BAD_GATEWAY if length > limits.max_head else HTTP1_INCOMPLETE
        if e + 2 > limits.max_head:
            return HTTP1_BAD_GATEWAY
        if not head.in_headers:
            if e != a:  # empty lines before the status line are skipped, as llhttp does
                if _status_line(head, p, a, e) < 0:
                    return HTTP1_BAD_GATEWAY
                head.in_headers = 1
        elif e == a:
            return _response_end(head, head_request, e + 2)
        elif _response_field(head, p, a, e, max_headers) < 0:
            return HTTP1_BAD_GATEWAY
        head.line_start = e + 2
        head.scan = e + 2


# Chunked bodies ---------------------------------------------------------------------------------

# Decoder states: one per position in RFC 9112 7.1's grammar, so that any receive boundary is fine.
cdef enum:
    CH_SIZE_FIRST = 0      # first HEXDIG of chunk-size
    CH_SIZE = 1            # more HEXDIG, ";" or CR
    CH_EXT_NAME_FIRST = 2  # after ";"
    CH_EXT_NAME = 3
    CH_EXT_VALUE_FIRST = 4 # after "="
    CH_EXT_VALUE = 5       # token value
    CH_EXT_QUOTED = 6      # inside a quoted-string value
    CH_EXT_QUOTED_PAIR = 7 # after a backslash in it
    CH_EXT_QUOTED_END = 8  # after its closing quote
    CH_SIZE_LF = 9
    CH_DATA = 10
    CH_DATA_CR = 11
    CH_DATA_LF = 12
    CH_TRAILER_LINE = 13   # start of a trailer field line, or of the final CRLF
    CH_TRAILER_NAME = 14
    CH_TRAILER_VALUE = 15
    CH_TRAILER_LF = 16
    CH_END_LF = 17
    CH_DONE = 18
    CH_FAILED = 19


cdef void chunked_reset(ChunkedDecoder* decoder, int error_status) noexcept nogil:
    decoder.state = CH_SIZE_FIRST
    decoder.error = -error_status
    decoder.size = 0
    decoder.name_len = 0


cdef bint chunked_done(const ChunkedDecoder* decoder) noexcept nogil:
    return decoder.state == CH_DONE


cdef bint _framing_trailer(const ChunkedDecoder* decoder) noexcept nogil:
    """A trailer may not carry framing (RFC 9110 6.5.1): it arrives after the body it would frame,
    and llhttp refuses these two there as well."""
    cdef uint8_t n = decoder.name_len
    return (n == 14 and memcmp(decoder.name, b"content-length", 14) == 0) or \
        (n == 17 and memcmp(decoder.name, b"transfer-encoding", 17) == 0)


cdef inline bint _step(ChunkedDecoder* d, uint8_t c) noexcept nogil:
    """Advance the decoder over one octet outside chunk data; False if the octet is refused."""
    cdef uint8_t state = d.state
    if state == CH_SIZE_FIRST or state == CH_SIZE:
        if CLASS[c] & C_HEX:
            if d.size >> 60:  # a 17th significant digit overflows 64 bits
                return False
            d.size = (d.size << 4) | HEXVAL[c]
            d.state = CH_SIZE
            return True
        if state == CH_SIZE_FIRST:
            return False
        if c == SEMICOLON:
            d.state = CH_EXT_NAME_FIRST
        elif c == CR:
            d.state = CH_SIZE_LF
        else:
            return False  # includes SP and HTAB: no BWS (see chunked_decode), no "0x", no sign
    elif state == CH_EXT_NAME_FIRST:
        if not CLASS[c] & C_TCHAR:
            return False  # an empty extension name (";;" or ";=") is not the grammar
        d.state = CH_EXT_NAME
    elif state == CH_EXT_NAME or state == CH_EXT_VALUE:
        if CLASS[c] & C_TCHAR:
            return True
        if c == EQUALS and state == CH_EXT_NAME:
            d.state = CH_EXT_VALUE_FIRST
        elif c == SEMICOLON:
            d.state = CH_EXT_NAME_FIRST
        elif c == CR:
            d.state = CH_SIZE_LF
        else:
            return False
    elif state == CH_EXT_VALUE_FIRST:
        if CLASS[c] & C_TCHAR:
            d.state = CH_EXT_VALUE
        elif c == DQUOTE:
            d.state = CH_EXT_QUOTED
        else:
            return False  # "name=" with no value
    elif state == CH_EXT_QUOTED:
        if c == DQUOTE:
            d.state = CH_EXT_QUOTED_END
        elif c == BACKSLASH:
            d.state = CH_EXT_QUOTED_PAIR
        elif not CLASS[c] & C_QDTEXT:
            return False
    elif state == CH_EXT_QUOTED_PAIR:
        if not CLASS[c] & C_VALUE:  # quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
            return False
        d.state = CH_EXT_QUOTED
    elif state == CH_EXT_QUOTED_END:
        if c == SEMICOLON:
            d.state = CH_EXT_NAME_FIRST
        elif c == CR:
            d.state = CH_SIZE_LF
        else:
            return False
    elif state == CH_SIZE_LF:
        if c != LF:
            return False  # bare CR (RFC 9112 2.2)
        d.state = CH_TRAILER_LINE if d.size == 0 else CH_DATA
    elif state == CH_DATA_CR:
        if c != CR:
            return False  # the data must be followed by exactly CRLF (RFC 9112 7.1)
        d.state = CH_DATA_LF
    elif state == CH_DATA_LF:
        if c != LF:
            return False
        d.state = CH_SIZE_FIRST
    elif state == CH_TRAILER_LINE:
        if c == CR:
            d.state = CH_END_LF
        elif CLASS[c] & C_TCHAR:
            d.name[0] = LOWER[c]
            d.name_len = 1
            d.state = CH_TRAILER_NAME
        else:
            return False  # includes obs-fold and an empty name, as in the head
    elif state == CH_TRAILER_NAME:
        if CLASS[c] & C_TCHAR:
            if d.name_len < sizeof(d.name):
                d.name[d.name_len] = LOWER[c]
                d.name_len += 1
            elif d.name_len < 255:
                d.name_len += 1  # too long to be a framing field; keep counting
        elif c == COLON and not _framing_trailer(d):
            d.state = CH_TRAILER_VALUE
        else:
            return False
    elif state == CH_TRAILER_VALUE:
        if c == CR:
            d.state = CH_TRAILER_LF
        elif not CLASS[c] & C_VALUE:
            return False
    elif state == CH_TRAILER_LF:
        if c != LF:
            return False
        d.state = CH_TRAILER_LINE
    elif state == CH_END_LF:
        if c != LF:
            return False
        d.state = CH_DONE
    else:
        return False
    return True


cdef int64_t chunked_decode(ChunkedDecoder* decoder, const char* buf, uint32_t start, uint32_t end,
                            Span* spans, uint32_t max_spans, uint32_t* span_count) noexcept nogil:
    """Decode [start, end) of a chunked body; returns the offset decoding stopped at, or
    ``decoder.error`` (minus 400 or 502) for a malformed body.

    Chunk data found is written to ``spans`` (offsets into ``buf``), at most ``max_spans``; it
    stops early when they are full (call again from the returned offset) or when the body ended
    (``chunked_done``; the next message starts at the returned offset). Nothing is buffered:
    the bytes before the returned offset are no longer needed, except the data spans.

    Chunk extensions are parsed to the grammar of RFC 9112 7.1.1 and dropped, as 7.1.1 allows
    for unrecognised ones (the proxy re-frames the body). Whitespace around ";" and "=" (BWS) is
    refused although 7.1.1 admits it: llhttp refuses it too, and a front end that reads a chunk
    line differently from the next hop is how chunk smuggling works. Trailer fields are checked
    like header fields and dropped.
    """
    cdef const uint8_t* p = <const uint8_t*>buf
    cdef uint32_t i = start
    cdef uint32_t count = 0
    cdef uint32_t n
    span_count[0] = 0
    if decoder.state == CH_FAILED:
        return decoder.error
    while i < end and decoder.state != CH_DONE:
        if decoder.state == CH_DATA:
            if count == max_spans:
                break
            n = end - i
            if decoder.size < n:
                n = <uint32_t>decoder.size
            spans[count] = _span(i, n)
            count += 1
            decoder.size -= n
            i += n
            if decoder.size == 0:
                decoder.state = CH_DATA_CR
        elif _step(decoder, p[i]):
            i += 1
        else:
            decoder.state = CH_FAILED
            return decoder.error
    span_count[0] = count
    return i
