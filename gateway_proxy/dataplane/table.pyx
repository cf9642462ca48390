"""The routing table of the C data plane: the compiled hot-path table laid out in C arrays.

The C event loop must decide every request (rule, backend, endpoint, filters) without creating
a Python object. The decisions themselves are specified once, by the pure-Python reference
:mod:`gateway_proxy._hotpath_py` and the order the data path takes them in
:mod:`gateway_proxy.exchange`; this module does not compile Gateway API resources again. It walks
the table :mod:`gateway_proxy.compiling` built (of either hot-path build) at reload time, in
Python (:mod:`gateway_proxy.dataplane.layout` flattens it into lists), and copies it into
malloc'd structs owned by a :class:`RouteTable`, so the two can only disagree where this
translation is wrong, which the differential tests look for.

The indexing is the reference's, so the cost stays flat as routes grow: one open-addressing hash
table holds every key of every index (listener hostnames, route hostnames, exact paths, path
prefixes), told apart by a scope (owner id and key kind); a request costs one lookup per host
label and per path segment. Keys are stored as configured and requests are folded as the
reference folds them (Python's ``str.lower`` over latin-1 for hosts and header names), so a key
the reference could never match cannot match here either.

RegularExpression matches are the exception: the reference uses Python's ``re``, and the only C
engine on the system (POSIX ``regex.h``) has another syntax and other semantics, so a regex
condition is evaluated under the GIL with the compiled ``re.Pattern``, creating one ``str`` per
evaluation. Those calls are isolated in the ``_regex_*`` functions, run after the C conditions
of the same match held, and cost nothing for tables without regexes.

Weighted picks draw from :class:`RandomSource` (:mod:`gateway_proxy.dataplane.rng`), CPython's
Mersenne Twister in C: seeded alike, it yields the doubles ``random.Random(seed).random()`` yields,
so a decision sequence can be compared with the reference's draw for draw.
"""

import socket

from cpython.bytes cimport PyBytes_AS_STRING
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.unicode cimport PyUnicode_DecodeLatin1, PyUnicode_DecodeUTF8
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcmp, memcpy

from gateway_proxy import mirroring, retries as _retries
from gateway_proxy.dataplane import layout as _layout

# Key kinds of the shared hash table (the low two bits of CEntry.scope).
cdef enum:
    KEY_HOST_EXACT = 0
    KEY_HOST_WILDCARD = 1
    KEY_PATH_EXACT = 2
    KEY_PATH_PREFIX = 3

# The reload-time layout (layout.py, plain Python) writes these numbers into the arrays the C
# code reads; a drift would misfile every key, so it stops the import instead.
if (_layout.KEY_HOST_EXACT, _layout.KEY_HOST_WILDCARD, _layout.KEY_PATH_EXACT, _layout.KEY_PATH_PREFIX,
        _layout.REWRITE_NONE, _layout.REWRITE_FULL_PATH, _layout.REWRITE_PREFIX, _layout.RETRY_CODE_BYTES,
        _retries.LOWEST_CODE, _layout.PATH_REGEX) != (
        KEY_HOST_EXACT, KEY_HOST_WILDCARD, KEY_PATH_EXACT, KEY_PATH_PREFIX,
        REWRITE_NONE, REWRITE_FULL_PATH, REWRITE_PREFIX, RETRY_CODE_BYTES, RETRY_LOWEST_CODE, PATH_REGEX):
    raise ImportError("gateway_proxy.dataplane.layout's key, rewrite or retry code kinds differ from table.pxd's")

cdef uint64_t _FNV_OFFSET = 0xcbf29ce484222325ULL
cdef uint64_t _FNV_PRIME = 0x100000001b3ULL
cdef int64_t _EVERY = mirroring.EVERY
cdef const char *_ROOT = b"/"

# Byte folds: hosts and header names are compared as the reference compares them, after
# ``bytes.decode("latin-1").lower()``; paths, methods and values byte for byte.
cdef uint8_t _LOWER[256]
cdef uint8_t _SAME[256]


def _fill_folds():
    cdef int i
    for i in range(256):
        lowered = chr(i).lower()
        # str.lower keeps every latin-1 character within latin-1 and one character long; if a
        # Python ever changed that, folding byte by byte would no longer be the reference's.
        if len(lowered) != 1 or ord(lowered) > 255:
            raise ImportError(f"str.lower maps U+{i:04X} outside latin-1: the C fold is not the reference's")
        _LOWER[i] = ord(lowered)
        _SAME[i] = i


_fill_folds()


# The random source is rng.RandomSource (table.pxd cimports it); its Python name stays reachable
# here too, where the bench, the tests and the workers have always taken it from.
globals()["RandomSource"] = RandomSource


# ---- lookups ----

cdef inline uint64_t _hash(uint32_t scope, const char *key, uint32_t n, const uint8_t *fold) noexcept nogil:
    cdef uint64_t h = (_FNV_OFFSET ^ scope) * _FNV_PRIME
    cdef uint32_t i
    for i in range(n):
        h = (h ^ fold[<uint8_t>key[i]]) * _FNV_PRIME
    return h ^ (h >> 32)


