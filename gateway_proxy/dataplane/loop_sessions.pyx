"""HTTPRoute ``sessionPersistence`` in the C event loop: gateway_proxy.sessions' token and cookie, in C.

Why it exists apart from loop_exchange: the token is an HMAC-SHA256 (sessions.py says why and
over what), computed here with OpenSSL's libcrypto ``HMAC()``, so this is the one module of the
loop that links a library; setup.py builds it only when OpenSSL's headers are there. The loop
reaches it through a table of two function pointers (loop_types.SessionHooks) it looks up when it
starts, so a build without it still serves every other table, and worker.py leaves session rules
to the asyncio path.

Nothing is decided differently from sessions.py; the policy (name, scope, key, backend tags,
timeouts) is the one sessions.policy built, copied into the C table (layout.session_policy):

- ``_resume`` is sessions.resume: the candidates (the header of the name, or every cookie pair of
  the name, in order, split and stripped as _candidates does), the first whose token decodes (four
  dot-separated parts, the MAC over name, scope and body, a tag of this rule, timestamps within
  the timeouts) and whose backend can still serve (weight, status, endpoints).
- ``_field`` is sessions.response_field: nothing when the client's token stands, else the token
  for the backend that answered in a header or a ``Set-Cookie`` with the same attributes, in the
  same order, ``Expires`` in the RFC 5322 form ``email.utils.formatdate(usegmt=True)`` writes.

One difference, at the edge of what a client can send: a token with non-ASCII bytes makes the
asyncio path's decode raise (``str.encode("ascii")``, ``hmac.compare_digest``); here it is simply
not valid, and the request is weighed afresh.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uintptr_t
from libc.string cimport memcmp, memcpy
from libc.time cimport time_t, tm

from gateway_proxy.dataplane.loop_heads cimport Out, out_put
from gateway_proxy.dataplane.loop_types cimport Affinity, SessionHooks
from gateway_proxy.dataplane.spans cimport HeaderSpan
from gateway_proxy.dataplane.table cimport CBackend, CName, CRule, CSession, CTable, RouteRequest

cdef extern from "<time.h>" nogil:
    tm *gmtime_r(const time_t *timep, tm *result)

cdef extern from "openssl/evp.h":
    ctypedef struct EVP_MD:
        pass
    const EVP_MD *EVP_sha256() nogil

cdef extern from "openssl/crypto.h":
    int CRYPTO_memcmp(const void *a, const void *b, size_t n) nogil

cdef extern from "openssl/hmac.h":
    unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len, const unsigned char *d, size_t n,
                        unsigned char *md, unsigned int *md_len) nogil

cdef enum:
    MAC_BYTES = 16        # sessions._MAC_BYTES
    MAC_TEXT = 22         # its unpadded base64url length
    MAX_BODY = 256        # a body sessions.encode writes is under 64 bytes: longer ones never verify
    MAX_MESSAGE = 1024 + MAX_BODY

cdef const char *_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
cdef const char *_HEX = b"0123456789abcdef"
cdef const char *_DAYS = b"MonTueWedThuFriSatSun"
cdef const char *_MONTHS = b"JanFebMarAprMayJunJulAugSepOctNovDec"

# str.isspace over latin-1 (what str.strip removes from a header value decoded as latin-1).
cdef uint8_t _SPACE[256]


def _fill_spaces():
    cdef int i
    for i in range(256):
        _SPACE[i] = chr(i).isspace()


_fill_spaces()


cdef uint32_t _b64(const uint8_t *data, uint32_t n, char *out) noexcept nogil:
    """sessions._b64: urlsafe base64 without padding; the length written."""
    cdef uint32_t i = 0, o = 0, v
    while i + 3 <= n:
        v = (<uint32_t>data[i] << 16) | (<uint32_t>data[i + 1] << 8) | data[i + 2]
        out[o] = _B64[v >> 18]
        out[o + 1] = _B64[(v >> 12) & 63]
        out[o + 2] = _B64[(v >> 6) & 63]
        out[o + 3] = _B64[v & 63]
        i += 3
        o += 4
    if n - i == 1:
        v = <uint32_t>data[i] << 16
        out[o] = _B64[v >> 18]
        out[o + 1] = _B64[(v >> 12) & 63]
        o += 2
    elif n - i == 2:
        v = (<uint32_t>data[i] << 16) | (<uint32_t>data[i + 1] << 8)
        out[o] = _B64[v >> 18]
        out[o + 1] = _B64[(v >> 12) & 63]
        out[o + 2] = _B64[(v >> 6) & 63]
        o += 3
    return o


cdef bint _mac(const CTable *t, const CSession *s, const char *body, uint32_t n, char *out) noexcept nogil:
    """sessions._mac into ``out`` (MAC_TEXT characters); False when it cannot be computed."""
    cdef unsigned char message[MAX_MESSAGE]
    cdef unsigned char digest[64]
    cdef unsigned int digest_len = 0
    cdef uint32_t length = s.name.len + 1 + s.scope.len + 1 + n
    if n > MAX_BODY or length > MAX_MESSAGE:
        return False
    memcpy(message, t.pool + s.name.off, s.name.len)
    message[s.name.len] = 0
    memcpy(message + s.name.len + 1, t.pool + s.scope.off, s.scope.len)
    message[s.name.len + 1 + s.scope.len] = 0
    memcpy(message + s.name.len + 2 + s.scope.len, body, n)
    if HMAC(EVP_sha256(), t.pool + s.key.off, <int>s.key.len, message, length, digest, &digest_len) == NULL:
        return False
    return _b64(digest, MAC_BYTES, out) == MAC_TEXT


cdef bint _hex(const char *text, uint32_t n, int64_t *value) noexcept nogil:
    """int(text, 16) for the digits sessions.encode writes (a verified body holds nothing else)."""
    cdef uint32_t i
    cdef int64_t v = 0
    cdef char ch
    if n == 0 or n > 15:
        return False
    for i in range(n):
        ch = text[i]
        if c'0' <= ch <= c'9':
            v = v * 16 + (ch - c'0')
        elif c'a' <= ch <= c'f':
            v = v * 16 + (ch - c'a' + 10)
        elif c'A' <= ch <= c'F':
            v = v * 16 + (ch - c'A' + 10)
        else:
            return False
    value[0] = v
    return True


cdef int32_t _decode(const CTable *t, const CSession *s, const char *token, uint32_t n, double now,
                     Affinity *out) noexcept nogil:
    """sessions.decode: the backend index (and timestamps) a valid token names, else -1."""
    cdef uint32_t dots[3]
    cdef uint32_t count = 0, i
    cdef char mac[MAC_TEXT]
    cdef int32_t index = -1
    cdef const CName *tag
    cdef int64_t began, seen
    for i in range(n):
        if <uint8_t>token[i] >= 128:
            return -1  # see the module docstring
        if token[i] == c'.':
            if count == 3:
                return -1
            dots[count] = i
            count += 1
    if count != 3:
        return -1
    if n - dots[2] - 1 != MAC_TEXT or not _mac(t, s, token, dots[2], mac):
        return -1
    if CRYPTO_memcmp(mac, token + dots[2] + 1, MAC_TEXT) != 0:  # in constant time, as hmac.compare_digest
        return -1
    for i in range(s.tag_count):
        tag = &t.session_tags[s.tag_first + i]
        if tag.len == dots[0] and memcmp(t.pool + tag.off, token, dots[0]) == 0:
            index = <int32_t>i
            break
    if index < 0:
        return -1  # the backend is no longer one of this rule's
    if not (_hex(token + dots[0] + 1, dots[1] - dots[0] - 1, &began)
            and _hex(token + dots[1] + 1, dots[2] - dots[1] - 1, &seen)):
        return -1
    if s.absolute and now - <double>began > s.absolute:
        return -1
    if s.idle and now - <double>seen > s.idle:
        return -1
    out.index = index
    out.began = began
    out.seen = seen
    return index


cdef inline bint _serves(const CTable *t, const CRule *r, int32_t index) noexcept nogil:
    cdef const CBackend *b = &t.backends[r.backend_first + index]
    return b.weight > 0 and b.status == 0 and b.endpoint_count > 0


cdef void _strip(const char *base, uint32_t *start, uint32_t *end) noexcept nogil:
    while start[0] < end[0] and _SPACE[<uint8_t>base[start[0]]]:
        start[0] += 1
    while end[0] > start[0] and _SPACE[<uint8_t>base[end[0] - 1]]:
        end[0] -= 1


cdef bint _named(const char *base, const HeaderSpan *h, const char *lname, uint32_t n) noexcept nogil:
    """Whether a field's name is ``lname`` (lower-case ASCII) once lower-cased as index_headers does."""
    cdef uint32_t i
    cdef uint8_t ch
    if h.name.len != n:
        return False
    for i in range(n):
        ch = <uint8_t>base[h.name.off + i]
        if c'A' <= ch <= c'Z':
            ch += 32
        if ch != <uint8_t>lname[i]:
            return False
    return True


