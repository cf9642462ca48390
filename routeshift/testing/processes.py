"""Start and stop the real child processes that tests and the demo run on loopback.

Every server we start binds 127.0.0.1 on a free port, is given a bounded time to become
ready, and is stopped by PID (TERM, then KILL after a grace period) so that no test or
demo run leaves a process behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host`` (the OS picks it)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def start(argv: Sequence[str], *, log_path: Path, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.Popen:
    """Start ``argv`` in its own process group with stdout/stderr going to ``log_path``.

    A new session makes the whole group stoppable at once, including grandchildren.
    """
    log = open(log_path, "ab")  # noqa: SIM115 - the child owns the descriptor; closed in stop()
    try:
        process = subprocess.Popen(
            list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=cwd, start_new_session=True,
        )
    except BaseException:
        log.close()
        raise
    process._routeshift_log = log  # type: ignore[attr-defined]
    return process


def stop(process: subprocess.Popen, *, grace: float = 5.0) -> int | None:
    """Stop a process started by :func:`start`: SIGTERM to its group, SIGKILL after ``grace``."""
    try:
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=grace)
        return process.returncode
    finally:
        log = getattr(process, "_routeshift_log", None)
        if log is not None:
            log.close()


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def kill(process: subprocess.Popen, *, grace: float = 5.0) -> int | None:
    """``kill -9`` of a process started by :func:`start` (and its group): no chance to clean up."""
    try:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)
        return process.returncode
    finally:
        log = getattr(process, "_routeshift_log", None)
        if log is not None:
            log.close()