cdef int32_t _lookup(const CTable *t, uint32_t scope, const char *key, uint32_t n, const uint8_t *fold) noexcept nogil:
    """The value under (scope, fold(key)), or -1. The table is never full, so probing ends."""
    cdef uint64_t h = _hash(scope, key, n, fold)
    cdef uint64_t slot = h & t.mask
    cdef const CEntry *entry
    cdef const char *stored
    cdef uint32_t i
    while True:
        entry = &t.entries[slot]
        if entry.value < 0:
            return -1
        if entry.hash == h and entry.scope == scope and entry.key.len == n:
            stored = t.pool + entry.key.off
            for i in range(n):
                if <uint8_t>stored[i] != fold[<uint8_t>key[i]]:
                    break
            else:
                return entry.value
        slot = (slot + 1) & t.mask


cdef uint32_t host_length(const char *host, uint32_t n) noexcept nogil:
    """normalize_host without the lower-casing (lookups fold; host_fold is the fold): the Host
    value without port or dot."""
    cdef uint32_t i
    if n == 0:
        return 0
    if host[0] == c'[':
        for i in range(1, n):
            if host[i] == c']':
                return i + 1
        return n
    i = n
    while i > 0:
        i -= 1
        if host[i] == c':':
            n = i
            break
    if n > 0 and host[n - 1] == c'.':
        n -= 1
    return n


cdef uint8_t host_fold(uint8_t c) noexcept nogil:
    """normalize_host's lower-casing of one byte: ``bytes.decode("latin-1").lower()``."""
    return _LOWER[c]


cdef int32_t _host_value(const CTable *t, int32_t index, const char *host, uint32_t n) noexcept nogil:
    """host_candidates(index, host)[0]: exact, then wildcard suffixes longest first, then default."""
    cdef int32_t found = _lookup(t, <uint32_t>index << 2 | KEY_HOST_EXACT, host, n, _LOWER)
    cdef uint32_t i
    if found >= 0:
        return found
    if t.host_wildcards[index]:
        for i in range(n):
            if host[i] == c'.':
                found = _lookup(t, <uint32_t>index << 2 | KEY_HOST_WILDCARD, host + i, n - i, _LOWER)
                if found >= 0:
                    return found
    return t.host_defaults[index]


# ---- conditions ----

cdef inline bint _folded_equal(const char *received, const char *stored, uint32_t n) noexcept nogil:
    cdef uint32_t i
    for i in range(n):
        if _LOWER[<uint8_t>received[i]] != <uint8_t>stored[i]:
            return False
    return True


cdef inline int _hex(uint8_t c) noexcept nogil:
    if c'0' <= c <= c'9':
        return c - c'0'
    if c'a' <= c <= c'f':
        return c - c'a' + 10
    if c'A' <= c <= c'F':
        return c - c'A' + 10
    return -1


cdef uint32_t _expand(const char *raw, uint32_t n, uint8_t *out) noexcept nogil:
    """_hotpath_py._unquote up to the UTF-8 decode: "+" is a space, valid %XX a byte, and any
    other character the UTF-8 of its latin-1 code point. At most 2n bytes."""
    cdef uint32_t i = 0, o = 0
    cdef uint8_t c
    while i < n:
        c = <uint8_t>raw[i]
        if c == c'+':
            out[o] = c' '
            o += 1
            i += 1
        elif c == c'%' and i + 2 < n and _hex(<uint8_t>raw[i + 1]) >= 0 and _hex(<uint8_t>raw[i + 2]) >= 0:
            out[o] = <uint8_t>(_hex(<uint8_t>raw[i + 1]) * 16 + _hex(<uint8_t>raw[i + 2]))
            o += 1
            i += 3
        elif c >= 0x80:
            out[o] = 0xC0 | (c >> 6)
            out[o + 1] = 0x80 | (c & 0x3F)
            o += 2
            i += 1
        else:
            out[o] = c
            o += 1
            i += 1
    return o


cdef uint32_t _sanitize(const uint8_t *text, uint32_t n, uint8_t *out) noexcept nogil:
    """UTF-8 of ``text.decode("utf-8", "replace")``: CPython replaces each maximal invalid subpart
    with one U+FFFD. ``out`` needs room for 2n bytes when ``text`` came from _expand (invalid
    bytes there come only from %XX, three input bytes each)."""
    cdef uint32_t i = 0, o = 0, j, need, k
    cdef uint8_t c, low, high, d
    cdef bint complete
    while i < n:
        c = text[i]
        if c < 0x80:
            out[o] = c
            o += 1
            i += 1
            continue
        low, high = 0x80, 0xBF
        if 0xC2 <= c <= 0xDF:
            need = 1
        elif c == 0xE0:
            need, low = 2, 0xA0
        elif c == 0xED:
            need, high = 2, 0x9F  # no surrogates
        elif 0xE1 <= c <= 0xEF:
            need = 2
        elif c == 0xF0:
            need, low = 3, 0x90
        elif 0xF1 <= c <= 0xF3:
            need = 3
        elif c == 0xF4:
            need, high = 3, 0x8F
        else:
            out[o], out[o + 1], out[o + 2] = 0xEF, 0xBF, 0xBD
            o += 3
            i += 1
            continue
        j = i + 1
        complete = True
        for k in range(need):
            if j >= n:
                complete = False
                break
            d = text[j]
            if (k == 0 and (d < low or d > high)) or (k > 0 and (d < 0x80 or d > 0xBF)):
                complete = False
                break
            j += 1
        if complete:
            while i < j:
                out[o] = text[i]
                o += 1
                i += 1
        else:
            out[o], out[o + 1], out[o + 2] = 0xEF, 0xBF, 0xBD
            o += 3
            i = j
    return o


