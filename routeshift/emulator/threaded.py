"""The emulator in its own thread and event loop, for sync code, subprocess tests and the demo.

Tests that run kubectl or the operator in other threads must not depend on the test's own
event loop being scheduled; a server with its own loop keeps answering while the test thread
blocks on ``subprocess.run``. Direct reads and writes are marshalled onto that loop, where
every store operation is atomic. Options (``workloads=`` included) are those of
:func:`routeshift.emulator.serving.serve`; the workload controllers and kubelet run on
that loop too, and ``stop()`` kills every process the kubelet started.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import pathlib
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self, TypeVar

from routeshift.emulator import emulator as emulating
from routeshift.emulator import faults, serving

T = TypeVar("T")


class EmulatorThread:
    """``start()`` returns once serving; ``stop()`` ends watches, the server, the loop and the thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, start_timeout: float = 10.0,
                 stop_timeout: float = 10.0, **options: Any) -> None:
        self._host = host
        self._port = port
        self._options = options
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._running: serving.RunningEmulator | None = None
        self._stop_requested: asyncio.Event | None = None
        self._failure: BaseException | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("the emulator thread was already started")
        self._thread = threading.Thread(target=self._main, name="k8s-api-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._start_timeout):
            raise TimeoutError(f"the emulator did not start within {self._start_timeout}s")
        if self._failure is not None:
            raise RuntimeError("the emulator failed to start") from self._failure
        return self

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        if self._stop_requested is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop_requested.set)
        self._thread.join(self._stop_timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the emulator did not stop within {self._stop_timeout}s")
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc_value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def _main(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as error:  # reported to start(); the thread must not die silently
            self._failure = error
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop_requested = asyncio.Event()
        async with serving.serve(self._host, self._port, **self._options) as running:
            self._running = running
            self._ready.set()
            await self._stop_requested.wait()

    # ---------------------------------------------------------------- properties

    @property
    def running(self) -> serving.RunningEmulator:
        if self._running is None:
            raise RuntimeError("the emulator is not running")
        return self._running

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def port(self) -> int:
        return self.running.port

    @property
    def faults(self) -> faults.Faults:
        return self.running.faults

    @property
    def emulator(self) -> emulating.Emulator:
        """The store itself; touch it only through :meth:`call` from other threads."""
        return self.running.emulator

    def write_kubeconfig(self, path: pathlib.Path | str) -> pathlib.Path:
        return self.running.write_kubeconfig(path)

    # ---------------------------------------------------------------- thread-safe access

    def call(self, fn: Callable[[emulating.Emulator], T], timeout: float = 10.0) -> T:
        """Run ``fn(emulator)`` on the emulator's loop and return its result (or raise its error)."""
        if self._loop is None or self._running is None:
            raise RuntimeError("the emulator is not running")
        emulator = self._running.emulator
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(emulator))
            except BaseException as error:
                future.set_exception(error)
        self._loop.call_soon_threadsafe(run)
        return future.result(timeout)

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The object as served (``resource`` in kmock notation, e.g. ``'v1/configmaps'``), or None."""
        return self.call(lambda emulator: emulator.read_object(resource, namespace, name))

    def objects(self, resource: str, namespace: str | None = None, *, label_selector: str | None = None,
                field_selector: str | None = None) -> list[dict[str, Any]]:
        return self.call(lambda emulator: emulator.list_objects(
            resource, namespace, label_selector=label_selector, field_selector=field_selector))

    def create(self, resource: str, body: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        return self.call(lambda emulator: emulator.create_object(resource, body, namespace))

    def patch(self, resource: str, namespace: str | None, name: str, patch: dict[str, Any], *,
              subresource: str | None = None) -> dict[str, Any]:
        return self.call(lambda emulator: emulator.patch_object(resource, namespace, name, patch,
                                                                subresource=subresource))

    def delete(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        return self.call(lambda emulator: emulator.delete_object(resource, namespace, name))

    def compact(self) -> int:
        return self.call(lambda emulator: emulator.compact())

    def container_pids(self) -> dict[tuple[str, str, str], int]:
        """(namespace, pod, container) → PID of every container process the kubelet runs now."""
        return self.call(lambda emulator: emulator.workloads.kubelet.pids() if emulator.workloads else {})

    def requests(self) -> list[tuple[str, str, int]]:
        """Recent resource requests as (method, path?query, HTTP status), oldest first."""
        return self.call(lambda emulator: list(emulator.request_log))
