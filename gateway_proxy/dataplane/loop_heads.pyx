"""The heads the C event loop writes: to backends, to clients, and the proxy's own answers.

Why it exists: the asyncio path builds these with ``_hotpath_py.request_head``/``response_head``
and ``wire.simple_response`` from Python objects; the C loop must write the same bytes from spans
into its receive buffers and the compiled route table (table.pxd), without a Python object. This
module is that translation, kept apart from the I/O so that its one job, byte-identity with the
reference, is read in one place. Each function names the reference function it mirrors; the
parity tests (tests/gateway_proxy/dataplane/test_loop_parity.py) compare both over sockets.

Everything is ``noexcept nogil``; a False return means an output buffer could not grow (out of
memory or past OUT_LIMIT), and the caller drops the connection.
"""

from libc.stdint cimport int32_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcpy, memmove

from gateway_proxy import cors as _cors
from gateway_proxy.dataplane.http1 cimport FRAMING_CHUNKED, RequestHead, ResponseHead, TARGET_ORIGIN
from gateway_proxy.dataplane.spans cimport HeaderSpan, Span
from gateway_proxy.dataplane.table cimport (CAddItem, CHeaderOps, CMatch, CName, CRedirect, CRule, CTable, Decision,
                                            REWRITE_FULL_PATH, REWRITE_NONE, REWRITE_PREFIX, host_fold,
                                            host_length)

# Python's str.strip() whitespace over latin-1 (connection_tokens strips decoded text with it).
cdef uint8_t _SPACE[256]
for _c in (9, 10, 11, 12, 13, 0x1c, 0x1d, 0x1e, 0x1f, 32, 0x85, 0xa0):
    _SPACE[_c] = 1

cdef uint8_t _LOWER[256]
for _c in range(256):
    _LOWER[_c] = _c + 32 if 65 <= _c <= 90 else _c

# wire._STATUS_LINES
cdef const char *_reason(int status) noexcept nogil:
    if status == 301: return "Moved Permanently"
    if status == 302: return "Found"
    if status == 303: return "See Other"
    if status == 307: return "Temporary Redirect"
    if status == 308: return "Permanent Redirect"
    if status == 400: return "Bad Request"
    if status == 404: return "Not Found"
    if status == 405: return "Method Not Allowed"
    if status == 408: return "Request Timeout"
    if status == 414: return "URI Too Long"
    if status == 431: return "Request Header Fields Too Large"
    if status == 500: return "Internal Server Error"
    if status == 502: return "Bad Gateway"
    if status == 503: return "Service Unavailable"
    if status == 504: return "Gateway Timeout"
    return "Unknown"


# ---- output buffers ----

cdef bint out_put(Out *o, const char *p, size_t n) noexcept nogil:
    cdef size_t need, cap
    cdef char *grown
    if n == 0:
        return True
    if <size_t>o.end + n > o.cap:
        if o.start and o.start == o.end:
            o.start = o.end = 0
        need = <size_t>o.end + n
        if need > o.cap:
            if need > OUT_LIMIT:
                return False
            cap = o.cap if o.cap else 4096
            while cap < need:
                cap *= 2
            grown = <char *>realloc(o.data, cap)
            if grown == NULL:
                return False
            o.data = grown
            o.cap = <uint32_t>cap
    memcpy(o.data + o.end, p, n)
    o.end += <uint32_t>n
    return True


cdef void out_compact(Out *o) noexcept nogil:
    """Move the unwritten bytes to the front, so that a buffer written in pieces does not creep."""
    if o.start == 0:
        return
    if o.start < o.end:
        memmove(o.data, o.data + o.start, o.end - o.start)
    o.end -= o.start
    o.start = 0


cdef void out_free(Out *o) noexcept nogil:
    free(o.data)
    o.data = NULL
    o.start = o.end = o.cap = 0


cdef inline bint _lit(Out *o, const char *text) noexcept nogil:
    cdef size_t n = 0
    while text[n]:
        n += 1
    return out_put(o, text, n)


cdef bint _uint(Out *o, uint64_t value, int base) noexcept nogil:
    cdef char digits[24]
    cdef int i = 24
    while True:
        i -= 1
        digits[i] = b"0123456789abcdef"[value % base]
        value //= base
        if value == 0:
            break
    return out_put(o, digits + i, 24 - i)


