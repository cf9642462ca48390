"""Counts over a range include each counter child's first event.

The controller's labelled counters are born at 1 on their first increment, which plain
``increase()`` cannot see. Each simulated Canary finished exactly one rollout with each
result, every one of them the first of its kind: the dashboards must count 1 of each.
"""

import pytest

from routeshift.dashboards import promql


@pytest.mark.parametrize("namespace, name", [("shop", "checkout"), ("payments", "ledger")])
def test_each_result_counts_once(contract_data, namespace, name):
    window = f"{(contract_data.end - contract_data.start) // 60 - 5}m"
    rollouts = f'routeshift_rollouts_total{{namespace="{namespace}", name="{name}"}}'
    counted = contract_data.prometheus.query(promql.increase(rollouts, "result", window), at=contract_data.end)
    assert {one["metric"]["result"]: float(one["value"][1]) for one in counted} == {
        "succeeded": 1.0, "undone": 1.0, "aborted": 1.0, "failed": 1.0}
    plain = contract_data.prometheus.query(f"sum by (result) (increase({rollouts}[{window}]))", at=contract_data.end)
    assert all(float(one["value"][1]) == 0.0 for one in plain), "plain increase() would have seen these"


def test_each_event_is_marked_once(contract_data):
    """The annotation query is non-empty around each event and nowhere else."""
    expr = promql.events('routeshift_rollouts_total{namespace="shop", name="checkout"}', "result").replace(
        "$__rate_interval", "1m")
    series = contract_data.prometheus.query_range(expr, start=contract_data.start, end=contract_data.end, step=30)
    marked = {one["metric"]["result"]: [float(t) for t, _ in one["values"]] for one in series}
    assert set(marked) == {"succeeded", "undone", "aborted", "failed"}
    for result, times in marked.items():
        assert max(times) - min(times) <= 60, f"{result} marked over {max(times) - min(times)} s"