cdef void _resume(const CTable *t, int32_t rule, const RouteRequest *r, double now, Affinity *out) noexcept nogil:
    """sessions.resume: the request's first valid session whose backend still serves, else index -1."""
    cdef const CRule *rr = &t.rules[rule]
    cdef const CSession *s = &t.sessions[rr.session]
    cdef const char *base = r.base
    cdef const char *name = t.pool + s.name.off
    cdef uint32_t i, found = 0, start, end, piece, equals
    cdef const HeaderSpan *h
    cdef const HeaderSpan *only = NULL
    out.index = -1
    if s.header:
        for i in range(r.header_count):
            if _named(base, &r.headers[i], t.pool + s.lower_name.off, s.lower_name.len):
                found += 1
                only = &r.headers[i]
        # Several fields of the name are joined with "," (index_headers), which no token holds.
        if found != 1 or only.value.len == 0:
            return
        start, end = only.value.off, only.value.off + only.value.len
        _strip(base, &start, &end)
        if _decode(t, s, base + start, end - start, now, out) >= 0 and not _serves(t, rr, out.index):
            out.index = -1
        return
    for i in range(r.header_count):
        h = &r.headers[i]
        if not _named(base, h, b"cookie", 6):
            continue
        # Cookie lines are joined with "," and split at "," and ";" (sessions._candidates).
        start = h.value.off
        while start <= h.value.off + h.value.len:
            piece = start
            while piece < h.value.off + h.value.len and base[piece] != c';' and base[piece] != c',':
                piece += 1
            end = piece
            _strip(base, &start, &end)
            equals = start
            while equals < end and base[equals] != c'=':
                equals += 1
            if equals < end and equals - start == s.name.len and memcmp(base + start, name, s.name.len) == 0:
                start = equals + 1
                _strip(base, &start, &end)
                while start < end and base[start] == c'"':
                    start += 1
                while end > start and base[end - 1] == c'"':
                    end -= 1
                if _decode(t, s, base + start, end - start, now, out) >= 0:
                    if _serves(t, rr, out.index):
                        return
                    out.index = -1
            start = piece + 1


