"""The C route table behind the hot-path API, so the reference's own tests can run against it.

``CTableBuild`` is a hot-path build whose ``route`` and ``pick_backend`` answer from a
:class:`gateway_proxy.dataplane.table.RouteTable` laid out from the very table the base build
compiled, and hand back the base build's Python objects by id: a test written for ``impl``
checks the C decisions unchanged. Everything else (compiling, Backend, Rule) is the base build.
"""

from __future__ import annotations

import os

import pytest

from gateway_proxy import _hotpath_py, hotpath


def table_module():
    """The compiled route table; a failure unless ROUTESHIFT_NO_EXTENSIONS=1 says it was not built."""
    try:
        from gateway_proxy.dataplane import table
    except ImportError:
        table = None
    if table is None or (table.__file__ or "").endswith((".py", ".pyx")):
        if os.environ.get("ROUTESHIFT_NO_EXTENSIONS") == "1":
            pytest.skip("C route table not built (ROUTESHIFT_NO_EXTENSIONS=1)")
        pytest.fail("the C route table is not built: run `.venv/bin/python setup.py build_ext --inplace`")
    return table


def base_build(name: str):
    if name == "pure":
        return _hotpath_py
    build = hotpath.compiled()
    if build is None:
        if os.environ.get("ROUTESHIFT_NO_EXTENSIONS") == "1":
            pytest.skip("compiled hot path not built (ROUTESHIFT_NO_EXTENSIONS=1)")
        pytest.fail("the Cython hot path is not built")
    return build


class CTableBuild:
    """The hot-path API of ``base``, with routing and weighted picks done by the C table."""

    def __init__(self, base, table):
        self._base = base
        self._table = table
        self._built = {}  # id(host index or rule) -> (that object, RouteTable): ids stay unique

    def __getattr__(self, name):
        return getattr(self._base, name)

    def _route_table(self, key_object, make):
        found = self._built.get(id(key_object))
        if found is None:
            found = self._built[id(key_object)] = (key_object, make())
        return found[1]

    def normalize_host(self, host):
        # The raw Host value reaches the C table, which normalizes it itself.
        return host

    def route(self, table, host, method, path, query, headers):
        c_table = self._route_table(table, lambda: self._table.RouteTable(table))
        found = c_table.match(method, path, query, host, list(headers.items()))
        return None if found is None else c_table.matches[found]

    def pick_backend(self, rule, fraction):
        c_table = self._route_table(rule, lambda: self._table.RouteTable(self._single_rule_index(rule)))
        found = c_table.pick(c_table.rules.index(rule), fraction)
        return None if found is None else c_table.backends[found]

    def _single_rule_index(self, rule):
        """A listener table holding only ``rule``, on "/", as compiling would lay it out."""
        base = self._base
        paths = base.PathTable()
        paths.prefix["/"] = [base.Match(rule, base.PATH_PREFIX, "/", None, None, (), (), ())]
        listener = base.HostIndex()
        listener.default = paths
        root = base.HostIndex()
        root.default = listener
        return root
