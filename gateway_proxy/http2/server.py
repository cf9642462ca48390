"""The client side of HTTP/2: one connection's frames through h2, one relay task per call.

h2 does the protocol (preface, SETTINGS, HPACK, stream states, flow-control accounting);
this protocol feeds it bytes and acts on its events. A client that breaks the protocol (a bad
preface, a malformed frame, a stream error h2 treats as fatal) gets a GOAWAY with the error
code h2 chose and the connection closes: nothing that follows could be framed. The number of
concurrent streams is bounded by the SETTINGS_MAX_CONCURRENT_STREAMS h2 advertises, which it
enforces. Request DATA is acknowledged only once the relay passed it to the backend, so a slow
backend slows the client down.
"""

from __future__ import annotations

import asyncio
import logging

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions

from gateway_proxy.http2 import flow, relay
from gateway_proxy.http2.corking import CorkedWrites

logger = logging.getLogger("gateway_proxy")


class ClientStream:
    """One call from the client: its head, and what follows it in ``events`` (("data", bytes,
    size), ("end",), ("reset",)), read by the relay."""

    __slots__ = ("connection", "stream_id", "fields", "events", "task", "closed")

    def __init__(self, connection: "ServerProtocol", stream_id: int, fields):
        self.connection = connection
        self.stream_id = stream_id
        self.fields = fields
        self.events: asyncio.Queue = asyncio.Queue()
        self.task = None
        self.closed = False

    def respond(self, fields, end_stream: bool = False) -> None:
        self.connection.send_headers(self.stream_id, fields, end_stream)

    async def send(self, data: bytes, end_stream: bool = False) -> None:
        connection = self.connection
        await flow.send(connection.h2, connection.windows, connection.flush, self.stream_id, data, end_stream)

    def acknowledge(self, size: int) -> None:
        self.connection.acknowledge(self.stream_id, size)

    def reset(self, code: int = h2.errors.ErrorCodes.INTERNAL_ERROR) -> None:
        self.connection.reset(self.stream_id, code)


class ServerProtocol(CorkedWrites, asyncio.Protocol):
    """An HTTP/2 client connection (h2c with prior knowledge, or h2 negotiated by ALPN)."""

    def __init__(self, runtime, tls: bool = False):
        self.runtime = runtime
        self.tls = tls  # arrived on the TLS socket: routed with HTTPS listeners only
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
        self.transport = None
        self.peer = ""
        self.streams: dict[int, ClientStream] = {}
        self.windows = flow.Windows()
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else ""
        self.begin()

    def data_received(self, data):
        if self.closed:
            return
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as error:
            self._fail(error)
            return
        for event in events:
            self._dispatch(event)
        self.flush()

    def _fail(self, error: h2.exceptions.ProtocolError) -> None:
        """A connection error: GOAWAY with h2's code (PROTOCOL_ERROR unless it says otherwise), close."""
        code = getattr(error, "error_code", None) or h2.errors.ErrorCodes.PROTOCOL_ERROR
        try:
            self.h2.close_connection(error_code=code)
        except h2.exceptions.ProtocolError:
            pass
        self.flush_now()
        self.transport.close()
        self.closed = True

    def _dispatch(self, event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            stream = self.streams[event.stream_id] = ClientStream(self, event.stream_id, event.headers)
            stream.task = asyncio.ensure_future(relay.serve(self.runtime, self, stream))
            stream.task.add_done_callback(lambda _, sid=event.stream_id: self.streams.pop(sid, None))
            return
        stream = self.streams.get(getattr(event, "stream_id", 0) or 0)
        if isinstance(event, h2.events.DataReceived):
            if stream is not None:
                stream.events.put_nowait(("data", event.data, event.flow_controlled_length))
            else:
                self.acknowledge(event.stream_id, event.flow_controlled_length)
        elif isinstance(event, h2.events.StreamEnded):
            if stream is not None:
                stream.events.put_nowait(("end",))
        elif isinstance(event, h2.events.TrailersReceived):
            pass  # request trailers have no gRPC meaning; StreamEnded follows
        elif isinstance(event, h2.events.StreamReset):
            if stream is not None:
                stream.closed = True
                stream.events.put_nowait(("reset",))
                stream.task.cancel()
        elif isinstance(event, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
            self.windows.wake()
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.transport.close()

    def send_headers(self, stream_id: int, fields, end_stream: bool) -> None:
        if self.closed:
            return
        try:
            self.h2.send_headers(stream_id, fields, end_stream=end_stream)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError) as error:
            raise flow.StreamGone(str(error)) from error
        self.flush()

    def reset(self, stream_id: int, code: int) -> None:
        if self.closed:
            return
        try:
            self.h2.reset_stream(stream_id, code)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            return
        self.flush()

    def pause_writing(self):
        pass  # sends wait for HTTP/2 windows, which bound what is buffered per stream

    def resume_writing(self):
        pass

    def connection_lost(self, exc):
        self.closed = True
        self.windows.closed = True
        self.windows.wake()
        for stream in list(self.streams.values()):
            stream.closed = True
            if stream.task is not None:
                stream.task.cancel()
        self.streams.clear()
