"""The echo of a Canary's own status write does not wake it; every other change does."""

import pytest

from rollouts.echoes import Echoes, OwnWrites


def run(script: list[tuple]) -> list[bool]:
    """Play ("event", version), ("begin",), ("end", written) in order; the wake answers."""
    echoes, woke = Echoes(OwnWrites(), "default", "web"), []
    for step in script:
        match step:
            case ("event", version):
                woke.append(echoes.event(version))
            case ("begin",):
                echoes.begin()
            case ("end", written):
                woke.append(echoes.end(written))
    return woke


@pytest.mark.parametrize(("script", "wakes"), [
    pytest.param([("event", "5")], [True], id="someone-else-before-any-write"),
    pytest.param([("begin",), ("end", "7"), ("event", "7")], [False, False], id="echo-after-the-write"),
    pytest.param([("begin",), ("event", "7"), ("end", "7")], [False, False], id="echo-before-the-answer"),
    pytest.param([("begin",), ("event", "6"), ("event", "7"), ("end", "7")], [False, False, True],
                 id="a-spec-change-during-the-reconciliation"),
    pytest.param([("begin",), ("end", "7"), ("event", "8")], [False, True], id="a-later-change"),
    pytest.param([("begin",), ("end", None), ("event", "7")], [False, True], id="nothing-written"),
    pytest.param([("begin",), ("end", "7"), ("begin",), ("end", None), ("event", "7")], [False, False, False],
                 id="a-reconciliation-without-write-keeps-the-last-write"),
    pytest.param([("begin",), ("event", None), ("end", "7")], [False, True], id="an-event-without-version"),
    pytest.param([("begin",), ("end", "7"), ("begin",), ("event", "7"), ("end", "9")], [False, False, False],
                 id="the-last-write-echoes-during-the-next-one-that-writes-again"),
    pytest.param([("begin",), ("end", "7"), ("begin",), ("event", "7"), ("event", "8"), ("end", "9")],
                 [False, False, False, True], id="and-a-change-beside-that-echo-still-wakes"),
])
def test_only_other_changes_wake_the_canary(script, wakes):
    assert run(script) == wakes