cdef bint out_put_hex_line(Out *o, size_t n) noexcept nogil:
    """A chunk-size line, as exchange.py frames a body piece: b"%x\\r\\n"."""
    return _uint(o, n, 16) and out_put(o, "\r\n", 2)


cdef bint out_simple(Out *o, int status, bint keep_alive, const char *extra, uint32_t extra_len) noexcept nogil:
    """wire.simple_response, byte for byte."""
    cdef const char *reason = _reason(status)
    cdef size_t n = 0
    while reason[n]:
        n += 1
    # body: b"%d %s\n": three status digits (every status answered here has three)
    return (_lit(o, "HTTP/1.1 ") and _uint(o, status, 10) and out_put(o, " ", 1) and out_put(o, reason, n)
            and _lit(o, "\r\ncontent-type: text/plain\r\ncontent-length: ") and _uint(o, n + 5, 10)
            and out_put(o, "\r\n", 2) and out_put(o, extra, extra_len)
            and (keep_alive or _lit(o, "connection: close\r\n")) and out_put(o, "\r\n", 2)
            and _uint(o, status, 10) and out_put(o, " ", 1) and out_put(o, reason, n) and out_put(o, "\n", 1))


# ---- field lookups over spans ----

cdef inline bint _is(const char *base, Span name, const char *lower, uint32_t n) noexcept nogil:
    """``name`` equals the lower-case ``lower`` ignoring ASCII case (bytes.lower())."""
    cdef uint32_t i
    if name.len != n:
        return False
    for i in range(n):
        if _LOWER[<uint8_t>base[name.off + i]] != <uint8_t>lower[i]:
            return False
    return True


cdef inline bint _is_name(const char *base, Span name, const CTable *t, CName lname) noexcept nogil:
    return _is(base, name, t.pool + lname.off, lname.len)


cdef inline uint32_t _value_len(const char *base, Span value) noexcept nogil:
    """The value as httptools reports it: the parser drops the OWS after a value, llhttp keeps it.
    Only SP and HTAB can sit between a value and its CR, which always follows in the buffer."""
    cdef uint32_t n = value.len
    while base[value.off + n] == b" " or base[value.off + n] == b"\t":
        n += 1
    return n


cdef bint _joined(Out *o, const char *base, const HeaderSpan *headers, uint32_t count, const char *lname,
                  uint32_t n, bint *found) noexcept nogil:
    """index_headers()[lname]: every field of that name, values joined with ","."""
    cdef uint32_t i
    found[0] = False
    for i in range(count):
        if _is(base, headers[i].name, lname, n):
            if found[0] and not out_put(o, ",", 1):
                return False
            found[0] = True
            if not out_put(o, base + headers[i].value.off, _value_len(base, headers[i].value)):
                return False
    return True


cdef bint out_field(Out *o, const char *base, const HeaderSpan *headers, uint32_t count, const char *lname,
                   uint32_t n, bint *found) noexcept nogil:
    """index_headers().get(lname, ""), for loop_cors."""
    return _joined(o, base, headers, count, lname, n, found)


cdef bint _has(const char *base, const HeaderSpan *headers, uint32_t count, const char *lname, uint32_t n) noexcept nogil:
    cdef uint32_t i
    for i in range(count):
        if _is(base, headers[i].name, lname, n):
            return True
    return False


cdef bint _has_chunked(const char *base, const HeaderSpan *headers, uint32_t count) noexcept nogil:
    """ "chunked" in index_headers().get("transfer-encoding", "").lower()."""
    cdef uint32_t i, j, k, n
    cdef const char *v
    for i in range(count):
        if not _is(base, headers[i].name, "transfer-encoding", 17):
            continue
        v = base + headers[i].value.off
        n = headers[i].value.len
        j = 0
        while j + 7 <= n:
            k = 0
            while k < 7 and _LOWER[<uint8_t>v[j + k]] == <uint8_t>b"chunked"[k]:
                k += 1
            if k == 7:
                return True
            j += 1
    return False


