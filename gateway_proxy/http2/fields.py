"""Header fields of a proxied gRPC call, sans I/O: what goes to the backend, what comes back.

HTTP/2 fields are lower-case bytes pairs, pseudo-fields (``:path``...) first. The proxy
rebuilds the pseudo-fields for the backend hop (h2c, so ``:scheme`` is ``http``), drops the
connection-specific fields HTTP/2 forbids (RFC 9113 8.2.2), adds ``x-forwarded-for`` and
``x-forwarded-proto`` as the HTTP/1.1 path does, and applies the rule's header modifiers with
the Gateway API's semantics: ``set`` replaces, ``add`` appends, ``remove`` drops.
"""

from __future__ import annotations

from gateway_proxy import resources as r

Fields = list[tuple[bytes, bytes]]

# RFC 9113 8.2.2, plus the legacy fields proxies still see; "te: trailers" is the one allowed te.
_CONNECTION_SPECIFIC = frozenset((b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding",
                                  b"upgrade", b"host", b"http2-settings"))
_OWNED_REQUEST = frozenset((b"x-forwarded-for", b"x-forwarded-proto"))


def pseudo(fields: Fields) -> dict[bytes, bytes]:
    """The pseudo-fields of a head (``:method``, ``:path``, ``:authority``, ``:scheme``, ``:status``)."""
    return {name: value for name, value in fields if name[:1] == b":"}


def regular(fields: Fields) -> dict[str, str]:
    """The other fields by name, repeated ones joined with ", ", for header matching."""
    out: dict[str, str] = {}
    for name, value in fields:
        if name[:1] == b":":
            continue
        key = name.decode("latin-1")
        text = value.decode("latin-1")
        out[key] = out[key] + ", " + text if key in out else text
    return out


def _encoded(modifier_items) -> Fields:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in modifier_items]


def modified(fields: Fields, modifier: r.HeaderModifier | None) -> Fields:
    """``fields`` after a Request/ResponseHeaderModifier (pseudo-fields are never touched)."""
    if modifier is None:
        return fields
    removed = {name.lower().encode("latin-1") for name in modifier.remove}
    replaced = {name for name, _ in _encoded(modifier.set)}
    out = [(name, value) for name, value in fields
           if name[:1] == b":" or (name not in removed and name not in replaced)]
    out.extend((name, value) for name, value in _encoded(modifier.set) if name not in removed)
    out.extend((name, value) for name, value in _encoded(modifier.add) if name not in removed)
    return out


def backend_request(fields: Fields, authority: bytes, peer: str, tls: bool,
                    modifier: r.HeaderModifier | None) -> Fields:
    """The head sent to an h2c backend for a client's call."""
    head = pseudo(fields)
    out: Fields = [(b":method", head.get(b":method", b"POST")), (b":scheme", b"http"),
                   (b":path", head.get(b":path", b"/")), (b":authority", authority)]
    forwarded_for = b""
    for name, value in fields:
        if name[:1] == b":" or name in _CONNECTION_SPECIFIC:
            continue
        if name == b"te" and value.lower() != b"trailers":
            continue
        if name == b"x-forwarded-for":
            forwarded_for = value
            continue
        if name in _OWNED_REQUEST:
            continue
        out.append((name, value))
    client = peer.encode("latin-1")
    out.append((b"x-forwarded-for", forwarded_for + b", " + client if forwarded_for else client))
    out.append((b"x-forwarded-proto", b"https" if tls else b"http"))
    return modified(out, modifier)


def backend_response(fields: Fields, modifier: r.HeaderModifier | None) -> Fields:
    """A backend's response head as the client gets it: ``:status`` first, connection fields gone."""
    out = [(name, value) for name, value in fields if name not in _CONNECTION_SPECIFIC]
    out.sort(key=lambda item: item[0][:1] != b":")
    return modified(out, modifier)


def trailers_only(grpc_status: int, message: str, modifier: r.HeaderModifier | None = None) -> Fields:
    """A gRPC "Trailers-Only" answer from the proxy itself: HTTP 200, the status in the one head."""
    out: Fields = [(b":status", b"200"), (b"content-type", b"application/grpc"),
                   (b"grpc-status", str(grpc_status).encode())]
    if message:
        out.append((b"grpc-message", _percent_encoded(message)))
    return modified(out, modifier)


def _percent_encoded(message: str) -> bytes:
    # gRPC's grpc-message: percent-encode everything outside printable ASCII, and '%' itself.
    out = bytearray()
    for byte in message.encode("utf-8"):
        if 0x20 <= byte <= 0x7E and byte != 0x25:
            out.append(byte)
        else:
            out.extend(b"%%%02X" % byte)
    return bytes(out)


def plain_status(status: int) -> Fields:
    """A body-less HTTP answer (404 when no GRPCRoute matches, 500 for a rule that cannot run)."""
    return [(b":status", str(status).encode()), (b"content-length", b"0")]
