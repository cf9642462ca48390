# The C interface of the strict HTTP/1.1 parser (http1.pyx), cimported by the event loop.
#
# Every function here is `noexcept nogil`: Cython refuses to compile Python object operations
# inside them, so "no Python object per request" is checked by the compiler, not by review.
# All offsets are relative to the `buf` pointer the caller passes, which is the start of the
# message in the connection's receive buffer (spans.pxd).
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from gateway_proxy.dataplane.spans cimport Span, HeaderSpan

cdef enum:
    # Capacity of the header array; the max_headers limit is clamped to it. 100 is the proxy's
    # MAX_HEADERS (downstream.py), so the array is exactly as large as the limit it enforces.
    HTTP1_HEADER_CAPACITY = 100

# Results of the head parsers: > 0 is the head length (the body starts there), 0 means the head
# is incomplete (receive more, call again with the same buffer start), < 0 is minus the status
# to answer before closing: the stream can no longer be framed.
cdef enum:
    HTTP1_INCOMPLETE = 0
    HTTP1_BAD_REQUEST = -400
    HTTP1_METHOD_NOT_ALLOWED = -405
    HTTP1_URI_TOO_LONG = -414
    HTTP1_HEADERS_TOO_LARGE = -431
    HTTP1_BAD_GATEWAY = -502

# Methods: index into the accepted list; the nine of RFC 9110 9.3 plus PATCH come first so that a
# route table can keep a ten-bit mask, the rest (WebDAV and friends llhttp knows) follow.
cdef enum:
    METHOD_GET = 0
    METHOD_HEAD = 1
    METHOD_POST = 2
    METHOD_PUT = 3
    METHOD_DELETE = 4
    METHOD_CONNECT = 5
    METHOD_OPTIONS = 6
    METHOD_TRACE = 7
    METHOD_PATCH = 8
    METHOD_FIRST_EXTENSION = 9

cdef enum:
    FRAMING_NONE = 0      # no body: no framing header, or a response that cannot have one
    FRAMING_LENGTH = 1    # content_length bytes follow (possibly 0)
    FRAMING_CHUNKED = 2   # feed the bytes after the head to a ChunkedDecoder
    FRAMING_CLOSE = 3     # responses only: the body runs until the backend closes

cdef enum:
    TARGET_ORIGIN = 1     # "/path?query"
    TARGET_ABSOLUTE = 2   # "http://authority/path?query": authority is the effective host

# Bits of RequestHead.flags / ResponseHead.flags
cdef enum:
    FLAG_CONNECTION_CLOSE = 1
    FLAG_CONNECTION_KEEP_ALIVE = 2
    FLAG_CONNECTION_UPGRADE = 4
    FLAG_UPGRADE_HEADER = 8       # an Upgrade field is present
    FLAG_EXPECT_CONTINUE = 16     # Expect: 100-continue
    FLAG_HTTPS = 32               # absolute-form target with the https scheme


cdef struct Limits:
    uint32_t max_uri       # request-target length above which 414 (MAX_URI, 8 KiB)
    uint32_t max_head      # head length above which 431 (MAX_HEAD, 32 KiB)
    uint32_t max_headers   # field lines above which 431 (MAX_HEADERS, 100)


cdef struct RequestHead:
    # Progress, so that a head arriving in many receives is scanned once (reset with request_reset).
    uint32_t line_start    # where the line being parsed starts
    uint32_t scan          # how far that line was searched for its LF
    uint8_t in_headers     # the request line is done
    # The request line
    Span method
    uint8_t method_id      # METHOD_*
    Span target            # as received, fragment included
    uint8_t target_form    # TARGET_*
    Span path              # up to "?" or "#"; len 0 only for an absolute-form target without path ("/")
    Span query             # after "?", without the "?", up to "#"
    uint8_t version_minor  # 0 or 1 (HTTP/1.0, HTTP/1.1)
    # The field section
    uint32_t header_count
    HeaderSpan headers[HTTP1_HEADER_CAPACITY]   # names as received, values without surrounding OWS
    Span host              # effective host: the absolute-form authority, else the Host value
    uint8_t host_fields    # Host field lines seen
    uint8_t framing        # FRAMING_NONE, _LENGTH or _CHUNKED
    uint64_t content_length
    uint8_t keep_alive     # llhttp's should_keep_alive decision
    uint8_t upgrade        # Connection: upgrade with an Upgrade field (llhttp's rule); never tunnelled
    uint32_t flags         # FLAG_*


cdef struct ResponseHead:
    uint32_t line_start
    uint32_t scan
    uint8_t in_headers
    uint16_t status
    Span reason
    uint8_t version_minor
    uint32_t header_count
    HeaderSpan headers[HTTP1_HEADER_CAPACITY]
    uint8_t framing        # FRAMING_*; NONE for 1xx, 204, 304 and responses to HEAD
    uint64_t content_length
    uint8_t keep_alive     # the backend connection may be reused after this response
    uint32_t flags


cdef struct ChunkedDecoder:
    uint8_t state
    int error              # minus the status a malformed body is answered with (400 or 502)
    uint64_t size          # the chunk size being read, then the data bytes left in the chunk
    uint8_t name_len       # trailer field name length, capped at sizeof(name)
    char name[18]          # lower-cased start of the trailer field name (framing fields are refused)


cdef void request_reset(RequestHead* head) noexcept nogil
cdef int parse_request(RequestHead* head, const char* buf, uint32_t length, const Limits* limits) noexcept nogil

cdef void response_reset(ResponseHead* head) noexcept nogil
cdef int parse_response(ResponseHead* head, const char* buf, uint32_t length, const Limits* limits,
                        bint head_request) noexcept nogil

cdef void chunked_reset(ChunkedDecoder* decoder, int error_status) noexcept nogil
cdef bint chunked_done(const ChunkedDecoder* decoder) noexcept nogil
cdef int64_t chunked_decode(ChunkedDecoder* decoder, const char* buf, uint32_t start, uint32_t end,
                            Span* spans, uint32_t max_spans, uint32_t* span_count) noexcept nogil
