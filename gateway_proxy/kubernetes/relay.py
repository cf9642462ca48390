"""``--kubernetes`` with ``--workers N``: one process watches the API, every worker serves what it saw.

Status must never run ahead of serving: the canary controller moves on once a route says
``Accepted`` for its new generation, so that write has to wait until every process answering
requests serves that generation. When each worker watched the API on its own, that was
unknowable: N+1 watch streams, each at its own position, and the admin process (the one writing
status, which serves no requests) could report a generation a worker had not installed yet.

So only the admin process watches. Every change it applies to its copy of the cluster it also
forwards, numbered in order (``seq``), to each worker over a pipe (:class:`Fanout`). A worker
applies the changes to stores that stand in for the watchers (:class:`Follower`), rebuilds and
installs its table exactly as a single process does, and then acknowledges the last ``seq`` its
installed table reflects (once its data socket is open: the first table is installed before).
The admin process's ``/ready`` waits for a first acknowledgement from every worker, and the
status writer, before patching statuses planned from a snapshot taken at ``seq`` S, waits until
every worker has acknowledged S or later (:meth:`Fanout.installed`). The wait is bounded (``ACK_TIMEOUT``): a wedged worker delays
status, it does not stop it, and the delay is logged. A worker whose pipe closed has exited
and serves nothing, so it is not waited for; a worker whose parent went away stops.

A sequence number the relay assigns itself is exact where resourceVersions are not: each kind
is a separate watch stream, and two processes listing at different moments see the same objects
at different list positions. One watch set per pod instead of N+1 also spares the API server.

Wire format, parent to worker: a 4-byte big-endian length, then a JSON object. The first
message lists the kinds (``{"kinds": [...]}``); then each change is ``{"seq", "kind", "reset":
[objects]}`` after a (re)list or ``{"seq", "kind", "set": [objects], "gone": [[ns, name]]}``.
Worker to parent: one decimal ``seq`` per line.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import struct
from collections.abc import Callable, Sequence
from typing import Any

from gateway_proxy.kubernetes.watching import Key, Kind, key_of

logger = logging.getLogger("gateway_proxy")

# Longer than a cold compile of a large table on a busy node; a worker slower than this is stuck.
ACK_TIMEOUT = 10.0
_LENGTH = struct.Struct(">I")


def _frame(message: dict[str, Any]) -> bytes:
    data = json.dumps(message, separators=(",", ":")).encode()
    return _LENGTH.pack(len(data)) + data


class _Pipe(asyncio.Protocol):
    """Write side of a pipe; tells its owner when the reader has gone."""

    def __init__(self, gone: Callable[[], None]):
        self.gone = gone

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone()


@dataclasses.dataclass
class _Worker:
    index: int
    transport: asyncio.WriteTransport | None = None
    reader: asyncio.Task | None = None
    acked: int = 0
    alive: bool = True


class Fanout:
    """The admin process's end: forward changes to the workers and wait for them to be installed."""

    def __init__(self, channels: Sequence[tuple[int, int]], timeout: float = ACK_TIMEOUT):
        # Per worker: (fd we write changes to, fd we read acknowledgements from).
        self._channels = tuple(channels)
        self.timeout = timeout
        self.seq = 0
        self.late = 0  # status writes that went ahead after a worker missed the timeout
        self._workers: list[_Worker] = []
        self._progress = asyncio.Event()

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        for index, (out_fd, in_fd) in enumerate(self._channels):
            worker = _Worker(index)
            worker.transport, _ = await loop.connect_write_pipe(
                lambda worker=worker: _Pipe(lambda: self._lost(worker)), os.fdopen(out_fd, "wb", buffering=0))
            reader = asyncio.StreamReader()
            await loop.connect_read_pipe(lambda reader=reader: asyncio.StreamReaderProtocol(reader),
                                         os.fdopen(in_fd, "rb", buffering=0))
            worker.reader = loop.create_task(self._read_acks(worker, reader), name=f"acks of worker {index}")
            self._workers.append(worker)

    def close(self) -> None:
        for worker in self._workers:
            worker.alive = False  # shutting down: a closing pipe is no news
            if worker.reader is not None:
                worker.reader.cancel()
            if worker.transport is not None:
                worker.transport.close()

    def announce(self, kinds: Sequence[Kind]) -> None:
        """Tell the workers which kinds follow; they serve nothing before each one is listed."""
        self._send({"kinds": [dataclasses.asdict(kind) for kind in kinds]})

    def forward(self, watcher: Any, keys: set[Key] | None) -> None:
        """Pass on one change of ``watcher``'s copy (``keys`` None: replaced whole, after a list)."""
        if keys is not None and not keys:
            return  # an error or a recovery: nothing a worker serves changed
        objects = watcher.objects
        if keys is None:
            message: dict[str, Any] = {"kind": watcher.kind.label, "reset": list(objects.values())}
        else:
            message = {"kind": watcher.kind.label, "set": [objects[key] for key in keys if key in objects],
                       "gone": [list(key) for key in keys if key not in objects]}
        self.seq += 1
        message["seq"] = self.seq
        self._send(message)

    def _send(self, message: dict[str, Any]) -> None:
        frame = _frame(message)
        for worker in self._workers:
            if worker.alive and worker.transport is not None:
                worker.transport.write(frame)

    def _lost(self, worker: _Worker) -> None:
        if worker.alive:
            logger.warning("gateway_proxy: worker %d is gone; status no longer waits for it", worker.index)
        worker.alive = False
        self._progress.set()

    async def _read_acks(self, worker: _Worker, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                worker.acked = max(worker.acked, int(line))
                self._progress.set()
        finally:
            self._lost(worker)

    def lagging(self, seq: int) -> tuple[int, ...]:
        """Live workers whose installed table does not yet reflect ``seq``."""
        return tuple(w.index for w in self._workers if w.alive and w.acked < seq)

    def not_serving(self) -> dict[str, str]:
        """Workers that have not yet acknowledged any table (for ``/ready``)."""
        return {f"worker {index}": "not serving yet" for index in self.lagging(1)}

    async def installed(self, seq: int) -> tuple[int, ...]:
        """Wait until every live worker serves a table reflecting ``seq``; the laggards at the timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while lagging := self.lagging(seq):
            remaining = deadline - loop.time()
            if remaining <= 0:
                self.late += 1
                logger.warning("gateway_proxy: workers %s have not installed change %d after %.0fs; "
                               "writing status anyway", list(lagging), seq, self.timeout)
                return lagging
            self._progress.clear()
            try:
                await asyncio.wait_for(self._progress.wait(), remaining)
            except TimeoutError:
                pass
        return ()


class Store:
    """One relayed kind, offering what the catalog and the mode read of a Watcher."""

    def __init__(self, kind: Kind):
        self.kind = kind
        self.objects: dict[Key, dict[str, Any]] = {}
        self.synced = asyncio.Event()
        self.error: str | None = None  # watch errors are the admin process's to report


class Follower:
    """A worker's end: apply the admin process's changes to :attr:`stores`, acknowledge installs."""

    def __init__(self, in_fd: int, out_fd: int):
        self._in_fd = in_fd
        self._out_fd = out_fd
        self.stores: dict[Kind, Store] = {}
        self._by_label: dict[str, Store] = {}
        self.applied = 0  # seq of the last change applied to the stores
        self._installed = 0  # seq the installed table reflects
        self._acked = 0
        self._acks: asyncio.WriteTransport | None = None
        # The first table is installed before the data socket opens: no acknowledgement until it has.
        self._serving = False

    async def run(self, on_change: Callable[[Store, set[Key] | None], None]) -> None:
        """Apply changes as they come, calling ``on_change`` after each; returns when the parent is gone."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        changes, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                                  os.fdopen(self._in_fd, "rb", buffering=0))
        self._acks, _ = await loop.connect_write_pipe(lambda: _Pipe(lambda: None),
                                                      os.fdopen(self._out_fd, "wb", buffering=0))
        try:
            while True:
                try:
                    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
                    message = json.loads(await reader.readexactly(length))
                except asyncio.IncompleteReadError:
                    # The admin process is shutting down, or gone: either way nothing more will come.
                    logger.info("gateway_proxy: the admin process closed the relay; this worker stops")
                    return
                self._apply(message, on_change)
        finally:
            changes.close()
            self._acks.close()

    def _apply(self, message: dict[str, Any], on_change: Callable[[Store, set[Key] | None], None]) -> None:
        if "kinds" in message:
            for fields in message["kinds"]:
                kind = Kind(**fields)
                self.stores[kind] = self._by_label[kind.label] = Store(kind)
            return
        store = self._by_label[message["kind"]]
        keys: set[Key] | None
        if "reset" in message:
            store.objects = {key_of(obj): obj for obj in message["reset"]}
            store.synced.set()
            keys = None
        else:
            keys = set()
            for obj in message["set"]:
                key = key_of(obj)
                store.objects[key] = obj
                keys.add(key)
            for namespace, name in message["gone"]:
                store.objects.pop((namespace, name), None)
                keys.add((namespace, name))
        self.applied = message["seq"]
        on_change(store, keys)

    def ack(self, seq: int) -> None:
        """Tell the admin process that the table now installed reflects every change up to ``seq``."""
        self._installed = max(self._installed, seq)
        if self._serving and self._installed > self._acked and self._acks is not None \
                and not self._acks.is_closing():
            self._acked = self._installed
            self._acks.write(b"%d\n" % self._acked)

    def serving(self) -> None:
        """The data sockets are open: what is installed is served, acknowledge it from now on."""
        self._serving = True
        self.ack(self._installed)