cdef bint _connection_token(const char *base, const HeaderSpan *headers, uint32_t count, Span name) noexcept nogil:
    """``name`` (lower-cased) is in connection_tokens(headers.get("connection"))."""
    cdef uint32_t i, a, e, end, k, j
    cdef const char *v
    for i in range(count):
        if not _is(base, headers[i].name, "connection", 10):
            continue
        v = base + headers[i].value.off
        end = headers[i].value.len
        a = 0
        while a <= end:
            e = a
            while e < end and v[e] != b",":
                e += 1
            # strip, then compare; tokens that are not ASCII cannot equal a field name
            k = e
            while a < k and _SPACE[<uint8_t>v[a]]:
                a += 1
            while k > a and _SPACE[<uint8_t>v[k - 1]]:
                k -= 1
            if k - a == name.len:
                j = 0
                while j < name.len and _LOWER[<uint8_t>v[a + j]] == _LOWER[<uint8_t>base[name.off + j]]:
                    j += 1
                if j == name.len:
                    return True
            a = e + 1
    return False


# _hotpath_py.HOP_BY_HOP and REQUEST_OWNED (RESPONSE_OWNED is the first of these); the tuples stay
# referenced by the module, so the pointers into them stay valid.
_HOP_NAMES = (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"te", b"trailer", b"upgrade",
              b"proxy-authenticate", b"proxy-authorization")
