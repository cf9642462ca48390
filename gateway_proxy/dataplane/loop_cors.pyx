"""The HTTPRoute CORS filter in the C event loop: cors.py's answers, byte for byte.

Why it exists: a rule with a CORS filter used to send the whole table to the asyncio path. The
request-independent half of a policy is compiled into the C table (table.pxd ``CCors``, laid out
by layout.py from the same ``cors.Policy`` the asyncio path serves); this module is the other
half, per request and without Python: whether an ``Origin`` is allowed (``cors.origin_allowed``,
its regular expression spelled out as a scan), the preflight answer (``cors.preflight_response``)
and the fields added to a backend's response (``cors.actual_fields``). The fields the filter
owns (``cors.OWNED``) are dropped from the backend's response by loop_heads, which builds it.

Values are compared as the asyncio path compares them after ``decode("latin-1")``: ``strip()``
removes what ``str.isspace`` calls space in that range, and an origin that does not parse is
never allowed unless every origin is.
"""

from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcmp

from gateway_proxy import cors as _cors
from gateway_proxy.dataplane.loop_heads cimport Out, cors_owned, out_field, out_put
from gateway_proxy.dataplane.spans cimport HeaderSpan, Span
from gateway_proxy.dataplane.table cimport CCors, COrigin, CTable

cdef uint8_t _SPACE[256]     # str.isspace() of a latin-1 character
cdef uint8_t _HOST[256]      # [A-Za-z0-9.-]
for _c in range(256):
    _SPACE[_c] = chr(_c).isspace()
    _HOST[_c] = chr(_c).isascii() and (chr(_c).isalnum() or chr(_c) in ".-")
if _cors.DEFAULT_MAX_AGE <= 0 or _cors._DEFAULT_PORTS != {"http": 80, "https": 443}:
    raise ImportError("gateway_proxy.dataplane.loop_cors: cors.py's default ports changed")


cdef inline uint8_t _lower(uint8_t c) noexcept nogil:
    return c + 32 if 65 <= c <= 90 else c


cdef bint _lower_equal(const char *received, const char *lower, uint32_t n) noexcept nogil:
    cdef uint32_t i
    for i in range(n):
        if _lower(<uint8_t>received[i]) != <uint8_t>lower[i]:
            return False
    return True


cdef void _strip(const char *text, uint32_t n, uint32_t *start, uint32_t *end) noexcept nogil:
    cdef uint32_t a = 0, e = n
    while a < e and _SPACE[<uint8_t>text[a]]:
        a += 1
    while e > a and _SPACE[<uint8_t>text[e - 1]]:
        e -= 1
    start[0] = a
    end[0] = e


cdef bint _split_origin(const char *text, uint32_t n, uint8_t *https, uint32_t *host, uint32_t *host_end,
                        uint32_t *port) noexcept nogil:
    """cors._split_origin: ``^(https?)://(\\*|\\*?[A-Za-z0-9.-]+)(?::([0-9]{1,5}))?$`` over the
    stripped text, the port defaulting by scheme and within 1..65535; False when it does not parse."""
    cdef uint32_t a, e, p, digits = 0, star
    cdef uint64_t number = 0
    _strip(text, n, &a, &e)
    if e - a >= 8 and memcmp(text + a, b"https://", 8) == 0:
        https[0] = 1
        p = a + 8
    elif e - a >= 7 and memcmp(text + a, b"http://", 7) == 0:
        https[0] = 0
        p = a + 7
    else:
        return False
    host[0] = p
    star = 1 if p < e and text[p] == b"*" else 0
    p += star
    while p < e and _HOST[<uint8_t>text[p]]:
        p += 1
    if p == host[0]:
        return False  # neither "*" nor a host name
    host_end[0] = p
    if p < e:
        if text[p] != b":":
            return False
        p += 1
        while p < e and c'0' <= text[p] <= c'9' and digits < 6:
            number = number * 10 + <uint8_t>(text[p] - c'0')
            digits += 1
            p += 1
        if p != e or digits < 1 or digits > 5:
            return False
    else:
        number = 443 if https[0] else 80
    if not 1 <= number <= 65535:
        return False
    port[0] = <uint32_t>number
    return True


cdef bint cors_allowed(const CTable *t, const CCors *policy, const char *origin, uint32_t n) noexcept nogil:
    """cors.origin_allowed: ``*``, or the scheme, port and (exact or wildcard) host of one origin."""
    cdef uint8_t https
    cdef uint32_t host, host_end, port, length, i, start
    cdef const COrigin *allowed
    if policy.any_origin:
        return True
    if not _split_origin(origin, n, &https, &host, &host_end, &port) or origin[host] == b"*":
        return False
    length = host_end - host
    for i in range(policy.origin_first, policy.origin_first + policy.origin_count):
        allowed = &t.cors_origins[i]
        if allowed.https != https or allowed.port != port:
            continue
        if allowed.wildcard:
            if length <= allowed.host.len:
                continue
            start = host_end - allowed.host.len  # host.endswith(suffix), a label or more before it
        elif length != allowed.host.len:
            continue
        else:
            start = host
        if _lower_equal(origin + start, t.pool + allowed.host.off, allowed.host.len):
            return True
    return False