cdef bint _decoded_equal(const CTable *t, const char *raw, uint32_t n, const char *want, uint32_t length) noexcept nogil:
    """Whether a query name or value, decoded as the reference decodes it, equals ``want`` (UTF-8)."""
    cdef uint32_t expanded, decoded
    # Each decoded byte comes from at most three received bytes (%XX): a longer part cannot be
    # equal, and a shorter one fits the scratch buffers sized from the longest expected text.
    if n > 3 * length:
        return False
    expanded = _expand(raw, n, <uint8_t *>t.scratch)
    decoded = _sanitize(<uint8_t *>t.scratch, expanded, <uint8_t *>t.scratch + t.scratch_len)
    return decoded == length and memcmp(t.scratch + t.scratch_len, want, length) == 0


cdef bint _regex_path(const CTable *t, int32_t regex, const RouteRequest *r) noexcept with gil:
    text = PyUnicode_DecodeLatin1(<char *>r.base + r.path.off, r.path.len, NULL)
    return (<object>t.regexes)[regex].fullmatch(text) is not None


cdef bint _regex_header(const CTable *t, const CCondition *c, const RouteRequest *r) noexcept with gil:
    cdef uint32_t i
    cdef const HeaderSpan *h
    values = []
    for i in range(r.header_count):
        h = &r.headers[i]
        if h.name.len == c.name.len and _folded_equal(r.base + h.name.off, t.pool + c.name.off, c.name.len):
            values.append((r.base + h.value.off)[:h.value.len])
    text = b",".join(values).decode("latin-1")
    return (<object>t.regexes)[c.regex].fullmatch(text) is not None


cdef bint _regex_query(const CTable *t, int32_t regex, const char *raw, uint32_t n) noexcept with gil:
    return (<object>t.regexes)[regex].fullmatch(_decode_component(raw, n)) is not None


cdef str _decode_component(const char *raw, uint32_t n):
    cdef uint8_t *buffer = <uint8_t *>PyMem_Malloc(4 * <size_t>n + 1)
    cdef uint32_t expanded, decoded
    if buffer == NULL:
        raise MemoryError()
    try:
        expanded = _expand(raw, n, buffer)
        decoded = _sanitize(buffer, expanded, buffer + 2 * <size_t>n)
        return PyUnicode_DecodeUTF8(<char *>buffer + 2 * <size_t>n, decoded, NULL)
    finally:
        PyMem_Free(buffer)


def decode_query_component(raw):
    """A query name or value (latin-1 str or bytes as received) decoded as the C table decodes it."""
    data = _layout.wire_bytes(raw)
    return _decode_component(PyBytes_AS_STRING(data), len(data))


cdef bint _header_holds(const CTable *t, const CCondition *c, const RouteRequest *r) noexcept nogil:
    """The repeated fields of that name joined with "," (index_headers) equal the value."""
    cdef const char *want = t.pool + c.value.off
    cdef uint32_t pos = 0, i
    cdef bint found = False
    cdef const HeaderSpan *h
    for i in range(r.header_count):
        h = &r.headers[i]
        if h.name.len != c.name.len or not _folded_equal(r.base + h.name.off, t.pool + c.name.off, c.name.len):
            continue
        if c.regex >= 0:
            return _regex_header(t, c, r)
        if found:
            if pos >= c.value.len or want[pos] != c',':
                return False
            pos += 1
        if h.value.len > c.value.len - pos or memcmp(r.base + h.value.off, want + pos, h.value.len) != 0:
            return False
        pos += h.value.len
        found = True
    return found and pos == c.value.len


cdef bint _query_holds(const CTable *t, const CCondition *c, const RouteRequest *r) noexcept nogil:
    """parse_query(query).get(name): the first part whose decoded name is the name decides."""
    cdef const char *query = r.base + r.query.off
    cdef uint32_t n = r.query.len, start = 0, end, eq, value
    while start < n:
        end = start
        while end < n and query[end] != c'&':
            end += 1
        if end > start:
            eq = start
            while eq < end and query[eq] != c'=':
                eq += 1
            if _decoded_equal(t, query + start, eq - start, t.pool + c.name.off, c.name.len):
                value = eq + 1 if eq < end else end
                if c.regex >= 0:
                    return _regex_query(t, c.regex, query + value, end - value)
                return _decoded_equal(t, query + value, end - value, t.pool + c.value.off, c.value.len)
        start = end + 1
    return False