_OWNED_NAMES = (b"content-length", b"host", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host")
cdef const char *_HOP[9]
cdef uint32_t _HOP_LEN[9]
for _i, _name in enumerate(_HOP_NAMES):
    _HOP[_i] = _name
    _HOP_LEN[_i] = len(_name)
cdef const char *_OWNED[5]
cdef uint32_t _OWNED_LEN[5]
for _i, _name in enumerate(_OWNED_NAMES):
    _OWNED[_i] = _name
    _OWNED_LEN[_i] = len(_name)


# cors.OWNED: on a CORS rule, for a request with an Origin, the filter decides these response fields.
_CORS_NAMES = tuple(sorted(_cors.OWNED))
cdef const char *_CORS[8]
cdef uint32_t _CORS_LEN[8]
cdef uint32_t _CORS_COUNT = len(_CORS_NAMES)
if _CORS_COUNT > 8:
    raise ImportError("gateway_proxy.dataplane.loop_heads: cors.OWNED grew past 8 names")
for _i, _name in enumerate(_CORS_NAMES):
    _CORS[_i] = _name
    _CORS_LEN[_i] = len(_name)


cdef bint cors_owned(const char *base, Span name) noexcept nogil:
    """``name`` is a field the CORS filter owns (cors.OWNED), in any case."""
    cdef uint32_t i
    for i in range(_CORS_COUNT):
        if _is(base, name, _CORS[i], _CORS_LEN[i]):
            return True
    return False


cdef bint _skip(const char *base, Span name, uint32_t owned, const HeaderSpan *headers, uint32_t count,
                const CTable *t, const CHeaderOps *ops) noexcept nogil:
    """_hotpath_py._skip: hop-by-hop, owned by the proxy (the first ``owned`` of _OWNED), listed in
    Connection, or replaced by the header modifier."""
    cdef uint32_t i
    for i in range(9):
        if _is(base, name, _HOP[i], _HOP_LEN[i]):
            return True
    for i in range(owned):
        if _is(base, name, _OWNED[i], _OWNED_LEN[i]):
            return True
    if _connection_token(base, headers, count, name):
        return True
    if ops != NULL:
        for i in range(ops.remove_count + ops.set_count + ops.add_name_count):
            if _is_name(base, name, t, t.names[ops.names_first + i]):
                return True
    return False


cdef bint _named(const CTable *t, const CHeaderOps *ops, uint32_t first, uint32_t count, CName lname) noexcept nogil:
    cdef uint32_t i
    cdef CName n
    for i in range(first, first + count):
        n = t.names[ops.names_first + i]
        if n.len == lname.len and _is(t.pool, Span(n.off, n.len), t.pool + lname.off, lname.len):
            return True
    return False


cdef bint _copy_fields(Out *o, const char *base, const HeaderSpan *headers, uint32_t count, uint32_t owned,
                       const CTable *t, const CHeaderOps *ops, bint cors=False) noexcept nogil:
    """The fields _skip keeps; with ``cors``, not those the CORS filter owns either
    (cors.response_fields drops them before the head is built)."""
    cdef uint32_t i
    for i in range(count):
        if _skip(base, headers[i].name, owned, headers, count, t, ops):
            continue
        if cors and cors_owned(base, headers[i].name):
            continue
        if not (out_put(o, base + headers[i].name.off, headers[i].name.len) and out_put(o, ": ", 2)
                and out_put(o, base + headers[i].value.off, _value_len(base, headers[i].value))
                and out_put(o, "\r\n", 2)):
            return False
    return True


cdef bint out_effective_host(Out *o, const char *base, const RequestHead *h, bint *found) noexcept nogil:
    """request.headers.get("host"): the Host value, or an absolute-form target's authority, which
    exchange.prepare writes there (RFC 9112 3.2.2)."""
    found[0] = h.host_fields > 0 or h.target_form != TARGET_ORIGIN
    if h.target_form == TARGET_ORIGIN:
        return out_put(o, base + h.host.off, _value_len(base, h.host) if h.host_fields else h.host.len)
    return out_put(o, base + h.host.off, h.host.len)


cdef bint _apply_ops(Out *o, const char *base, const HeaderSpan *headers, uint32_t count, const CTable *t,
                     const CHeaderOps *ops, const RequestHead *request) noexcept nogil:
    """_hotpath_py._apply_ops: set lines, then each add joined after the existing value."""
    cdef uint32_t i
    cdef const CAddItem *item
    cdef bint found
    if ops == NULL:
        return True
    if not out_put(o, t.pool + ops.set_lines.off, ops.set_lines.len):
        return False
    for i in range(ops.add_count):
        item = &t.add_items[ops.add_first + i]
        if _named(t, ops, 0, ops.remove_count + ops.set_count, item.lname):
            continue
        if not (out_put(o, t.pool + item.name.off, item.name.len) and out_put(o, ": ", 2)):
            return False
        if request != NULL and item.lname.len == 4 and _is(t.pool, Span(item.lname.off, 4), "host", 4):
            if not out_effective_host(o, base, request, &found):
                return False
        elif not _joined(o, base, headers, count, t.pool + item.lname.off, item.lname.len, &found):
            return False
        if found and not out_put(o, ",", 1):
            return False
        if not (out_put(o, t.pool + item.value.off, item.value.len) and out_put(o, "\r\n", 2)):
            return False
    return True


cdef bint _replace_prefix(Out *o, const char *path, uint32_t path_len, const char *prefix, uint32_t prefix_len,
                          const char *repl, uint32_t repl_len) noexcept nogil:
    """_hotpath_py.replace_prefix."""
    while prefix_len > 1 and prefix[prefix_len - 1] == b"/":
        prefix_len -= 1
    if prefix_len == 1 and prefix[0] == b"/":
        prefix_len = 0
    if prefix_len > path_len:
        prefix_len = path_len
    while repl_len and repl[repl_len - 1] == b"/":
        repl_len -= 1
    if path_len == prefix_len:
        return out_put(o, repl, repl_len) if repl_len else out_put(o, "/", 1)
    if not (repl_len and repl[0] == b"/") and not (repl_len == 0 and path[prefix_len] == b"/"):
        if not out_put(o, "/", 1):
            return False
    return out_put(o, repl, repl_len) and out_put(o, path + prefix_len, path_len - prefix_len)


cdef bint _new_path(Out *o, const char *path, uint32_t path_len, int32_t kind, CName value, const CTable *t,
                    const CMatch *match) noexcept nogil:
    """filters._new_path: the path as received, replaced whole, or its matched prefix replaced."""
    if kind == REWRITE_FULL_PATH:
        return out_put(o, t.pool + value.off, value.len) if value.len else out_put(o, "/", 1)
    if kind == REWRITE_PREFIX:
        return _replace_prefix(o, path, path_len, t.pool + match.path.off, match.path.len, t.pool + value.off,
                               value.len)
    return out_put(o, path, path_len)


cdef bint _target(Out *o, const char *base, const RequestHead *h, const CTable *t, const Decision *d) noexcept nogil:
    """exchange.Exchange.begin's target: as received, or path and query rebuilt, or rewritten."""
    cdef const CRule *rule = &t.rules[d.rule]
    cdef const CMatch *match = &t.matches[d.match]
    cdef const char *path = base + h.path.off
    cdef uint32_t path_len = h.path.len
    if path_len == 0:
        path, path_len = "/", 1
    if rule.rewrite >= 0 and rule.rewrite_kind != REWRITE_NONE:
        ok = _new_path(o, path, path_len, rule.rewrite_kind, rule.rewrite_path, t, match)
    elif h.target_form == TARGET_ORIGIN:
        return out_put(o, base + h.target.off, h.target.len)
    else:
        ok = out_put(o, path, path_len)
    if ok and h.query.len:
        ok = out_put(o, "?", 1) and out_put(o, base + h.query.off, h.query.len)
    return ok


cdef bint out_location(Out *o, const char *base, const RequestHead *h, const CTable *t,
                       const Decision *d) noexcept nogil:
    """The ``location: ...`` line of exchange.handle's RequestRedirect answer: filters.location of
    the request's normalize_host(Host), path and query. False when it cannot be written: out of
    memory, or a rule the reference fails (CRedirect.unwritable)."""
    cdef const CRedirect *redirect = &t.redirects[t.rules[d.rule].redirect]
    cdef const char *path = base + h.path.off
    cdef uint32_t path_len = h.path.len
    cdef uint32_t mark, n, i
    cdef bint found
    if redirect.unwritable:
        return False
    if path_len == 0:
        path, path_len = "/", 1
    if not (_lit(o, "location: ") and out_put(o, t.pool + redirect.lead.off, redirect.lead.len)):
        return False
    if redirect.request_host:
        mark = o.end
        if not out_effective_host(o, base, h, &found):
            return False
        # normalize_host in place: without port and final dot, lower-cased as latin-1 text.
        n = host_length(o.data + mark, o.end - mark)
        o.end = mark + n
        for i in range(mark, o.end):
            o.data[i] = <char>host_fold(<uint8_t>o.data[i])
    if not (out_put(o, t.pool + redirect.port.off, redirect.port.len)
            and _new_path(o, path, path_len, redirect.path_kind, redirect.path, t, &t.matches[d.match])):
        return False
    if h.query.len and not (out_put(o, "?", 1) and out_put(o, base + h.query.off, h.query.len)):
        return False
    return out_put(o, "\r\n", 2)


cdef bint out_request_head(Out *o, const char *base, const RequestHead *h, const CTable *t, const Decision *d,
                           const char *peer, uint32_t peer_len, bint upgrade) noexcept nogil:
    """_hotpath_py.request_head with exchange.Exchange.begin's arguments; ``upgrade`` keeps the
    offer to switch protocols, hop-by-hop yet meant for this hop (RFC 9110 7.8)."""
    cdef const CRule *rule = &t.rules[d.rule]
    cdef int32_t ops_id = t.backends[d.backend].request_ops
    cdef const CHeaderOps *ops = &t.ops[ops_id] if ops_id >= 0 else NULL
    cdef bint found, xff = True
    cdef uint32_t i, mark
    if not (out_put(o, base + h.method.off, h.method.len) and out_put(o, " ", 1) and _target(o, base, h, t, d)
            and _lit(o, " HTTP/1.1\r\nhost: ")):
        return False
    if rule.rewrite >= 0 and rule.rewrite_host:
        ok = out_put(o, t.pool + rule.rewrite_hostname.off, rule.rewrite_hostname.len)
    else:
        ok = out_effective_host(o, base, h, &found)
    if not (ok and out_put(o, "\r\n", 2) and _copy_fields(o, base, h.headers, h.header_count, 5, t, ops)
            and _apply_ops(o, base, h.headers, h.header_count, t, ops, h)):
        return False
    if ops != NULL:
        for i in range(ops.remove_count):
            if t.names[ops.names_first + i].len == 15 and _is(t.pool, Span(t.names[ops.names_first + i].off, 15),
                                                               "x-forwarded-for", 15):
                xff = False
    if xff:
        if not _lit(o, "x-forwarded-for: "):
            return False
        mark = o.end
        if not _joined(o, base, h.headers, h.header_count, "x-forwarded-for", 15, &found):
            return False
        if o.end > mark and not out_put(o, ", ", 2):
            return False
        if not (out_put(o, peer, peer_len) and _lit(o, "\r\nx-forwarded-proto: ")
                and _lit(o, "https" if rule.https else "http") and _lit(o, "\r\nx-forwarded-host: ")
                and out_effective_host(o, base, h, &found) and out_put(o, "\r\n", 2)):
            return False
    if upgrade:
        ok = _upgrade_lines(o, base, h.headers, h.header_count)
    elif h.framing == FRAMING_CHUNKED:
        ok = _lit(o, "transfer-encoding: chunked\r\n")
    elif _has(base, h.headers, h.header_count, "content-length", 14):
        ok = (_lit(o, "content-length: ") and _joined(o, base, h.headers, h.header_count, "content-length", 14, &found)
              and out_put(o, "\r\n", 2))
    return ok and out_put(o, "\r\n", 2)


cdef bint out_response_head(Out *o, const char *base, const ResponseHead *h, const CTable *t, int32_t ops_id,
                            bint head_request, bint client_11, bint *keep_alive, bint *out_chunked,
                            const Out *lead, const Out *cors) noexcept nogil:
    """exchange.Exchange.response_head's framing choice, then _hotpath_py.response_head.
    ``keep_alive`` comes in as the client's and may be turned off; ``out_chunked`` is set when the
    body is re-chunked for the client. ``cors``, for a request with an Origin on a CORS rule: the
    lines the filter adds (loop_cors.cors_response_lines), written before the framing, and the
    backend's own fields the filter owns are dropped; NULL otherwise. ``lead``: lines written
    before those (a session's Set-Cookie, loop_sessions), or NULL."""
    cdef const CHeaderOps *ops = &t.ops[ops_id] if ops_id >= 0 else NULL
    cdef bint found
    cdef bint length = _has(base, h.headers, h.header_count, "content-length", 14)
    cdef int status = h.status
    cdef uint32_t mark
    out_chunked[0] = False
    if not (_lit(o, "HTTP/1.1 ") and _uint(o, status, 10) and out_put(o, " ", 1)):
        return False
    ok = out_put(o, base + h.reason.off, h.reason.len) if h.reason.len else out_put(o, "OK", 2)
    if not (ok and out_put(o, "\r\n", 2)
            and _copy_fields(o, base, h.headers, h.header_count, 1, t, ops, cors != NULL)
            and _apply_ops(o, base, h.headers, h.header_count, t, ops, NULL)):
        return False
    if lead != NULL and not out_put(o, lead.data + lead.start, lead.end - lead.start):
        return False
    if cors != NULL and not out_put(o, cors.data + cors.start, cors.end - cors.start):
        return False
    if head_request or status == 204 or status == 304:
        if length and status != 204:
            mark = o.end
            if not _lit(o, "content-length: "):
                return False
            if not _joined(o, base, h.headers, h.header_count, "content-length", 14, &found):
                return False
            if o.end == mark + 16:  # an empty value is falsy in the reference: no line
                o.end = mark
            elif not out_put(o, "\r\n", 2):
                return False
    elif length and not _has_chunked(base, h.headers, h.header_count):
        if not (_lit(o, "content-length: ") and _joined(o, base, h.headers, h.header_count, "content-length", 14, &found)
                and out_put(o, "\r\n", 2)):
            return False
    elif client_11:
        out_chunked[0] = True
        if not _lit(o, "transfer-encoding: chunked\r\n"):
            return False
    else:
        keep_alive[0] = False  # an HTTP/1.0 client reads this body until close
    if not keep_alive[0] and not _lit(o, "connection: close\r\n"):
        return False
    return out_put(o, "\r\n", 2)


cdef bint _upgrade_lines(Out *o, const char *base, const HeaderSpan *headers, uint32_t count) noexcept nogil:
    """exchange's framing of an upgrade: ``connection: upgrade`` and the Upgrade value, joined."""
    cdef bint found
    return (_lit(o, "connection: upgrade\r\nupgrade: ") and _joined(o, base, headers, count, "upgrade", 7, &found)
            and out_put(o, "\r\n", 2))


cdef bint out_switch_head(Out *o, const char *base, const ResponseHead *h, const CTable *t,
                          int32_t ops_id) noexcept nogil:
    """exchange.Exchange.response_head for a 101: the switch's own fields kept, no body framing."""
    cdef const CHeaderOps *ops = &t.ops[ops_id] if ops_id >= 0 else NULL
    if not (_lit(o, "HTTP/1.1 101 ")
            and (out_put(o, base + h.reason.off, h.reason.len) if h.reason.len else _lit(o, "Switching Protocols"))
            and out_put(o, "\r\n", 2) and _copy_fields(o, base, h.headers, h.header_count, 1, t, ops)
            and _apply_ops(o, base, h.headers, h.header_count, t, ops, NULL)):
        return False
    return _upgrade_lines(o, base, h.headers, h.header_count) and out_put(o, "\r\n", 2)


cdef bint response_framed(const char *base, const ResponseHead *h) noexcept nogil:
    """upstream.UpstreamProtocol._framed: a length or transfer coding was announced, so a close
    before the end cuts the body short instead of ending it."""
    return _has(base, h.headers, h.header_count, "content-length", 14) or \
        _has(base, h.headers, h.header_count, "transfer-encoding", 17)
