"""What the strict HTTP/1.1 parser (``http1``) decided, as Python values, for the tests.

Why it exists: the parser's functions are ``noexcept nogil`` C over spans, which a test cannot
call. These wrappers run them over ``bytes`` (fed in simulated receives, so the incremental
paths are exercised too) and return dicts, statuses and bodies that the differential tests
compare with llhttp and with the asyncio path. They create Python objects per call and are never
on the request path; keeping them out of ``http1`` keeps that module the C the event loop cimports.
"""

from libc.stdint cimport int64_t, uint32_t, uint64_t

from gateway_proxy.dataplane.http1 cimport (
    FLAG_EXPECT_CONTINUE, FLAG_HTTPS, FLAG_UPGRADE_HEADER, FRAMING_CHUNKED, FRAMING_CLOSE, FRAMING_LENGTH,
    FRAMING_NONE, HTTP1_INCOMPLETE, TARGET_ABSOLUTE, TARGET_ORIGIN, ChunkedDecoder, Limits, RequestHead,
    ResponseHead, chunked_decode, chunked_done, chunked_reset, parse_request, parse_response, request_reset,
    response_reset)
from gateway_proxy.dataplane.spans cimport HeaderSpan, Span


_FRAMINGS = {FRAMING_NONE: "none", FRAMING_LENGTH: "length", FRAMING_CHUNKED: "chunked", FRAMING_CLOSE: "close"}
_FORMS = {TARGET_ORIGIN: "origin", TARGET_ABSOLUTE: "absolute"}


cdef bytes _bytes(bytes data, Span span):
    return data[span.off:span.off + span.len]


cdef Limits _limits(tuple limits):
    cdef Limits out
    out.max_uri, out.max_head, out.max_headers = limits
    return out


def _receive_ends(Py_ssize_t size, cuts):
    """Where each simulated receive ends: the cut points inside the data, then its end."""
    return sorted({cut for cut in cuts if 0 < cut < size}) + [size]


cdef list _fields(bytes data, const HeaderSpan* headers, uint32_t count):
    return [(_bytes(data, headers[i].name), _bytes(data, headers[i].value)) for i in range(count)]


cdef dict _request_view(RequestHead* head, bytes data, int length):
    return {
        "head_length": length,
        "method": _bytes(data, head.method),
        "method_id": head.method_id,
        "target": _bytes(data, head.target),
        "form": _FORMS[head.target_form],
        "path": _bytes(data, head.path),
        "query": _bytes(data, head.query),
        "version": "1.%d" % head.version_minor,
        "headers": _fields(data, head.headers, head.header_count),
        "host": _bytes(data, head.host),
        "framing": _FRAMINGS[head.framing],
        "content_length": head.content_length,
        "keep_alive": bool(head.keep_alive),
        "upgrade": bool(head.upgrade),
        "expect_continue": bool(head.flags & FLAG_EXPECT_CONTINUE),
        "https": bool(head.flags & FLAG_HTTPS),
    }


def inspect_request(bytes data, tuple limits, cuts=()):
    """What the C parser decides about the request head at the start of ``data``, fed in
    receives ending at ``cuts``: a dict when complete, None when incomplete, else the status.
    ``limits`` is (max_uri, max_head, max_headers)."""
    cdef RequestHead head
    cdef Limits c_limits = _limits(limits)
    cdef int result = 0
    cdef bytes received
    request_reset(&head)
    for end in _receive_ends(len(data), cuts):
        received = data[:end]  # a fresh object per receive: nothing past ``end`` can be read
        result = parse_request(&head, received, end, &c_limits)
        if result != HTTP1_INCOMPLETE:
            break
    if result == HTTP1_INCOMPLETE:
        return None
    if result < 0:
        return -result
    return _request_view(&head, data, result)


