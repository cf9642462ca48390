"""Which protocol a new client connection speaks: HTTP/1.1, or HTTP/2 for gRPC.

While the table holds no GRPCRoute, connections go straight to the HTTP/1.1 protocol of the
serving build, as before. Otherwise a plain connection is looked at until its first bytes
decide: the HTTP/2 connection preface (``PRI * HTTP/2.0``, a request line no HTTP/1.1 client
sends: RFC 9113 3.4) hands it to :class:`server.ServerProtocol` (h2c with prior knowledge),
anything else to HTTP/1.1 with the bytes read so far. On the TLS socket ALPN has already
decided when the connection is made. A client that connects and sends nothing is closed after
the header timeout, as the HTTP/1.1 path would.
"""

from __future__ import annotations

from gateway_proxy.http2 import server

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# Enough of the preface to tell it from any HTTP/1.1 request; h2 checks the rest.
SIGNATURE = PREFACE[:14]
ALPN_H2 = "h2"


def serves_grpc(runtime) -> bool:
    return bool(getattr(runtime.compiled, "grpc", None))


def protocol_factory(runtime, tls: bool = False):
    """What ``loop.create_server`` calls for each connection on a socket serving ``runtime``."""
    def make():
        http1 = runtime.client_side.ClientProtocol
        if not serves_grpc(runtime):
            return http1(runtime, True) if tls else http1(runtime)
        return Sniffer(runtime, tls)
    return make


class Sniffer:
    """A connection's protocol until it is known; then it hands the transport over."""

    __slots__ = ("runtime", "tls", "transport", "buffer", "timer")

    def __init__(self, runtime, tls: bool):
        self.runtime = runtime
        self.tls = tls
        self.transport = None
        self.buffer = b""
        self.timer = None

    def connection_made(self, transport):
        self.transport = transport
        if self.tls:
            ssl_object = transport.get_extra_info("ssl_object")
            chosen = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
            self._hand_over(chosen == ALPN_H2, b"")
            return
        self.timer = self.runtime.loop.call_later(self.runtime.header_timeout, self._expire)

    def data_received(self, data):
        self.buffer += data
        if len(self.buffer) < len(SIGNATURE) and SIGNATURE.startswith(self.buffer):
            return  # could still be the preface
        self._hand_over(self.buffer.startswith(SIGNATURE), self.buffer)

    def eof_received(self):
        protocol = self._hand_over(False, self.buffer)
        return protocol.eof_received()

    def connection_lost(self, exc):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def pause_writing(self):
        pass  # nothing is written before the hand-over

    def resume_writing(self):
        pass

    def _expire(self):
        self.timer = None
        self.transport.close()

    def _hand_over(self, http2: bool, data: bytes):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        runtime = self.runtime
        if http2:
            protocol = server.ServerProtocol(runtime, self.tls)
        else:
            http1 = runtime.client_side.ClientProtocol
            protocol = http1(runtime, True) if self.tls else http1(runtime)
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        if data:
            protocol.data_received(data)
        return protocol