cdef bint _conditions(const CTable *t, const CMatch *m, const RouteRequest *r) noexcept nogil:
    """match_conditions: everything of a match but the path."""
    cdef uint32_t i
    cdef const CCondition *c = &t.conditions[m.cond_first]
    if m.never:
        return False
    if m.has_method and (r.method.len != m.method.len
                         or memcmp(r.base + r.method.off, t.pool + m.method.off, m.method.len) != 0):
        return False
    for i in range(m.header_count):
        if not _header_holds(t, &c[i], r):
            return False
    for i in range(m.query_count):
        if not _query_holds(t, &c[m.header_count + i], r):
            return False
    return True


cdef int32_t _first(const CTable *t, int32_t bucket, const RouteRequest *r) noexcept nogil:
    cdef const CBucket *b = &t.buckets[bucket]
    cdef uint32_t i
    cdef int32_t match
    for i in range(b.count):
        match = t.bucket_items[b.first + i]
        if _conditions(t, &t.matches[match], r):
            return match
    return -1


cdef int32_t _match_paths(const CTable *t, int32_t table, const RouteRequest *r) noexcept nogil:
    """match_path_table: exact, then regexes in order, then the longest prefix, segment-aware."""
    cdef const CPathTable *p = &t.paths[table]
    cdef const char *key = r.base + r.path.off
    cdef uint32_t n = r.path.len, i, cut
    cdef int32_t bucket, found, match
    cdef uint32_t prefix_scope = <uint32_t>table << 2 | KEY_PATH_PREFIX
    if p.has_exact:
        bucket = _lookup(t, <uint32_t>table << 2 | KEY_PATH_EXACT, key, n, _SAME)
        if bucket >= 0:
            found = _first(t, bucket, r)
            if found >= 0:
                return found
    for i in range(p.regex_count):
        match = t.bucket_items[p.regex_first + i]
        # C conditions first: the regex costs the GIL and a str, and both must hold anyway.
        if _conditions(t, &t.matches[match], r) and _regex_path(t, t.matches[match].path_regex, r):
            return match
    if not p.has_prefix:
        return -1
    while n > 1 and key[n - 1] == c'/':
        n -= 1
    while True:
        bucket = _lookup(t, prefix_scope, key, n, _SAME)
        if bucket >= 0:
            found = _first(t, bucket, r)
            if found >= 0:
                return found
        if n == 0 or (n == 1 and key[0] == c'/'):
            return -1
        cut = n
        while cut > 0:
            cut -= 1
            if key[cut] == c'/':
                break
        if cut > 0 and key[cut] == c'/':
            n = cut
        else:
            key, n = _ROOT, 1


cdef int32_t route_match(CTable *t, const RouteRequest *request) noexcept nogil:
    """route(): the winning match id, or -1 (404)."""
    cdef int32_t root = t.roots[1 if request.tls else 0]
    cdef const char *host = request.base + request.host.off
    cdef uint32_t n = host_length(host, request.host.len), i
    cdef int32_t listener, table, found
    if root < 0:
        return -1
    # Listeners are isolated: the most specific listener hostname owns the request...
    listener = _host_value(t, root, host, n)
    if listener < 0:
        return -1
    # ...and within it route hostnames are tried most specific first, falling back to wider ones.
    table = _lookup(t, <uint32_t>listener << 2 | KEY_HOST_EXACT, host, n, _LOWER)
    if table >= 0:
        found = _match_paths(t, table, request)
        if found >= 0:
            return found
    if t.host_wildcards[listener]:
        for i in range(n):
            if host[i] == c'.':
                table = _lookup(t, <uint32_t>listener << 2 | KEY_HOST_WILDCARD, host + i, n - i, _LOWER)
                if table >= 0:
                    found = _match_paths(t, table, request)
                    if found >= 0:
                        return found
    table = t.host_defaults[listener]
    if table >= 0:
        return _match_paths(t, table, request)
    return -1


cdef int32_t pick_backend(const CTable *t, int32_t rule, double fraction) noexcept nogil:
    """_hotpath_py.pick_backend: the backend id for a uniform fraction, -1 when all weights are 0."""
    cdef const CRule *r = &t.rules[rule]
    cdef int64_t point
    cdef uint32_t i
    if r.total <= 0:
        return -1
    point = <int64_t>(fraction * <double>r.total)
    if point >= r.total:
        point = r.total - 1
    for i in range(r.backend_count):
        if t.backends[r.backend_first + i].cumulative > point:
            return r.backend_first + i
    return -1


cdef int32_t next_endpoint(CTable *t, int32_t backend) noexcept nogil:
    """Backend.next_endpoint: round robin over ready endpoints; -1 when there are none."""
    cdef CBackend *b = &t.backends[backend]
    cdef uint32_t index
    if b.endpoint_count == 0:
        return -1
    index = b.cursor
    b.cursor = (index + 1) % b.endpoint_count
    return b.endpoint_first + index


