"""Sending DATA within HTTP/2 flow control, shared by the client and the backend sides.

h2 refuses to send more than the peer's window allows; a sender waits for a WINDOW_UPDATE (or
a SETTINGS change of the initial window) and tries again, in frames no larger than the peer's
maximum frame size. Waiters are woken by the connection on those events, never by a timer.
"""

from __future__ import annotations

import asyncio

import h2.connection
import h2.exceptions


class StreamGone(Exception):
    """The stream was reset or the connection closed while data waited to be sent."""


class Windows:
    """Futures waiting for send window on one connection; ``wake`` on WindowUpdated and settings."""

    __slots__ = ("waiters", "closed")

    def __init__(self):
        self.waiters: list[asyncio.Future] = []
        self.closed = False

    def wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self) -> None:
        if self.closed:
            raise StreamGone("connection closed")
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        await waiter
        if self.closed:
            raise StreamGone("connection closed")


async def send(conn: h2.connection.H2Connection, windows: Windows, flush, stream_id: int, data: bytes,
               end_stream: bool) -> None:
    """Send ``data`` on ``stream_id`` as the windows allow, then ``end_stream`` if asked."""
    view = memoryview(data)
    while view:
        try:
            window = conn.local_flow_control_window(stream_id)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError) as error:
            raise StreamGone(str(error)) from error
        size = min(window, conn.max_outbound_frame_size, len(view))
        if size <= 0:
            await windows.wait()
            continue
        try:
            conn.send_data(stream_id, bytes(view[:size]))
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError) as error:
            raise StreamGone(str(error)) from error
        view = view[size:]
        flush()
    if end_stream:
        try:
            conn.end_stream(stream_id)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError) as error:
            raise StreamGone(str(error)) from error
        flush()