cdef inline bint _line(Out *o, const char *name, uint32_t name_len, const char *value, uint32_t n) noexcept nogil:
    return out_put(o, name, name_len) and out_put(o, value, n) and out_put(o, "\r\n", 2)


cdef bint _requested(Out *o, Out *scratch, const char *base, const HeaderSpan *headers, uint32_t count,
                     const char *lname, uint32_t lname_len, const char *line, uint32_t line_len) noexcept nogil:
    """An echo of headers.get(lname, "").strip() under ``line``, when it is not empty."""
    cdef bint found
    cdef uint32_t a, e
    scratch.start = scratch.end = 0
    if not out_field(scratch, base, headers, count, lname, lname_len, &found):
        return False
    _strip(scratch.data, scratch.end, &a, &e)
    return e == a or _line(o, line, line_len, scratch.data + a, e - a)


cdef int cors_preflight(Out *o, Out *scratch, const char *base, const HeaderSpan *headers, uint32_t count,
                        const CTable *t, const CCors *policy, bint keep_alive) noexcept nogil:
    """cors.preflight_response into ``o``: its status (200, or 403 for an origin not allowed), -1
    when out of memory. ``scratch`` is an empty buffer the caller frees."""
    cdef bint found
    cdef const char *pool = t.pool
    cdef uint32_t origin_len
    if not out_field(scratch, base, headers, count, b"origin", 6, &found):
        return -1
    origin_len = scratch.end
    if not cors_allowed(t, policy, scratch.data, origin_len):
        if not (out_put(o, "HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n", 43)
                and (keep_alive or out_put(o, "connection: close\r\n", 19)) and out_put(o, "\r\n", 2)):
            return -1
        return 403
    if not (out_put(o, "HTTP/1.1 200 OK\r\n", 17)
            and _line(o, "access-control-allow-origin: ", 29, scratch.data, origin_len)
            and (not policy.credentials or out_put(o, "access-control-allow-credentials: true\r\n", 40))):
        return -1
    if policy.any_method:
        if not _requested(o, scratch, base, headers, count, b"access-control-request-method", 29,
                          "access-control-allow-methods: ", 30):
            return -1
    elif policy.methods.len and not _line(o, "access-control-allow-methods: ", 30, pool + policy.methods.off,
                                          policy.methods.len):
        return -1
    if policy.any_header:
        if not _requested(o, scratch, base, headers, count, b"access-control-request-headers", 30,
                          "access-control-allow-headers: ", 30):
            return -1
    elif policy.headers.len and not _line(o, "access-control-allow-headers: ", 30, pool + policy.headers.off,
                                          policy.headers.len):
        return -1
    if policy.expose.len:
        if not _line(o, "access-control-expose-headers: ", 31, pool + policy.expose.off, policy.expose.len):
            return -1
    elif policy.expose_any and not policy.credentials:
        if not out_put(o, "access-control-expose-headers: *\r\n", 34):
            return -1
    if not (_line(o, "access-control-max-age: ", 24, pool + policy.max_age.off, policy.max_age.len)
            and out_put(o, "vary: Origin\r\ncontent-length: 0\r\n", 33)
            and (keep_alive or out_put(o, "connection: close\r\n", 19)) and out_put(o, "\r\n", 2)):
        return -1
    return 200


cdef inline bint _same(const char *base, Span a, Span b) noexcept nogil:
    return a.len == b.len and memcmp(base + a.off, base + b.off, a.len) == 0


cdef bint _exposed_names(Out *o, const char *base, const HeaderSpan *headers, uint32_t count) noexcept nogil:
    """The ``*`` of exposeHeaders with credentials: the response's own field names, each once, in
    order, without those the filter owns (cors.actual_fields); no line when there are none."""
    cdef uint32_t i, j, listed = 0
    for i in range(count):
        if cors_owned(base, headers[i].name):
            continue
        for j in range(i):
            if _same(base, headers[i].name, headers[j].name):
                break
        else:
            if not ((out_put(o, "access-control-expose-headers: ", 31) if listed == 0 else out_put(o, ", ", 2))
                    and out_put(o, base + headers[i].name.off, headers[i].name.len)):
                return False
            listed += 1
    return listed == 0 or out_put(o, "\r\n", 2)


cdef bint cors_response_lines(Out *o, const CTable *t, const CCors *policy, const char *origin, uint32_t n,
                              const char *base, const HeaderSpan *headers, uint32_t count) noexcept nogil:
    """cors.actual_fields: the lines added to the response of a request from ``origin`` (none
    when it is not allowed); ``headers`` are the backend response's."""
    cdef const char *pool = t.pool
    if not cors_allowed(t, policy, origin, n):
        return True
    if not (_line(o, "access-control-allow-origin: ", 29, origin, n)
            and (not policy.credentials or out_put(o, "access-control-allow-credentials: true\r\n", 40))):
        return False
    if policy.expose.len:
        if not _line(o, "access-control-expose-headers: ", 31, pool + policy.expose.off, policy.expose.len):
            return False
    elif policy.expose_any:
        if policy.credentials:
            if not _exposed_names(o, base, headers, count):
                return False
        elif not out_put(o, "access-control-expose-headers: *\r\n", 34):
            return False
    return out_put(o, "vary: Origin\r\n", 14)