cdef bint _has_field(const RouteRequest *r, const char *lname, uint32_t n) noexcept nogil:
    cdef uint32_t i
    for i in range(r.header_count):
        if r.headers[i].name.len == n and _folded_equal(r.base + r.headers[i].name.off, lname, n):
            return True
    return False


cdef bint _preflight(const RouteRequest *r) noexcept nogil:
    """cors.is_preflight: OPTIONS with Origin and Access-Control-Request-Method."""
    return (r.method.len == 7 and memcmp(r.base + r.method.off, b"OPTIONS", 7) == 0
            and _has_field(r, b"origin", 6) and _has_field(r, b"access-control-request-method", 29))


cdef void route_decide(CTable *t, const RouteRequest *request, Rng *rng, Decision *out, PinBackend pin,
                       void *context) noexcept nogil:
    """One request's decisions in exchange.handle/begin's order, drawing randomness as it does;
    ``pin`` (NULL: none) names the backend of a session rule's valid session."""
    cdef const CRule *rule
    cdef const CBackend *mirror
    cdef uint32_t i
    out.rule = out.backend = out.endpoint = -1
    out.mirror_count = 0
    out.mirror_endpoints = t.mirror_out
    out.match = route_match(t, request)
    if out.match < 0:
        out.status = STATUS_NOT_FOUND
        return
    out.rule = t.matches[out.match].rule
    rule = &t.rules[out.rule]
    if rule.cors >= 0 and _preflight(request):  # answered by the CORS filter, before any draw
        out.status = STATUS_PREFLIGHT
        return
    if rule.redirect >= 0:  # answered before any draw, as the reference does
        out.status = rule.redirect_status
        return
    if rule.session >= 0 and pin != NULL:
        out.backend = pin(context, t, out.rule, request)  # a pinned session draws nothing
    if out.backend < 0:
        out.backend = pick_backend(t, out.rule, rng_random(rng))
    if out.backend < 0:
        out.status = 500
        return
    if t.backends[out.backend].status:
        out.status = t.backends[out.backend].status
        return
    for i in range(rule.mirror_count):
        mirror = &t.backends[rule.mirror_first + i]
        # A mirror's weight is the share of requests it copies, out of EVERY (see mirroring).
        if mirror.endpoint_count and (mirror.weight >= _EVERY or rng_random(rng) * <double>_EVERY < <double>mirror.weight):
            t.mirror_out[out.mirror_count] = next_endpoint(t, rule.mirror_first + i)
            out.mirror_count += 1
    out.endpoint = next_endpoint(t, out.backend)
    # A status-0 backend always has endpoints (attachment resolves none ready to 503); if one
    # ever had none, forwarding nowhere is not an option.
    out.status = 0 if out.endpoint >= 0 else 503


cdef void *_allocate(size_t count, size_t size) except NULL:
    cdef void *memory = calloc(count if count else 1, size)
    if memory == NULL:
        raise MemoryError()
    return memory


cdef int _copy_indexes(CTable *t, layout, bytes pool) except -1:
    cdef size_t capacity = 8, i
    cdef uint64_t slot, h
    cdef CEntry *entry
    t.pool = <char *>_allocate(len(pool), 1)
    memcpy(t.pool, PyBytes_AS_STRING(pool), len(pool))
    while capacity < 2 * len(layout.entries):
        capacity *= 2  # at most half full: probes stay short and always reach an empty slot
    t.entries = <CEntry *>_allocate(capacity, sizeof(CEntry))
    t.mask = capacity - 1
    for i in range(capacity):
        t.entries[i].value = -1
    for scope, key, value in layout.entries:
        h = _hash(scope, key, len(key), _SAME)
        slot = h & t.mask
        while t.entries[slot].value >= 0:
            slot = (slot + 1) & t.mask
        entry = &t.entries[slot]
        entry.hash, entry.scope, entry.value = h, scope, value
        entry.key.off, entry.key.len = layout.interned[key]
    hosts = len(layout.host_defaults)
    t.host_defaults = <int32_t *>_allocate(hosts, sizeof(int32_t))
    t.host_wildcards = <uint8_t *>_allocate(hosts, 1)
    for i in range(<size_t>hosts):
        t.host_defaults[i], t.host_wildcards[i] = layout.host_defaults[i], layout.host_wildcards[i]
    t.paths = <CPathTable *>_allocate(len(layout.paths), sizeof(CPathTable))
    for i, (first, count, exact, prefix) in enumerate(layout.paths):
        t.paths[i].regex_first, t.paths[i].regex_count = first, count
        t.paths[i].has_exact, t.paths[i].has_prefix = exact, prefix
    t.buckets = <CBucket *>_allocate(len(layout.buckets), sizeof(CBucket))
    for i, (first, count) in enumerate(layout.buckets):
        t.buckets[i].first, t.buckets[i].count = first, count
    t.bucket_items = <int32_t *>_allocate(len(layout.items), sizeof(int32_t))
    for i, item in enumerate(layout.items):
        t.bucket_items[i] = item
    t.scratch_len = 6 * layout.longest_query_text + 8
    t.scratch = <char *>_allocate(2 * t.scratch_len, 1)
    t.mirror_out = <int32_t *>_allocate(layout.longest_mirrors, sizeof(int32_t))
    return 0


