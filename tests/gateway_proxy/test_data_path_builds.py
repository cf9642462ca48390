"""Each hot-path build serves with the data path of the same build, and both stay importable.

The client side, the exchange and the backend side are compiled from the same sources as their
pure builds (``_downstream_c.py`` and friends are symlinks). A proxy given the pure hot path must
run the pure data path and the compiled one the compiled, or the socket tests, which run both
hot-path builds, would silently test one data path twice.
"""

from __future__ import annotations

import asyncio
import os

from gateway_proxy import _hotpath_py, downstream, exchange, serving, upstream

TWINS = {"_downstream_c": downstream, "_exchange_c": exchange, "_upstream_c": upstream}


def test_a_runtime_serves_with_the_data_path_of_its_hot_path_build(impl):
    loop = asyncio.new_event_loop()
    try:
        runtime = serving.Runtime(loop, impl=impl)
    finally:
        loop.close()
    if impl is _hotpath_py:
        assert (runtime.client_side, runtime.backend_side) == (downstream, upstream)
        assert isinstance(runtime.pool, upstream.Pool)
    else:
        assert runtime.client_side.__name__ == "gateway_proxy._downstream_c"
        assert runtime.backend_side.__name__ == "gateway_proxy._upstream_c"
        assert type(runtime.pool).__module__ == "gateway_proxy._upstream_c"
        assert not runtime.client_side.__file__.endswith(".py")


def test_the_compiled_twins_are_the_pure_sources_compiled():
    here = os.path.dirname(downstream.__file__)
    for twin, pure in TWINS.items():
        source = os.path.join(here, twin + ".py")
        assert os.path.islink(source) and os.path.realpath(source) == os.path.realpath(pure.__file__)
        assert os.path.exists(os.path.join(here, twin + ".pxd"))


def test_the_compiled_build_links_its_own_modules(impl):
    if impl is _hotpath_py:
        assert exchange.impl is _hotpath_py
        assert downstream.exchange is exchange
        return
    from gateway_proxy import _downstream_c, _exchange_c

    assert _downstream_c.exchange is _exchange_c
    assert _exchange_c.impl is impl
