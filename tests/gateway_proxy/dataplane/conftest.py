"""Fixtures of the C data plane tests: the compiled parser as a session fixture."""

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
    return dataplane_support.compiled("http1")