cdef bint _put_int(Out *o, int64_t value, int width) noexcept nogil:
    cdef char digits[24]
    cdef int n = 0
    while (value > 0 or n < width) and n < 24:
        digits[23 - n] = <char>(c'0' + value % 10)
        value //= 10
        n += 1
    if n == 0:
        return out_put(o, "0", 1)
    return out_put(o, digits + 24 - n, n)


cdef bint _put_date(Out *o, int64_t when) noexcept nogil:
    """email.utils.formatdate(when, usegmt=True): "Mon, 07 Dec 2026 07:00:00 GMT"."""
    cdef time_t t = <time_t>when
    cdef tm parts
    if gmtime_r(&t, &parts) == NULL:
        return False
    return (out_put(o, _DAYS + 3 * ((parts.tm_wday + 6) % 7), 3) and out_put(o, ", ", 2)
            and _put_int(o, parts.tm_mday, 2) and out_put(o, " ", 1)
            and out_put(o, _MONTHS + 3 * parts.tm_mon, 3) and out_put(o, " ", 1)
            and _put_int(o, parts.tm_year + 1900, 4) and out_put(o, " ", 1)
            and _put_int(o, parts.tm_hour, 2) and out_put(o, ":", 1) and _put_int(o, parts.tm_min, 2)
            and out_put(o, ":", 1) and _put_int(o, parts.tm_sec, 2) and out_put(o, " GMT", 4))


