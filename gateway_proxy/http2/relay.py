"""One gRPC call through the proxy: route it, pick a backend, relay both ways, account for it.

The decisions are :mod:`gateway_proxy.grpc.table`'s; this coroutine wires them to the two
HTTP/2 connections. The answers the proxy gives itself follow the spec: no GRPCRoute matches,
HTTP 404 (gRPC clients read UNIMPLEMENTED); a rule that cannot be programmed (an unsupported
filter), HTTP 500; a call weighted to an invalid or unreachable backend, ``UNAVAILABLE``. Each
answered call is counted once for the backend it was weighted to, with its HTTP status and its
gRPC status (the ``grpc-status`` trailer, or what the HTTP status maps to without one); mirrored
copies are counted for the mirror, whose answers are otherwise dropped.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from gateway_proxy import mirroring
from gateway_proxy.grpc import codes, table as grpc_table
from gateway_proxy.http2 import fields as h2_fields, flow

logger = logging.getLogger("gateway_proxy")

_clock = time.perf_counter


class _Outcome:
    """What the client got: the HTTP status and the gRPC status, for the metrics."""

    __slots__ = ("status", "grpc_status")

    def __init__(self):
        self.status = 0
        self.grpc_status: int | None = None

    def observe(self, metrics, started: float) -> None:
        if metrics is None or not self.status:
            return
        grpc_status = self.grpc_status if self.grpc_status is not None else codes.from_http(self.status)
        metrics.observe(self.status, str(grpc_status), _clock() - started)


def _answer_trailers_only(stream, outcome: _Outcome, grpc_status: int, message: str, modifier=None) -> None:
    outcome.status, outcome.grpc_status = 200, grpc_status
    stream.respond(h2_fields.trailers_only(grpc_status, message, modifier), end_stream=True)


def _answer_plain(stream, outcome: _Outcome, status: int) -> None:
    outcome.status = status
    stream.respond(h2_fields.plain_status(status), end_stream=True)


async def serve(runtime, connection, stream) -> None:
    """Answer the call on ``stream`` (a server.ClientStream); never raises into the connection."""
    started = _clock()
    outcome = _Outcome()
    metrics = runtime.metrics.unrouted
    try:
        metrics = await _serve(runtime, connection, stream, outcome)
    except asyncio.CancelledError:
        raise
    except flow.StreamGone:
        pass  # the client reset the stream or went away
    except Exception:
        logger.exception("gateway_proxy: internal error relaying a gRPC call")
        if not outcome.status and not stream.closed:
            try:
                _answer_plain(stream, outcome, 500)
            except flow.StreamGone:
                pass
        else:
            stream.reset()
    finally:
        outcome.observe(metrics, started)


async def _serve(runtime, connection, stream, outcome: _Outcome):
    head = h2_fields.pseudo(stream.fields)
    compiled = runtime.compiled
    grpc = getattr(compiled, "grpc", None)
    path = head.get(b":path", b"").decode("latin-1")
    # :authority, or Host for a client that sent that instead (RFC 9113 8.3.1).
    authority = head.get(b":authority") or dict(stream.fields).get(b"host", b"")
    match = None
    if grpc:
        match = grpc_table.route(grpc.tls if connection.tls else grpc.plain, authority.decode("latin-1"), path,
                                 h2_fields.regular(stream.fields))
    if match is None:
        _answer_plain(stream, outcome, 404)
        return runtime.metrics.unrouted
    rule = match.rule
    if rule.problem:
        _answer_plain(stream, outcome, 500)
        return rule.metrics
    backend = rule.pick(random.random())
    if backend is None:
        _answer_trailers_only(stream, outcome, codes.UNAVAILABLE, "no backend has weight", rule.response_headers)
        return rule.metrics
    if backend.status != 0:
        _answer_trailers_only(stream, outcome, codes.UNAVAILABLE, backend.reason or "backend unavailable",
                              backend.response_headers)
        return backend.metrics
    endpoint = backend.next_endpoint()
    request_head = h2_fields.backend_request(stream.fields, authority, connection.peer, connection.tls,
                                             backend.request_headers)
    mirrors = _mirrors(runtime, rule, h2_fields.backend_request(stream.fields, authority, connection.peer,
                                                                  connection.tls, rule.request_headers))
    try:
        upstream = await runtime.grpc_pool.open(endpoint, request_head, end_stream=False)
    except OSError as error:
        for mirror in mirrors:
            mirror.cancel()
        _answer_trailers_only(stream, outcome, codes.UNAVAILABLE, f"backend unreachable: {error}",
                              backend.response_headers)
        return backend.metrics
    pump = asyncio.ensure_future(_pump_request(stream, upstream, mirrors))
    try:
        await _relay_response(stream, upstream, backend, outcome)
    finally:
        upstream.cancel()
        if not pump.done():
            pump.cancel()
    return backend.metrics


async def _pump_request(stream, upstream, mirrors) -> None:
    """Client DATA to the backend (and copies to mirrors), acknowledged once the backend took it."""
    try:
        await _pump(stream, upstream, mirrors)
    except flow.StreamGone:
        for mirror in mirrors:  # the backend ended the call first; its answer says how it went
            mirror.cancel()


async def _pump(stream, upstream, mirrors) -> None:
    while True:
        event = await stream.events.get()
        kind = event[0]
        if kind == "data":
            for mirror in mirrors:
                mirror.copy(event[1])
            await upstream.send(event[1])
            stream.acknowledge(event[2])
        elif kind == "end":
            for mirror in mirrors:
                mirror.copy(b"", end=True)
            await upstream.send(b"", end_stream=True)
            return
        else:  # reset: the client gave up on the call
            for mirror in mirrors:
                mirror.cancel()
            return


async def _relay_response(stream, upstream, backend, outcome: _Outcome) -> None:
    responded = False
    while True:
        event = await upstream.events.get()
        kind = event[0]
        if kind == "head":
            response = h2_fields.backend_response(event[1], backend.response_headers)
            status = h2_fields.pseudo(response).get(b":status", b"0")
            outcome.status = int(status)
            responded = True
            trailers_only = codes.parse(dict(response).get(b"grpc-status"))
            if trailers_only is not None:
                outcome.grpc_status = trailers_only
            if event[2]:  # Trailers-Only: the status is in this one head, which ends the call
                upstream.finished = True
                stream.respond(response, end_stream=True)
                return
            stream.respond(response)
        elif kind == "data":
            await stream.send(event[1])
            upstream.acknowledge(event[2])
        elif kind == "trailers":
            trailers = h2_fields.backend_response(event[1], None)
            outcome.grpc_status = codes.parse(dict(trailers).get(b"grpc-status"))
            stream.respond(trailers, end_stream=True)
            upstream.finished = True
            return
        elif kind == "end":
            await stream.send(b"", end_stream=True)
            return
        else:  # reset or lost: answer UNAVAILABLE if nothing was sent yet, else reset the client's stream
            if not responded:
                _answer_trailers_only(stream, outcome, codes.UNAVAILABLE, event[1], backend.response_headers)
            else:
                outcome.grpc_status = codes.UNAVAILABLE
                stream.reset()
            return


class _Mirror:
    """A copy of the call to a mirror backend; its answer is read, counted and dropped."""

    __slots__ = ("queue", "task")

    def __init__(self, runtime, backend, head):
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.ensure_future(self._run(runtime, backend, head))

    def copy(self, data: bytes, end: bool = False) -> None:
        self.queue.put_nowait((data, end))

    def cancel(self) -> None:
        self.task.cancel()

    async def _run(self, runtime, backend, head) -> None:
        started = _clock()
        outcome = _Outcome()
        upstream = None
        try:
            upstream = await runtime.grpc_pool.open(backend.next_endpoint(), head, end_stream=False)
            while True:
                data, end = await self.queue.get()
                await upstream.send(data, end_stream=end)
                if end:
                    break
            while True:
                event = await upstream.events.get()
                if event[0] == "head":
                    outcome.status = int(h2_fields.pseudo(event[1]).get(b":status", b"0"))
                    outcome.grpc_status = codes.parse(dict(event[1]).get(b"grpc-status"))
                elif event[0] == "data":
                    upstream.acknowledge(event[2])
                elif event[0] == "trailers":
                    outcome.grpc_status = codes.parse(dict(event[1]).get(b"grpc-status"))
                else:
                    break
        except (OSError, flow.StreamGone):
            pass
        finally:
            if upstream is not None:
                upstream.cancel()
            outcome.observe(backend.metrics, started)


def _mirrors(runtime, rule, head) -> list[_Mirror]:
    out = []
    for backend in rule.mirrors:
        # A mirror backend's weight is the share of calls it copies, out of mirroring.EVERY.
        if backend.endpoints and (backend.weight >= mirroring.EVERY or random.random() * mirroring.EVERY
                                  < backend.weight):
            out.append(_Mirror(runtime, backend, head))
    return out