cdef int _copy_matches(CTable *t, layout) except -1:
    cdef CMatch *m
    cdef size_t i
    t.match_count = len(layout.c_matches)
    t.matches = <CMatch *>_allocate(t.match_count, sizeof(CMatch))
    for i, (rule, kind, path, regex, has_method, method, first, headers, queries, never, cookie_path) in enumerate(
            layout.c_matches):
        m = &t.matches[i]
        m.rule, m.path_kind, m.path_regex, m.has_method = rule, kind, regex, has_method
        m.cookie_path.off, m.cookie_path.len = cookie_path
        m.path.off, m.path.len = path
        m.method.off, m.method.len = method
        m.cond_first, m.header_count, m.query_count, m.never = first, headers, queries, never
    t.conditions = <CCondition *>_allocate(len(layout.conditions), sizeof(CCondition))
    for i, (name, value, regex) in enumerate(layout.conditions):
        t.conditions[i].name.off, t.conditions[i].name.len = name
        t.conditions[i].value.off, t.conditions[i].value.len = value
        t.conditions[i].regex = regex
    return 0


cdef int _copy_rules(CTable *t, layout) except -1:
    cdef CRule *r
    cdef CSession *session
    cdef CCors *c
    cdef CBackend *b
    cdef CEndpoint *e
    cdef size_t i, k
    t.rule_count = len(layout.c_rules)
    t.rules = <CRule *>_allocate(t.rule_count, sizeof(CRule))
    for i, values in enumerate(layout.c_rules):
        r = &t.rules[i]
        (r.backend_first, r.backend_count, r.total, r.mirror_first, r.mirror_count, r.request_ops,
         r.response_ops, r.redirect, r.redirect_status, r.rewrite, r.rewrite_kind, path, r.rewrite_host,
         hostname, r.request_timeout, r.backend_timeout, r.listener_port, r.https, r.cors, r.retry_attempts,
         r.retry_backoff, r.retry_cap, codes, r.session) = values
        for k in range(RETRY_CODE_BYTES):
            r.retry_codes[k] = codes[k]
        r.rewrite_path.off, r.rewrite_path.len = path
        r.rewrite_hostname.off, r.rewrite_hostname.len = hostname
    t.backend_count = len(layout.c_backends)
    t.backends = <CBackend *>_allocate(t.backend_count, sizeof(CBackend))
    for i, values in enumerate(layout.c_backends):
        b = &t.backends[i]
        (b.status, b.weight, b.cumulative, b.endpoint_first, b.endpoint_count, b.cursor, b.rule,
         b.request_ops, b.response_ops) = values
    t.cors = <CCors *>_allocate(len(layout.cors), sizeof(CCors))
    for i, (any_origin, credentials, any_method, any_header, expose_any, first, count, methods, headers, expose,
            max_age) in enumerate(layout.cors):
        c = &t.cors[i]
        c.any_origin, c.credentials, c.any_method, c.any_header, c.expose_any = (
            any_origin, credentials, any_method, any_header, expose_any)
        c.origin_first, c.origin_count = first, count
        c.methods.off, c.methods.len = methods
        c.headers.off, c.headers.len = headers
        c.expose.off, c.expose.len = expose
        c.max_age.off, c.max_age.len = max_age
    t.cors_origins = <COrigin *>_allocate(len(layout.cors_origins), sizeof(COrigin))
    for i, (https, port, wildcard, host) in enumerate(layout.cors_origins):
        t.cors_origins[i].https, t.cors_origins[i].port, t.cors_origins[i].wildcard = https, port, wildcard
        t.cors_origins[i].host.off, t.cors_origins[i].host.len = host
    t.redirects = <CRedirect *>_allocate(len(layout.redirects), sizeof(CRedirect))
    for i, (lead, request_host, port, kind, path, unwritable) in enumerate(layout.redirects):
        t.redirects[i].lead.off, t.redirects[i].lead.len = lead
        t.redirects[i].port.off, t.redirects[i].port.len = port
        t.redirects[i].path.off, t.redirects[i].path.len = path
        t.redirects[i].request_host, t.redirects[i].path_kind = request_host, kind
        t.redirects[i].unwritable = unwritable
    t.sessions = <CSession *>_allocate(len(layout.sessions), sizeof(CSession))
    for i, (name, lower_name, header, permanent, secure, absolute, idle, scope, key, tag_first, tag_count) in enumerate(
            layout.sessions):
        session = &t.sessions[i]
        session.name.off, session.name.len = name
        session.lower_name.off, session.lower_name.len = lower_name
        session.header, session.permanent, session.secure = header, permanent, secure
        session.absolute, session.idle = absolute, idle
        session.scope.off, session.scope.len = scope
        session.key.off, session.key.len = key
        session.tag_first, session.tag_count = tag_first, tag_count
    t.session_tags = <CName *>_allocate(len(layout.session_tags), sizeof(CName))
    for i, tag in enumerate(layout.session_tags):
        t.session_tags[i].off, t.session_tags[i].len = tag
    t.endpoint_count = len(layout.endpoints)
    t.endpoints = <CEndpoint *>_allocate(t.endpoint_count, sizeof(CEndpoint))
    for i, (host, port, family, address, backend) in enumerate(layout.endpoints):
        e = &t.endpoints[i]
        e.host.off, e.host.len = host
        e.port, e.family, e.backend = port, family, backend
        for k in range(<size_t>len(address)):
            e.addr[k] = address[k]
    return 0