cdef bint _field(Out *o, const CTable *t, int32_t rule, const Affinity *affinity, int32_t index, double now,
                 CName path) noexcept nogil:
    """sessions.response_field for the backend ``index`` of ``rule`` that answered; False when out
    of memory."""
    cdef const CSession *s = &t.sessions[t.rules[rule].session]
    cdef const CName *tag = &t.session_tags[s.tag_first + index]
    cdef int64_t second = <int64_t>now, began, left
    cdef char body[MAX_BODY]
    cdef char mac[MAC_TEXT]
    cdef uint32_t length
    cdef bint ok
    if affinity.index >= 0 and affinity.index == index:
        if not s.idle or affinity.seen == second:
            return True
        began = affinity.began
    else:
        began = second
    # The body is short (a tag and two hex numbers of at most 16 digits): built here, then signed.
    if tag.len + 34 > MAX_BODY:
        return False
    memcpy(body, t.pool + tag.off, tag.len)
    length = tag.len
    body[length] = c'.'
    length += 1
    length += _hex_into(body + length, began)
    body[length] = c'.'
    length += 1
    length += _hex_into(body + length, second)
    if not _mac(t, s, body, length, mac):
        return False
    if s.header:
        return (out_put(o, t.pool + s.name.off, s.name.len) and out_put(o, ": ", 2)
                and out_put(o, body, length) and out_put(o, ".", 1) and out_put(o, mac, MAC_TEXT)
                and out_put(o, "\r\n", 2))
    ok = (out_put(o, "set-cookie: ", 12) and out_put(o, t.pool + s.name.off, s.name.len) and out_put(o, "=", 1)
          and out_put(o, body, length) and out_put(o, ".", 1) and out_put(o, mac, MAC_TEXT)
          and out_put(o, "; Path=", 7) and out_put(o, t.pool + path.off, path.len))
    if ok and s.permanent:
        left = <int64_t>(<double>began + s.absolute - <double>second)
        if left < 0:
            left = 0
        ok = (out_put(o, "; Max-Age=", 10) and _put_int(o, left, 1) and out_put(o, "; Expires=", 10)
              and _put_date(o, second + left))
    return (ok and out_put(o, "; HttpOnly; SameSite=Lax", 24) and (not s.secure or out_put(o, "; Secure", 8))
            and out_put(o, "\r\n", 2))


cdef uint32_t _hex_into(char *out, int64_t value) noexcept nogil:
    """f"{value:x}" for a non-negative value; the length written (at most 16)."""
    cdef char digits[16]
    cdef uint32_t n = 0, i
    if value <= 0:
        out[0] = c'0'
        return 1
    while value > 0 and n < 16:
        digits[15 - n] = _HEX[value & 15]
        value >>= 4
        n += 1
    for i in range(n):
        out[i] = digits[16 - n + i]
    return n


cdef SessionHooks _HOOKS
_HOOKS.resume = _resume
_HOOKS.field = _field


def hooks_address():
    """The address of this module's SessionHooks, for the loop (loop.pyx) to call through."""
    return <uintptr_t>&_HOOKS
