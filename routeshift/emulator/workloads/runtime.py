"""The container runtime of the local kubelet: one local process per container, run for real.

A container's image (see :mod:`images`) becomes a child process bound to the Pod's IP,
its output captured in ``<log_dir>/<namespace>_<pod>_<uid>/<container>/<restart>.log`` as a
kubelet keeps ``/var/log/pods``. A process that exits is restarted per ``restartPolicy``
with the kubelet's back-off (at once the first time, then ``base`` doubling up to ``cap``),
shown as ``CrashLoopBackOff`` meanwhile; an image the catalogue lacks shows ``ErrImagePull``
then ``ImagePullBackOff``. Stopping is SIGTERM, then SIGKILL after the grace period, always
by PID (each process leads its own process group). A launcher sets ``PR_SET_PDEATHSIG`` so
that even a SIGKILLed emulator leaves no process behind, and an ``atexit`` hook kills
whatever a crashed test left running.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime
import logging
import os
import pathlib
import signal
import sys
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from routeshift.emulator.workloads import images, objects, podstatus, probes, settings, timing

logger = logging.getLogger(__name__)

# Runs before the image's process: die with the parent (Linux), then become that process (same PID).
_LAUNCHER = (
    "import ctypes, os, signal, sys\n"
    "try:\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)\n"
    "except Exception:\n"
    "    pass\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(1)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)
_LIVE: set[int] = set()  # PIDs of every process started and not yet reaped, for the atexit hook


def _kill_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


@atexit.register
def _kill_leftovers() -> None:
    for pid in list(_LIVE):
        _kill_group(pid, signal.SIGKILL)


def live_pids() -> set[int]:
    """PIDs of container processes started in this interpreter and not yet reaped."""
    return set(_LIVE)


def restart_delay(restarts: int, base: float, cap: float) -> float:
    """Seconds before the next start after ``restarts`` restarts: 0, base, 2·base, … ≤ cap."""
    return 0.0 if restarts == 0 else min(cap, base * 2 ** (restarts - 1))


def should_restart(policy: str, exit_code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


def _now() -> str:
    return objects.rfc3339(datetime.datetime.now(tz=datetime.UTC))


class Container:
    """One container of one Pod; :meth:`view` is what its status reports."""

    def __init__(self, spec: Mapping[str, Any], *, pod: Mapping[str, Any], host: str, env: Mapping[str, str],
                 log_dir: pathlib.Path, config: settings.WorkloadSettings, catalogue: Mapping[str, images.Image],
                 changed: Callable[[], None]) -> None:
        self.spec = spec
        self.name = str(spec.get("name"))
        self.image = str(spec.get("image") or "")
        self.pod_name = f"{objects.meta(pod).get('name')}_{objects.meta(pod).get('namespace')}({objects.uid(pod)})"
        self.policy = str((pod.get("spec") or {}).get("restartPolicy") or "Always")
        self.host = host
        self.env = env
        self.log_dir = log_dir / self.name
        self.config = config
        self.catalogue = catalogue
        self.changed = changed
        self.state: dict[str, Any] = podstatus.waiting("ContainerCreating")
        self.last_state: dict[str, Any] = {}
        self.ready = False
        self.started = False
        self.restarts = 0
        self.container_id: str | None = None
        self.process: asyncio.subprocess.Process | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"container {self.pod_name}/{self.name}")

    @property
    def pid(self) -> int | None:
        process = self.process
        return process.pid if process is not None and process.returncode is None else None

    def view(self) -> podstatus.Container:
        return podstatus.Container(name=self.name, image=self.image, state=self.state, last_state=self.last_state,
                                   ready=self.ready, started=self.started, restart_count=self.restarts,
                                   container_id=self.container_id)

    async def stop(self, grace: float) -> None:
        """SIGTERM, SIGKILL after ``grace`` seconds; returns once the process is gone."""
        self._stopping.set()
        process = self.process
        if process is not None and process.returncode is None:
            _kill_group(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), max(0.0, grace))
            except TimeoutError:
                _kill_group(process.pid, signal.SIGKILL)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), 5.0)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), 1.0)
            if not self._task.done():
                self._task.cancel()
        if "terminated" not in self.state:
            self.state = podstatus.terminated(0, started_at=None, finished_at=_now(), reason="Completed")
        self.ready = False

    def kill(self) -> None:
        """SIGKILL at once (the Pod was force-deleted or the emulator stops in a hurry)."""
        self._stopping.set()
        if self.process is not None and self.process.returncode is None:
            _kill_group(self.process.pid, signal.SIGKILL)

    # ---------------------------------------------------------------- the container's life

    async def _run(self) -> None:
        try:
            image = images.lookup(self.catalogue, self.image)
            if image is None:
                await self._cannot_pull()
                return
            launch = images.launch(image, self.image, self.spec, self.host, self.env)
            if launch.argv is None:
                await self._without_process()
                return
            await self._supervise(launch)
        except asyncio.CancelledError:
            raise
        except Exception:  # a runtime bug must show on the Pod, not vanish in a task
            logger.exception("container %s/%s failed in the local runtime", self.pod_name, self.name)
            self.state = podstatus.waiting("RunContainerError", "the emulator's local runtime failed")
            self.ready = False
            self.changed()

    async def _cannot_pull(self) -> None:
        message = images.unknown_message(self.catalogue, self.image)
        self.state = podstatus.waiting("ErrImagePull", message)
        self.changed()
        delay = self.config.restart_backoff
        while not await self._sleep(delay):
            self.state = podstatus.waiting("ImagePullBackOff", f'Back-off pulling image "{self.image}": {message}')
            self.changed()
            delay = min(self.config.restart_backoff_cap, delay * 2)

    async def _without_process(self) -> None:
        """The scale-run marker image: Running and Ready, nothing started."""
        started = _now()
        self.container_id = f"routeshift-local://none-{uuid.uuid4().hex[:12]}"
        self.state, self.started, self.ready = podstatus.running(started), True, True
        self.changed()
        await timing.wait(self._stopping, None)
        self.state = podstatus.terminated(0, started_at=started, finished_at=_now(),
                                          container_id=self.container_id)

    async def _supervise(self, launch: images.Launch) -> None:
        while not self._stopping.is_set():
            started = _now()
            try:
                process = await self._spawn(launch)
            except OSError as error:
                exit_code, reason = 128, "StartError"
                logger.warning("cannot start %s/%s: %s", self.pod_name, self.name, error)
            else:
                self.process = process
                self.container_id = f"routeshift-local://{process.pid}"
                self.state, self.started = podstatus.running(started), True
                self.changed()
                prober = asyncio.get_running_loop().create_task(probes.readiness(
                    self.spec, self.host, self._set_ready, fast=settings.FAST_PROBE,
                    period_cap=self.config.probe_period_cap, alive=lambda: process.returncode is None))
                try:
                    code = await process.wait()
                finally:
                    prober.cancel()
                    if process.returncode is not None:
                        _LIVE.discard(process.pid)
                exit_code = code if code >= 0 else 128 - code
                reason = None
            self.ready = False
            finished = podstatus.terminated(exit_code, started_at=started, finished_at=_now(), reason=reason,
                                            container_id=self.container_id)
            if self._stopping.is_set() or not should_restart(self.policy, exit_code):
                self.state = finished
                self.changed()
                return
            self.last_state = finished
            delay = restart_delay(self.restarts, self.config.restart_backoff, self.config.restart_backoff_cap)
            if delay > 0:
                self.state = podstatus.waiting(
                    "CrashLoopBackOff", f"back-off {_seconds(delay)} restarting failed container={self.name} "
                                        f"pod={self.pod_name}")
                self.changed()
                if await self._sleep(delay):
                    self.state = finished
                    return
            self.restarts += 1

    async def _spawn(self, launch: images.Launch) -> asyncio.subprocess.Process:
        assert launch.argv is not None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **launch.env}
        with open(self.log_dir / f"{self.restarts}.log", "ab") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", _LAUNCHER, str(os.getpid()), *launch.argv,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT, env=env,
                start_new_session=True)
        _LIVE.add(process.pid)
        return process

    def _set_ready(self, ready: bool) -> None:
        if self.ready != ready and "running" in self.state:
            self.ready = ready
            self.changed()

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped first; True when stopped."""
        return await timing.wait(self._stopping, seconds)


def _seconds(delay: float) -> str:
    """As Go prints a time.Duration: ``10s``, ``2m40s``, ``200ms``."""
    if delay < 1:
        return f"{round(delay * 1000)}ms"
    minutes, seconds = divmod(round(delay), 60)
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"
