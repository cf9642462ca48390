"""A reload builds and installs its table with full garbage collections held off, and leaves the
collector's thresholds as it found them (gateway_proxy.gc_pause).

A cold reload of 10,000 rules spent a third of its time in full collections that freed nothing;
young collections go on meanwhile, so reference cycles the data path makes are still freed, and
thresholds left changed would stop full collections for good.
"""

from __future__ import annotations

import asyncio
import gc

import pytest
import yaml

from gateway_proxy import serving
from gw_harness import backend, gateway, path_match, route, rule, service


def _write_config(directory, rules: int) -> None:
    documents = [gateway(), *service("v1", 9000),
                 route("r", [rule([backend("v1")], [path_match(f"/p{i}")]) for i in range(rules)])]
    (directory / "config.yaml").write_text(yaml.safe_dump_all(documents))


@pytest.fixture
def eager_collector():
    """Collections every few allocations, with the test process's heap frozen out of them (so that
    the full collections' own rule, a quarter of the heap new since the last one, is met at once):
    any reload would run full collections, unless they are held off."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.collect()
    gc.set_threshold(20, 2, 2)
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()


def _reload(directory, install=None) -> tuple[bool, serving.Runtime, list[int]]:
    """One cold reload of ``directory`` (``install`` in place of the runtime's): whether it
    installed a table, the runtime, and the generations of the automatic collections that started
    while it parsed and compiled (until a table was installed)."""
    started: list[int] = []
    runtimes: list[serving.Runtime] = []

    def record(phase, info):
        if phase == "start" and runtimes and runtimes[0].compiled is None:
            started.append(info["generation"])

    async def reload_once():
        runtime = serving.Runtime(asyncio.get_running_loop())
        if install is not None:
            runtime.install = install
        runtimes.append(runtime)
        gc.callbacks.append(record)
        try:
            installed = await serving.Reloader(runtime, str(directory)).reload(force=True)
        finally:
            gc.callbacks.remove(record)
        return installed, runtime

    installed, runtime = asyncio.run(reload_once())
    return installed, runtime, started


def test_a_reload_runs_young_collections_only_and_restores_the_thresholds(tmp_path, eager_collector):
    _write_config(tmp_path, 300)
    installed, runtime, collections = _reload(tmp_path)
    assert installed and runtime.compiled.rule_count == 300
    assert collections and 2 not in collections
    assert gc.get_threshold() == (20, 2, 2)


def test_a_reload_that_fails_midway_restores_the_thresholds_too(tmp_path):
    _write_config(tmp_path, 10)
    thresholds = gc.get_threshold()

    def install(compiled):
        raise RuntimeError("the table could not be installed")

    with pytest.raises(RuntimeError):
        _reload(tmp_path, install)
    assert gc.get_threshold() == thresholds
