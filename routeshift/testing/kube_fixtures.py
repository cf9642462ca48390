"""pytest fixtures for tests against an emulated cluster (registered in ``tests/conftest.py``).

- ``k8s_api``: a fresh :class:`~routeshift.emulator.EmulatorThread` per test, stopped after.
- ``kubeconfig``: the path of a kubeconfig pointing at it.
- ``kubectl``: a :class:`~routeshift.testing.kube.Kubectl` bound to that kubeconfig.
- ``kopf_runner``: ``kopf_runner(registry, **options)`` starts the real operator for that
  registry against ``k8s_api`` and returns the running thread; all are stopped at teardown
  (before the emulator, which they depend on).
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Iterator
from typing import Any

import kopf
import pytest

from routeshift.emulator import EmulatorThread
from routeshift.testing import kube


@pytest.fixture
def k8s_api() -> Iterator[EmulatorThread]:
    with EmulatorThread() as api:
        yield api


@pytest.fixture
def kubeconfig(k8s_api: EmulatorThread, tmp_path: pathlib.Path) -> pathlib.Path:
    return k8s_api.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def kubectl(kubeconfig: pathlib.Path, tmp_path: pathlib.Path) -> kube.Kubectl:
    return kube.Kubectl(kubeconfig, cache_dir=tmp_path / "kubectl-cache")


@pytest.fixture
def kopf_runner(k8s_api: EmulatorThread) -> Iterator[Callable[..., kube.KopfOperatorThread]]:
    started: list[kube.KopfOperatorThread] = []

    def run(registry: kopf.OperatorRegistry, **options: Any) -> kube.KopfOperatorThread:
        operator = kube.KopfOperatorThread(registry, k8s_api.url, **options)
        started.append(operator)
        return operator.start()

    yield run
    failures = []
    for operator in reversed(started):
        try:
            operator.stop()
        except Exception as error:  # stop every operator, then report
            failures.append(error)
    if failures:
        raise failures[0]
