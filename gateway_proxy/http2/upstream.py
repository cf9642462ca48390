"""h2c connections to backends: one HTTP/2 connection per endpoint, multiplexing the calls to it.

A gRPC backend serves many concurrent streams on one connection, so the pool keeps one per
endpoint and opens another only when that one cannot take a new stream (its peer's
SETTINGS_MAX_CONCURRENT_STREAMS reached, a GOAWAY received, or stream ids used up). Each
call's stream hands what the backend sends (head, DATA, trailers, end, reset) to its relay
through a queue; received DATA is acknowledged (WINDOW_UPDATE) only once the relay has passed
it on to the client, so a slow client slows the backend down instead of filling memory.
"""

from __future__ import annotations

import asyncio
import logging

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions

from gateway_proxy.http2 import flow
from gateway_proxy.http2.corking import CorkedWrites

logger = logging.getLogger("gateway_proxy")

CONNECT_TIMEOUT = 5.0


class BackendStream:
    """One call's stream to a backend; ``events`` yields ("head", fields, ends), ("data", bytes, size),
    ("trailers", fields), ("end",) and ("reset", reason)."""

    __slots__ = ("connection", "stream_id", "events", "finished")

    def __init__(self, connection: "BackendConnection", stream_id: int):
        self.connection = connection
        self.stream_id = stream_id
        self.events: asyncio.Queue = asyncio.Queue()
        self.finished = False

    async def send(self, data: bytes, end_stream: bool = False) -> None:
        connection = self.connection
        await flow.send(connection.h2, connection.windows, connection.flush, self.stream_id, data, end_stream)

    def end(self) -> None:
        try:
            self.connection.h2.end_stream(self.stream_id)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            return
        self.connection.flush()

    def acknowledge(self, size: int) -> None:
        """The relay passed ``size`` flow-controlled bytes on: the backend may send as many more."""
        self.connection.acknowledge(self.stream_id, size)

    def cancel(self) -> None:
        """Reset the stream unless it ended (a client that went away, a relay that gave up)."""
        if self.finished:
            return
        self.finished = True
        self.connection.reset(self.stream_id)


class BackendConnection(CorkedWrites, asyncio.Protocol):
    """The client side of one h2c connection to a backend endpoint."""

    def __init__(self, pool: "Pool", endpoint: tuple[str, int]):
        self.pool = pool
        self.endpoint = endpoint
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.transport = None
        self.streams: dict[int, BackendStream] = {}
        self.windows = flow.Windows()
        self.closed = False
        self.draining = False  # a GOAWAY arrived: no new streams here

    def connection_made(self, transport):
        self.transport = transport
        self.begin()

    def usable(self) -> bool:
        if self.closed or self.draining:
            return False
        limit = self.h2.remote_settings.max_concurrent_streams
        return self.h2.open_outbound_streams < limit and self.h2.highest_outbound_stream_id < 2 ** 31 - 64

    def open(self, fields, end_stream: bool) -> BackendStream:
        stream_id = self.h2.get_next_available_stream_id()
        stream = self.streams[stream_id] = BackendStream(self, stream_id)
        self.h2.send_headers(stream_id, fields, end_stream=end_stream)
        self.flush()
        return stream

    def reset(self, stream_id: int) -> None:
        self.streams.pop(stream_id, None)
        if self.closed:
            return
        try:
            self.h2.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            return
        self.flush()

    def data_received(self, data):
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as error:
            logger.warning("gateway_proxy: backend %s:%d broke HTTP/2 (%s); closing", *self.endpoint, error)
            self.flush_now()
            self.transport.close()
            return
        for event in events:
            self._dispatch(event)
        self.flush()

    def _dispatch(self, event) -> None:
        stream = self.streams.get(getattr(event, "stream_id", 0) or 0)
        if isinstance(event, h2.events.ResponseReceived):
            if stream is not None:
                # A gRPC "Trailers-Only" answer is one HEADERS frame that ends the stream.
                stream.events.put_nowait(("head", event.headers, event.stream_ended is not None))
        elif isinstance(event, h2.events.DataReceived):
            if stream is not None:
                stream.events.put_nowait(("data", event.data, event.flow_controlled_length))
            else:
                self.acknowledge(event.stream_id, event.flow_controlled_length)
        elif isinstance(event, h2.events.TrailersReceived):
            if stream is not None:
                stream.events.put_nowait(("trailers", event.headers))
        elif isinstance(event, h2.events.StreamEnded):
            if stream is not None:
                stream.finished = True
                self.streams.pop(event.stream_id, None)
                stream.events.put_nowait(("end",))
        elif isinstance(event, h2.events.StreamReset):
            if stream is not None:
                stream.finished = True
                self.streams.pop(event.stream_id, None)
                stream.events.put_nowait(("reset", f"backend reset the stream ({event.error_code!r})"))
        elif isinstance(event, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
            self.windows.wake()
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.draining = True
            self.pool.forget(self)
            last = event.last_stream_id if event.last_stream_id is not None else 0
            for stream_id in [sid for sid in self.streams if sid > last]:
                self.streams.pop(stream_id).events.put_nowait(("reset", "backend sent GOAWAY"))
            if not self.streams:
                self.transport.close()

    def connection_lost(self, exc):
        self.closed = True
        self.windows.closed = True
        self.windows.wake()
        self.pool.forget(self)
        streams, self.streams = self.streams, {}
        for stream in streams.values():
            stream.finished = True
            stream.events.put_nowait(("reset", "backend connection lost"))


class Pool:
    """h2c connections by endpoint, opened on demand and shared by concurrent calls."""

    def __init__(self):
        self.connections: dict[tuple[str, int], list[BackendConnection]] = {}
        self.connecting: dict[tuple[str, int], asyncio.Future] = {}

    def forget(self, connection: BackendConnection) -> None:
        found = self.connections.get(connection.endpoint)
        if found and connection in found:
            found.remove(connection)

    def _usable(self, endpoint) -> BackendConnection | None:
        for connection in self.connections.get(endpoint, ()):
            if connection.usable():
                return connection
        return None

    async def open(self, endpoint: tuple[str, int], fields, end_stream: bool) -> BackendStream:
        """A new stream to ``endpoint`` carrying ``fields``; OSError when it cannot be reached."""
        connection = self._usable(endpoint)
        if connection is None:
            # Calls arriving together share one connect instead of opening a connection each.
            pending = self.connecting.get(endpoint)
            if pending is None:
                pending = self.connecting[endpoint] = asyncio.ensure_future(self._connect(endpoint))
                pending.add_done_callback(lambda _, key=endpoint: self.connecting.pop(key, None))
            connection = await asyncio.shield(pending)
            if connection.closed or connection.draining:
                raise OSError(f"backend {endpoint[0]}:{endpoint[1]} closed the connection")
        try:
            return connection.open(fields, end_stream)
        except h2.exceptions.ProtocolError as error:  # e.g. more streams than the backend allows
            raise OSError(f"backend {endpoint[0]}:{endpoint[1]} refused a new stream: {error}") from error

    async def _connect(self, endpoint: tuple[str, int]) -> BackendConnection:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(lambda: BackendConnection(self, endpoint), endpoint[0], endpoint[1]),
                CONNECT_TIMEOUT)
        except asyncio.TimeoutError as error:
            raise OSError(f"connecting to {endpoint[0]}:{endpoint[1]} timed out") from error
        self.connections.setdefault(endpoint, []).append(connection)
        return connection

    def close(self) -> None:
        for connections in list(self.connections.values()):
            for connection in list(connections):
                if connection.transport is not None:
                    connection.transport.close()
        self.connections.clear()
