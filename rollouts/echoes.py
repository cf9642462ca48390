"""Telling a Canary's own status writes apart from changes someone else made.

Every status write comes back through kopf's watch as an event on the Canary. Waking the
Canary for it would run one more reconciliation per write that can only confirm what was
just decided: at hundreds of Canaries that doubled the controller's work. A reconciliation
decides until nothing changes (``reconciler.ROUNDS``), so the echo carries nothing new.
Anything else (a new spec, an operation annotation, kopf's own bookkeeping) still wakes it.

The write's resourceVersion is known only when the API answers, and its event may arrive
before that; events seen during a reconciliation are therefore judged when it ends.
Pure and synchronous, so that every interleaving is a table test.
"""

from __future__ import annotations

import collections

# How many of its own writes a Canary recognises. A write's echo arrives within a
# reconciliation or two, and the Canary writes at most once per reconciliation.
RECENT_WRITES = 4


class OwnWrites:
    """The recent status writes of every Canary this process drives, so that their echoes can be
    recognised in kopf's watch stream before kopf processes them (:func:`as_bookmark`).

    :class:`Echoes` keeps an echo from waking its Canary, but only after kopf has decoded it,
    handed it to a per-object worker (started again for every Canary idle for 5 s: a task and
    a turn of the event loop each) and run the event handler: about a millisecond of CPU per
    weight step at 500 Canaries, in the one stream that also carries every spec change. In a
    wave of steps hundreds of echoes queued ahead of the next release's spec change. This is
    the same test, made where a controller-runtime controller applies its event predicates:
    before the queue.
    """

    def __init__(self) -> None:
        self._recent: dict[tuple[str, str], collections.deque[str]] = {}
        self.skipped = 0  # echoes handed on as bookmarks (routeshift_status_echoes_skipped_total)

    def record(self, namespace: str, name: str, version: str | None) -> None:
        """The API answered a status write of this Canary with ``version`` (told once or twice:
        as soon as the answer comes, and when the reconciliation that wrote it ends)."""
        if not version:
            return
        recent = self._recent.setdefault((namespace, name), collections.deque(maxlen=RECENT_WRITES))
        if version not in recent:
            recent.append(version)

    def forget(self, namespace: str, name: str) -> None:
        """The Canary is no longer driven here (deleted, or its daemon stopped)."""
        self._recent.pop((namespace, name), None)

    def wrote(self, namespace: str, name: str, version: str | None) -> bool:
        """True when ``version`` of the Canary is one of its recent status writes from here."""
        return version is not None and version in self._recent.get((namespace, name), ())

    def __len__(self) -> int:
        return len(self._recent)


class Echoes:
    """One Canary's judge of the events on it; the daemon and kopf's event handler share it.

    The writes it recognises are the Canary's entries in the process's :class:`OwnWrites`, the
    same record the watch decoder turns echoes into bookmarks by.
    """

    def __init__(self, own: OwnWrites, namespace: str, name: str) -> None:
        # The last few status writes are recognised: the echo of one may arrive while the next
        # reconciliation runs and writes again.
        self._own, self._key = own, (namespace, name)
        self._reconciling = False
        self._seen: list[str | None] = []

    def event(self, version: str | None) -> bool:
        """An event on the Canary arrived: True when it must wake the Canary now."""
        if self._reconciling:
            self._seen.append(version)  # judged in end(), once the write's version is known
            return False
        return self._foreign(version)

    def begin(self) -> None:
        """A reconciliation starts."""
        self._reconciling, self._seen = True, []

    def end(self, written: str | None) -> bool:
        """It ended, having written ``written`` (or nothing): True when an event it saw must wake
        the Canary again."""
        self._own.record(*self._key, written)
        self._reconciling = False
        return any(self._foreign(version) for version in self._seen)

    def _foreign(self, version: str | None) -> bool:
        return not self._own.wrote(*self._key, version)


def as_bookmark(event: object, own: OwnWrites, *, group: str, kind: str) -> object:
    """``event`` from a watch stream, or a BOOKMARK in its place when it is the echo of a status
    write recorded in ``own``: an update of a ``kind`` of API ``group`` whose resourceVersion is
    that write's. One resourceVersion is one write, so the object at that version is exactly what
    was written, and a bookmark with its resourceVersion keeps the stream's resume point where
    it would have been. Any other event (an add, a delete, someone else's change, a write whose
    answer came after its event) is handed on unchanged.
    """
    if not isinstance(event, dict) or event.get("type") != "MODIFIED":
        return event
    obj = event.get("object")
    if not isinstance(obj, dict) or obj.get("kind") != kind or not str(obj.get("apiVersion", "")).startswith(f"{group}/"):
        return event
    meta = obj.get("metadata") or {}
    version = meta.get("resourceVersion")
    if not own.wrote(meta.get("namespace") or "", meta.get("name") or "", version):
        return event
    own.skipped += 1
    return {"type": "BOOKMARK", "object": {"apiVersion": obj["apiVersion"], "kind": kind,
                                           "metadata": {"resourceVersion": version}}}
