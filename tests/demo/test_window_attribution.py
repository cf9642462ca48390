"""The demo counts a traffic window for a weight only if the route cannot have moved on during it."""

from __future__ import annotations

import datetime

import pytest

from routeshift.demo.runner import closed_before_next_step

DUE = "2026-12-07T16:21:02.916420+00:00"
AT = datetime.datetime(2026, 12, 7, 16, 21, 2, 916420, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("status, closed_at, counts, why", [
    ({"nextAnalysisAt": DUE}, AT - datetime.timedelta(seconds=1), True, "closed during the dwell"),
    ({"nextAnalysisAt": DUE}, AT, False, "closed as the next step became due"),
    ({"nextAnalysisAt": DUE}, AT + datetime.timedelta(seconds=1), False,
     "closed after it: the route may carry the next weight while the status, deferred, shows this one"),
    ({"nextAnalysisAt": "2026-12-07T16:21:02.916420Z"}, AT + datetime.timedelta(seconds=1), False, "a Z suffix"),
    ({}, AT, True, "nothing due: the weight holds"),
    ({"nextAnalysisAt": None}, AT, True, "nothing due, written as null"),
])
def test_a_window_counts_only_if_it_closed_before_the_next_step(status, closed_at, counts, why):
    assert closed_before_next_step(status, closed_at) is counts, why
