"""Wake the config reloader when its directory changes (inotify), instead of it polling every 25 ms.

Why it exists (issue 13): a weight change must be serving within 100 ms (p99), and a poll adds
up to its whole interval to that, besides a few stat calls 40 times a second for nothing. The
kernel says when a directory changed: a file written and closed, renamed in (what editors, config
tools and the kubelet's ConfigMap updates do: an atomic rename of a file or of the ``..data``
symlink), removed, or its attributes changed. :class:`DirectoryEvents` turns those into an
asyncio wake-up; the reloader then stats and parses as before, so an event never carries meaning
of its own and a burst of them costs one reload.

inotify through ``inotify_simple``. Where it is unavailable (another kernel, the watch limit
reached, the directory not there yet) :func:`watch` returns None and the reloader keeps polling.
With a watch, the reloader still looks once a second, so an event lost to an overflowed queue or
a filesystem that does not report (NFS) delays a reload by a second at most, never forever.
"""

from __future__ import annotations

import asyncio
import logging

try:
    from inotify_simple import INotify, flags
except (ImportError, OSError, AttributeError):  # not Linux, or a libc without inotify
    INotify = flags = None

logger = logging.getLogger("gateway_proxy")

# Every change that can alter what a scan of the directory sees; IN_MODIFY is left out on purpose:
# a file being written is read once it is closed (IN_CLOSE_WRITE), not at every write.
_CHANGES = ("CREATE", "CLOSE_WRITE", "MOVED_TO", "MOVED_FROM", "DELETE", "ATTRIB", "DELETE_SELF", "MOVE_SELF")


class DirectoryEvents:
    """One inotify watch on a directory, read by the event loop; ``wait`` returns at the next change."""

    def __init__(self, loop: asyncio.AbstractEventLoop, inotify):
        self.loop = loop
        self.inotify = inotify
        self.changed = asyncio.Event()
        loop.add_reader(inotify.fileno(), self._readable)

    def _readable(self) -> None:
        self.inotify.read(timeout=0)  # drain: what changed is for the scan to find
        self.changed.set()

    async def wait(self, timeout: float) -> bool:
        """Wait for a change since the last ``wait`` returned, at most ``timeout`` seconds;
        whether one came."""
        try:
            await asyncio.wait_for(self.changed.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        finally:
            self.changed.clear()
        return True

    def close(self) -> None:
        self.loop.remove_reader(self.inotify.fileno())
        self.inotify.close()


def watch(loop: asyncio.AbstractEventLoop, directory: str) -> DirectoryEvents | None:
    """Events of ``directory``, or None (logged once) when it cannot be watched."""
    if INotify is None:
        logger.info("gateway_proxy: inotify is not available; the config directory is polled")
        return None
    inotify = None
    try:
        inotify = INotify(nonblocking=True)
        mask = 0
        for name in _CHANGES:
            mask |= getattr(flags, name)
        inotify.add_watch(directory, mask)
        return DirectoryEvents(loop, inotify)
    except OSError as error:
        if inotify is not None:
            inotify.close()
        logger.info("gateway_proxy: cannot watch %s (%s); the config directory is polled", directory, error)
        return None
