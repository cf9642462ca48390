"""Fixtures of the C data plane tests: the compiled parser, as its test views show it, per session."""

from __future__ import annotations

import pathlib
import sys

import pytest

# --import-mode=importlib leaves test directories off sys.path; the support module is imported by name.
_HERE = str(pathlib.Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import dataplane_support  # noqa: E402


@pytest.fixture(scope="session")
def http1():
    """The parser's decisions as Python values: ``http1`` is C only, ``http1_inspect`` wraps it."""
    return dataplane_support.compiled("http1_inspect")
