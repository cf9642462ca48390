"""Fixtures of the provider tests: a scripted backend on a loopback socket.

The helper modules here (``scripted_backend``, ``backend_shapes``) are imported by plain
name, so this directory goes on ``sys.path`` (as tests/rollouts does for its builders).
"""

import pathlib
import sys

import pytest

_directory = pathlib.Path(__file__).parent
if str(_directory) not in sys.path:
    sys.path.insert(0, str(_directory))

import scripted_backend  # noqa: E402


@pytest.fixture
async def backend():
    """A backend that answers what the test queues, in the shapes of ``backend_shapes``."""
    async for server in scripted_backend.serve(scripted_backend.Backend()):
        yield server
