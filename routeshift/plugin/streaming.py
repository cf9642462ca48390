"""Follow Canaries as they change: list, then watch from that resourceVersion, in a thread.

``get --watch``, ``list --watch`` and ``wait`` all need the current object the moment the
controller writes it, without polling the API in a loop. A daemon thread lists, watches
from the list's resourceVersion, resumes after the server ends a watch, relists on 410
Gone, and retries after connection errors; each change is published as a full snapshot.
The caller's thread owns the clock (deadlines, redraw intervals) and reads the latest
snapshot with a timeout, so a stalled watch can never make ``wait`` overrun its
``--timeout``.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from typing import Any

from routeshift.plugin import errors
from routeshift.plugin.cluster import Cluster, WatchStream

Key = tuple[str, str]  # (namespace, name)
# A watch the server keeps open this long, then we resume from the last resourceVersion.
WATCH_SECONDS = 55
# Pause between attempts after a failed list or watch (a restarting API server, a blip).
RETRY_SECONDS = 1.0
# HTTP statuses that no retry will fix: report them and stop following.
_PERMANENT = frozenset({401, 403, 404})


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """Every followed Canary after one change, or the error that interrupted following."""

    objects: dict[Key, dict[str, Any]]
    error: errors.ClusterError | None = None
    final: bool = False  # following has stopped for good: the error is the last word


class Follower:
    """Publishes snapshots of one Canary (``name``) or of all in scope to :meth:`latest`."""

    def __init__(self, cluster: Cluster, *, name: str | None = None, all_namespaces: bool = False):
        self.cluster = cluster
        self.name = name
        self.all_namespaces = all_namespaces
        self._updates: queue.Queue[Snapshot] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="canary-follower", daemon=True)
        self._stream: WatchStream | None = None
        self._lock = threading.Lock()

    def start(self) -> Follower:
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """End following: close the open watch (unblocking its read) and join the thread."""
        self._stop.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            stream.close()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def latest(self, timeout: float) -> Snapshot | None:
        """The newest snapshot published within ``timeout`` seconds (older ones are skipped), or None."""
        try:
            snapshot = self._updates.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        while True:
            try:
                newer = self._updates.get_nowait()
            except queue.Empty:
                return snapshot
            if snapshot.final:
                return snapshot  # never let a later snapshot hide the end of following
            snapshot = newer

    # ------------------------------------------------------------------ thread

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as error:  # a bug must end the command with a message, not a silent hang
            self._updates.put(Snapshot({}, errors.ClusterError(f"following canaries failed: {error!r}"), final=True))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                items, version = self.cluster.list_with_version(name=self.name, all_namespaces=self.all_namespaces)
            except errors.ClusterError as error:
                permanent = error.status in _PERMANENT
                self._updates.put(Snapshot({}, error, final=permanent))
                if permanent:
                    return
                self._stop.wait(RETRY_SECONDS)
                continue
            state = {_key(obj): obj for obj in items}
            self._updates.put(Snapshot(dict(state)))
            if not self._follow(state, version):
                return

    def _follow(self, state: dict[Key, dict[str, Any]], version: str) -> bool:
        """Watch until a relist is needed (True) or following must stop (False)."""
        while not self._stop.is_set():
            try:
                stream = self.cluster.watch(name=self.name, all_namespaces=self.all_namespaces,
                                            resource_version=version, timeout_seconds=WATCH_SECONDS)
                with self._lock:
                    self._stream = stream
                if self._stop.is_set():
                    stream.close()
                    return False
                for kind, obj in stream.events():
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    if kind == "BOOKMARK":
                        continue
                    if kind == "DELETED":
                        state.pop(_key(obj), None)
                    else:
                        state[_key(obj)] = obj
                    self._updates.put(Snapshot(dict(state)))
                    if self._stop.is_set():
                        return False
            except errors.ClusterError as error:
                if error.status == 410:
                    return True
                permanent = error.status in _PERMANENT
                self._updates.put(Snapshot(dict(state), error, final=permanent))
                if permanent:
                    return False
                self._stop.wait(RETRY_SECONDS)
                return True  # relist: events may have been missed while the watch was down
        return False


def _key(obj: dict[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return meta.get("namespace", ""), meta.get("name", "")
