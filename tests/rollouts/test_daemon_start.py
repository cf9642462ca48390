"""A Canary's daemon starts from the newest status it can know of: the body's or its own last write."""

from __future__ import annotations

import pytest

from rollouts import model
from rollouts.operator import starting_status


def body(version, phase="Progressing", step=1):
    return {"metadata": {"name": "web", "resourceVersion": version},
            "status": {"phase": phase, "step": step}}


WRITTEN = model.parse_status({"phase": "Progressing", "step": 3})


@pytest.mark.parametrize("held, last_write, expected_step, why", [
    ("10", None, 1, "nothing written from here: the body"),
    ("10", ("12", WRITTEN), 3, "the body predates our write (its echo never reached kopf)"),
    ("12", ("12", WRITTEN), 3, "the body is at our write"),
    ("15", ("12", WRITTEN), 1, "someone changed the Canary after our write: the body has it"),
    ("abc", ("12", WRITTEN), 3, "versions that do not compare: our own write"),
    ("", ("12", WRITTEN), 3, "a body without a version: our own write"),
])
def test_the_starting_status(held, last_write, expected_step, why):
    assert starting_status(body(held), last_write).step == expected_step, why
