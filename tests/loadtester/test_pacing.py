"""The open-model schedule: how many requests a run plans and how many are due at a time."""

import pytest

from routeshift.loadtester import pacing


@pytest.mark.parametrize(("rate", "duration", "planned"), [
    pytest.param(10, 1, 10, id="10/s-for-1s"),
    pytest.param(10, 60, 600, id="10/s-for-1m"),
    pytest.param(0.1, 30, 3, id="float-noise-does-not-add-a-request"),
    pytest.param(3, 1, 3, id="3/s"),
    pytest.param(0.5, 1, 1, id="slower-than-the-run-still-sends-one"),
    pytest.param(2.5, 1, 3, id="a-partial-period-starts-a-request"),
    pytest.param(100, 0.5, 50, id="sub-second"),
])
def test_planned_requests(rate, duration, planned):
    assert pacing.planned_requests(rate, duration) == planned


@pytest.mark.parametrize(("rate", "duration"), [(0, 1), (1, 0), (-1, 1)])
def test_a_run_without_requests_is_refused(rate, duration):
    with pytest.raises(ValueError):
        pacing.planned_requests(rate, duration)


@pytest.mark.parametrize(("elapsed", "rate", "planned", "due"), [
    pytest.param(-0.1, 10, 10, 0, id="before-the-start"),
    pytest.param(0.0, 10, 10, 1, id="the-first-starts-at-once"),
    pytest.param(0.099, 10, 10, 1, id="just-before-the-second"),
    pytest.param(0.1, 10, 10, 2, id="exactly-at-the-second"),
    pytest.param(0.3, 10, 10, 4, id="float-noise-at-a-boundary"),
    pytest.param(0.55, 10, 10, 6, id="mid-run"),
    pytest.param(2.5, 10, 10, 10, id="a-late-wakeup-catches-up-to-the-plan-not-beyond"),
    pytest.param(1.0, 1000, 5, 5, id="capped-by-the-plan"),
])
def test_due(elapsed, rate, planned, due):
    assert pacing.due(elapsed, rate, planned) == due


@pytest.mark.parametrize("rate", [0.5, 3, 7, 10, 33.3, 100])
def test_each_request_is_due_exactly_at_its_start_offset(rate):
    planned = pacing.planned_requests(rate, 3)
    for index in range(planned):
        offset = pacing.start_offset(index, rate)
        assert pacing.due(offset, rate, planned) == index + 1
        assert offset < 3, "every start lies inside the run"