def inspect_response(bytes data, tuple limits, bint head_request=False, cuts=()):
    """As ``inspect_request``, for a backend's response head."""
    cdef ResponseHead head
    cdef Limits c_limits = _limits(limits)
    cdef int result = 0
    cdef bytes received
    response_reset(&head)
    for end in _receive_ends(len(data), cuts):
        received = data[:end]
        result = parse_response(&head, received, end, &c_limits, head_request)
        if result != HTTP1_INCOMPLETE:
            break
    if result == HTTP1_INCOMPLETE:
        return None
    if result < 0:
        return -result
    return {
        "head_length": result,
        "status": head.status,
        "reason": _bytes(data, head.reason),
        "version": "1.%d" % head.version_minor,
        "headers": _fields(data, head.headers, head.header_count),
        "framing": _FRAMINGS[head.framing],
        "content_length": head.content_length,
        "keep_alive": bool(head.keep_alive),
        "upgrade_header": bool(head.flags & FLAG_UPGRADE_HEADER),
    }


def inspect_chunked(bytes data, cuts=(), uint32_t max_spans=4, int error_status=400):
    """Decode a chunked body at the start of ``data``: (body, end offset) once the body ended,
    None if more bytes are needed, else the status. ``max_spans`` bounds the spans per call, so
    small values exercise the resume-after-full path."""
    cdef ChunkedDecoder decoder
    cdef Span spans[64]
    cdef uint32_t count, k
    cdef int64_t pos = 0
    cdef bytes received
    if not 0 < max_spans <= 64:
        raise ValueError("max_spans must be within 1..64")
    chunked_reset(&decoder, error_status)
    body = bytearray()
    for end in _receive_ends(len(data), cuts):
        received = data[:end]
        while pos < end and not chunked_done(&decoder):
            pos = chunked_decode(&decoder, received, <uint32_t>pos, end, spans, max_spans, &count)
            if pos < 0:
                return -pos
            for k in range(count):
                body += received[spans[k].off:spans[k].off + spans[k].len]
        if chunked_done(&decoder):
            return bytes(body), pos
    return None


def read_requests(bytes data, tuple limits, cuts=()):
    """Read pipelined requests the way the event loop will: head, then body by its framing, then
    the next head, over receives ending at ``cuts``. Returns (messages, outcome): each message is
    the head's dict with its decoded ``body``; the outcome is "end" (every byte belongs to a
    complete message), "partial" (a message is unfinished), "close" (reading stopped after a
    request that does not keep the connection alive), "upgrade" (stopped at an upgrade request,
    which is answered and closed, never tunnelled) or the error status."""
    cdef RequestHead head
    cdef ChunkedDecoder decoder
    cdef Limits c_limits = _limits(limits)
    cdef Span spans[8]
    cdef uint32_t count, k
    cdef int result
    cdef int64_t decoded
    cdef Py_ssize_t start = 0, pos = 0, end
    cdef uint64_t remaining = 0
    cdef bytes received
    cdef const char* buf
    messages = []
    message = None
    state = "head"
    request_reset(&head)
    for end in _receive_ends(len(data), cuts):
        received = data[:end]
        buf = received
        while True:
            if state == "head":
                result = parse_request(&head, buf + start, <uint32_t>(end - start), &c_limits)
                if result == HTTP1_INCOMPLETE:
                    break
                if result < 0:
                    return messages, -result
                message = _request_view(&head, received[start:], result)
                message["body"] = b""
                pos = start + result
                if head.upgrade:
                    messages.append(message)
                    return messages, "upgrade"
                if head.framing == FRAMING_CHUNKED:
                    chunked_reset(&decoder, 400)
                    state = "chunked"
                elif head.framing == FRAMING_LENGTH and head.content_length:
                    remaining = head.content_length
                    state = "length"
                else:
                    state = "done"
            if state == "length":
                k = <uint32_t>min(<uint64_t>(end - pos), remaining)
                message["body"] += received[pos:pos + k]
                pos += k
                remaining -= k
                if remaining:
                    break
                state = "done"
            elif state == "chunked":
                decoded = chunked_decode(&decoder, buf, <uint32_t>pos, <uint32_t>end, spans, 8, &count)
                if decoded < 0:
                    return messages, -decoded
                for k in range(count):
                    message["body"] += received[spans[k].off:spans[k].off + spans[k].len]
                pos = decoded
                if chunked_done(&decoder):
                    state = "done"
                elif pos == end:
                    break
            if state == "done":
                messages.append(message)
                if not message["keep_alive"]:
                    # RFC 9112 9.6: no further request on this connection is processed.
                    return messages, "close"
                start = pos
                request_reset(&head)
                state = "head"
    return messages, "end" if state == "head" and start == len(data) else "partial"