cdef int _copy_ops(CTable *t, layout) except -1:
    cdef CHeaderOps *o
    cdef size_t i
    t.ops = <CHeaderOps *>_allocate(len(layout.ops), sizeof(CHeaderOps))
    for i, (lines, names_first, removes, sets, adds, add_first, add_count) in enumerate(layout.ops):
        o = &t.ops[i]
        o.set_lines.off, o.set_lines.len = lines
        o.names_first, o.remove_count, o.set_count, o.add_name_count = names_first, removes, sets, adds
        o.add_first, o.add_count = add_first, add_count
    t.names = <CName *>_allocate(len(layout.names), sizeof(CName))
    for i, (offset, length) in enumerate(layout.names):
        t.names[i].off, t.names[i].len = offset, length
    t.add_items = <CAddItem *>_allocate(len(layout.add_items), sizeof(CAddItem))
    for i, (name, lname, value) in enumerate(layout.add_items):
        t.add_items[i].name.off, t.add_items[i].name.len = name
        t.add_items[i].lname.off, t.add_items[i].lname.len = lname
        t.add_items[i].value.off, t.add_items[i].value.len = value
    return 0


cdef class RouteTable:
    """A compiled routing table in C arrays; ``table``/``tls_table`` as compiling.Compiled has them.

    The table references the Python Rule/Backend/Match objects by id (``rules[i]`` is the
    reference object of CRule i), for what stays in Python: metrics binding and the admin view.
    Rules reached from both tables are laid out once, so their round-robin cursors are shared as
    the reference's are.
    """

    def __init__(self, table, tls_table=None):
        if self.c.pool != NULL:
            raise TypeError("a RouteTable is built once; build a new one for a new table")
        layout = _layout.Layout()
        roots = [layout.host_index(root, False) if root is not None else -1 for root in (table, tls_table)]
        self._pool = bytes(layout.pool)
        _copy_indexes(&self.c, layout, self._pool)
        _copy_matches(&self.c, layout)
        _copy_rules(&self.c, layout)
        _copy_ops(&self.c, layout)
        self.c.roots[0], self.c.roots[1] = roots
        self.matches = tuple(layout.matches)
        self.rules = tuple(layout.rules)
        self.backends = tuple(layout.backends)
        self.rewrites = tuple(layout.rewrites)
        self.regexes = tuple(layout.regexes)
        self.c.regexes = <PyObject *>self.regexes
        self._ops = tuple(layout.ops)

    def __dealloc__(self):
        cdef CTable *t = &self.c
        free(t.pool)
        free(t.entries)
        free(t.host_defaults)
        free(t.host_wildcards)
        free(t.paths)
        free(t.buckets)
        free(t.bucket_items)
        free(t.matches)
        free(t.conditions)
        free(t.rules)
        free(t.backends)
        free(t.endpoints)
        free(t.ops)
        free(t.names)
        free(t.add_items)
        free(t.cors)
        free(t.cors_origins)
        free(t.redirects)
        free(t.sessions)
        free(t.session_tags)
        free(t.scratch)
        free(t.mirror_out)

    # ---- Python views, for tests, the admin page and whatever stays in Python ----

    def endpoint(self, index):
        """(host, port) of an endpoint id, as the reference's Backend.endpoints hold it."""
        if not 0 <= index < self.c.endpoint_count:
            raise IndexError(index)
        cdef CEndpoint *e = &self.c.endpoints[index]
        return self._pool[e.host.off:e.host.off + e.host.len].decode("utf-8"), e.port

    def endpoint_owner(self, index):
        """The backend id an endpoint id belongs to (a mirror's, for mirror endpoints)."""
        if not 0 <= index < self.c.endpoint_count:
            raise IndexError(index)
        return self.c.endpoints[index].backend

    def endpoint_address(self, index):
        """(family, packed address) of an endpoint id; family 0 when the host is a name."""
        if not 0 <= index < self.c.endpoint_count:
            raise IndexError(index)
        cdef CEndpoint *e = &self.c.endpoints[index]
        return e.family, (<char *>e.addr)[:16 if e.family == socket.AF_INET6 else 4] if e.family else b""

    def rule_fields(self, rule):
        """The CRule of a rule id as a dict: what the event loop reads to forward."""
        if not 0 <= rule < self.c.rule_count:
            raise IndexError(rule)
        return self.c.rules[rule]

    def backend_fields(self, backend):
        """The CBackend of a backend id as a dict."""
        if not 0 <= backend < self.c.backend_count:
            raise IndexError(backend)
        return self.c.backends[backend]

    def header_ops(self, ops):
        """A header modifier id read back from the C arrays: (set lines, remove names, set names,
        add names, add items), names as sets, add items as (name, lower-cased name, value)."""
        if not 0 <= ops < len(self._ops):
            raise IndexError(ops)
        cdef CHeaderOps *o = &self.c.ops[ops]
        cdef CAddItem *item
        cdef uint32_t i
        names = [self._text(self.c.names[o.names_first + i]) for i in range(
            o.remove_count + o.set_count + o.add_name_count)]
        adds = []
        for i in range(o.add_count):
            item = &self.c.add_items[o.add_first + i]
            adds.append((self._text(item.name), self._text(item.lname), self._text(item.value)))
        return (self._text(o.set_lines), frozenset(names[:o.remove_count]),
                frozenset(names[o.remove_count:o.remove_count + o.set_count]),
                frozenset(names[o.remove_count + o.set_count:]), tuple(adds))

    cdef bytes _text(self, CName name):
        return self._pool[name.off:name.off + name.len]

    def pick(self, rule, fraction):
        """pick_backend by rule id: a backend id, or None when every weight is zero."""
        if not 0 <= rule < self.c.rule_count:
            raise IndexError(rule)
        found = pick_backend(&self.c, rule, fraction)
        return None if found < 0 else found

    def match(self, method, path, query="", host="", headers=(), tls=False):
        """The winning match id for a request given as Python values, or None (404).

        ``host`` is the Host value as received; ``headers`` are (name, value) pairs as received.
        The values are laid out in one buffer with spans, as the parser hands them over.
        """
        cdef RouteRequest request
        cdef HeaderSpan *spans = NULL
        buffer = _request(&request, &spans, method, path, query, host, headers, tls)
        try:
            found = route_match(&self.c, &request)
        finally:
            PyMem_Free(spans)
        return None if found < 0 else found

    def repeat(self, iterations, RandomSource source, method, path, query="", host="", headers=(), tls=False):
        """route_decide ``iterations`` times on one request, in C: the per-request cost without
        the Python call around it (bench/route_table_c.py). Returns the last status."""
        cdef RouteRequest request
        cdef HeaderSpan *spans = NULL
        cdef Decision out
        cdef Py_ssize_t i, count = iterations
        out.status = 0
        buffer = _request(&request, &spans, method, path, query, host, headers, tls)
        try:
            for i in range(count):
                route_decide(&self.c, &request, &source.rng, &out, NULL, NULL)
        finally:
            PyMem_Free(spans)
        return out.status

    def decide(self, RandomSource source, method, path, query="", host="", headers=(), tls=False):
        """route_decide for a request given as Python values.

        (status, match id, rule id, backend id, endpoint id, mirror endpoint ids); ids are None
        where the decision has none.
        """
        cdef RouteRequest request
        cdef HeaderSpan *spans = NULL
        cdef Decision out
        cdef uint32_t i
        buffer = _request(&request, &spans, method, path, query, host, headers, tls)
        try:
            route_decide(&self.c, &request, &source.rng, &out, NULL, NULL)
        finally:
            PyMem_Free(spans)
        mirrors = tuple([out.mirror_endpoints[i] for i in range(out.mirror_count)])
        return (out.status, _id(out.match), _id(out.rule), _id(out.backend), _id(out.endpoint), mirrors)


