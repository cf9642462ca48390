"""Make the shared builders (``canary_builders``, ``integration/operator_harness``) importable.

The suite runs with ``--import-mode=importlib``, which does not put test directories on
``sys.path``; the builders are plain functions used inside ``pytest.param`` tables, so
they must be importable at collection time rather than provided as fixtures.

``started`` runs ``routeshift controller ARGS`` up to the point of connecting, for the tests of
its flags.
"""

import pathlib
import sys

import pytest

from rollouts import operator

for _directory in (pathlib.Path(__file__).parent, pathlib.Path(__file__).parent / "integration"):
    if str(_directory) not in sys.path:
        sys.path.insert(0, str(_directory))


@pytest.fixture
def started(monkeypatch):
    """Run ``routeshift controller ARGS`` up to the point of connecting; return what it would run."""
    calls = []
    monkeypatch.setattr(operator, "run", lambda **kwargs: calls.append(kwargs))
    monkeypatch.delenv("POD_NAMESPACE", raising=False)

    def start(*args: str) -> dict:
        assert operator.main(list(args)) == 0
        (kwargs,) = calls[-1:]
        return kwargs

    return start
