"""The status a controller writes is a JSON merge patch body: ``null`` clears a field, but not inside lists.

``model.dump_status`` builds it from two dumps by pydantic's compiled serializer (it runs at
every status write); here it is checked against the rule written out directly, on statuses a
real rollout leaves behind: decisions with metric values that are unset, conditions, analysis
state, a rollback.
"""

import datetime

import pytest
from canary_builders import FAILURE, INCONCLUSIVE, SUCCESS, Driver, spec

from rollouts import machine, model
from rollouts.model import Phase


def merge_ready(value, *, in_list: bool = False):
    """The rule: keep ``null`` for fields of objects, leave unset fields out of list items."""
    if isinstance(value, dict):
        return {k: merge_ready(v, in_list=in_list) for k, v in value.items() if not (in_list and v is None)}
    if isinstance(value, list):
        return [merge_ready(item, in_list=True) for item in value]
    return value


def statuses(verdicts) -> list[model.CanaryStatus]:
    driver = Driver(spec(analysis={"interval": "10s", "threshold": 2, "metrics": [
        {"name": "request-success-rate", "thresholdRange": {"min": 99}}]}))
    seen = [driver.status]
    for verdict in verdicts:
        driver.tick(10, verdict=verdict)
        seen.append(driver.status)
        if driver.status.phase in (Phase.SUCCEEDED, Phase.FAILED):
            break
    return seen


@pytest.mark.parametrize("verdicts", [
    pytest.param([SUCCESS] * 20, id="promoted"),
    pytest.param([SUCCESS, INCONCLUSIVE, SUCCESS, FAILURE, FAILURE, FAILURE] + [FAILURE] * 10, id="rolled back"),
])
def test_dump_keeps_nulls_outside_lists_and_drops_them_inside(verdicts):
    seen = statuses(verdicts)
    assert any(record.metrics for status in seen for record in status.decisions)
    for status in seen:
        assert model.dump_status(status) == merge_ready(status.model_dump(by_alias=True, mode="json"))
    last = model.dump_status(seen[-1])
    assert "weightOverride" in last and last["weightOverride"] is None  # cleared: null in the patch
    assert all(None not in record.values() for record in last["decisions"])


@pytest.mark.parametrize("verdicts", [
    pytest.param([SUCCESS] * 20, id="promoted"),
    pytest.param([SUCCESS, INCONCLUSIVE, SUCCESS, FAILURE, FAILURE, FAILURE] + [FAILURE] * 10, id="rolled back"),
])
def test_kept_decision_dumps_give_the_same_patch_as_a_fresh_dump(verdicts):
    # As the daemon does: each decision starts from the status the last one left, whose
    # decision records it shares, and one DecisionDumps serves every write.
    driver, dumps = Driver(spec(analysis={"interval": "10s", "threshold": 2, "metrics": [
        {"name": "request-success-rate", "thresholdRange": {"min": 99}}]})), model.DecisionDumps()
    status, before, reused = driver.status, None, 0
    for verdict in verdicts:
        driver.now += datetime.timedelta(seconds=10)
        decided = machine.decide(driver.canary, status, driver.world.observations(driver.canary, verdict=verdict),
                                 now=driver.now)
        driver.world.apply(decided)
        status = decided.status
        patch = model.dump_status(status, dumps)
        assert patch == model.dump_status(status)
        if before is not None:  # a record both logs hold (the very object) is dumped once
            previous = {id(record): dumped for record, dumped in zip(before_records, before["decisions"])}
            for record, dumped in zip(status.decisions, patch["decisions"]):
                if id(record) in previous:
                    assert dumped is previous[id(record)]
                    reused += 1
        before, before_records = patch, list(status.decisions)
        if status.phase in (Phase.SUCCEEDED, Phase.FAILED):
            break
    assert reused > len(verdicts)


def test_an_equal_record_that_is_another_object_is_dumped_again():
    dumps = model.DecisionDumps()
    status = statuses([SUCCESS] * 3)[-1]
    first = dumps.dump(status.decisions)
    copied = model.parse_status(model.dump_status(status))
    second = dumps.dump(copied.decisions)
    assert second == first and all(a is not b for a, b in zip(first, second))