cdef object _id(int32_t value):
    return None if value < 0 else value


cdef bytes _request(RouteRequest *request, HeaderSpan **spans, method, path, query, host, headers, bint tls):
    """Lay a request out as the parser would: one buffer, spans into it. Returns the buffer,
    which the caller keeps alive while the spans are used."""
    cdef uint32_t offset = 0, i
    wire = _layout.wire_bytes
    parts = [wire(method), wire(path), wire(query), wire(host)]
    pairs = [(wire(name), wire(value)) for name, value in headers]
    for name, value in pairs:
        parts.append(name)
        parts.append(value)
    buffer = b"".join(parts)
    lengths = [len(part) for part in parts]
    spans[0] = <HeaderSpan *>PyMem_Malloc((len(pairs) or 1) * sizeof(HeaderSpan))
    if spans[0] == NULL:
        raise MemoryError()
    request.base = PyBytes_AS_STRING(buffer)
    request.tls = tls
    request.header_count = len(pairs)
    request.headers = spans[0]
    for i in range(len(parts)):
        if i < 4:
            _span(i, request, offset, lengths[i])
        elif i % 2 == 0:
            spans[0][(i - 4) // 2].name.off, spans[0][(i - 4) // 2].name.len = offset, lengths[i]
        else:
            spans[0][(i - 4) // 2].value.off, spans[0][(i - 4) // 2].value.len = offset, lengths[i]
        offset += lengths[i]
    return buffer


cdef void _span(uint32_t which, RouteRequest *request, uint32_t offset, uint32_t length) noexcept:
    cdef Span *span = &request.method
    if which == 1:
        span = &request.path
    elif which == 2:
        span = &request.query
    elif which == 3:
        span = &request.host
    span.off, span.len = offset, length
