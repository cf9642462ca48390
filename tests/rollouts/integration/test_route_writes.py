"""Route and status writes against the emulated API: preconditions, conflicts, merge semantics."""

from __future__ import annotations

import pytest

from operator_harness import CANARIES, ROUTES, canary
from rollouts import actions, errors, model, patching, routes

SET = actions.SetRouteWeights("default", "web", model.BackendRef(name="web-v1", port=80),
                              model.BackendRef(name="web-v2", port=80), 70, 30)


@pytest.fixture
async def api(cluster):
    client = patching.Cluster(patching.Connection(server=cluster.url), conflict_retries=3)
    yield client
    await client.close()


async def test_a_concurrent_edit_is_kept_and_our_weights_are_reapplied_on_top(cluster, api):
    calls = []

    def plan(route):
        calls.append(route["metadata"]["resourceVersion"])
        if len(calls) == 1:
            # Someone edits the route after our read and before our write.
            cluster.patch(ROUTES, "default", "web", {"spec": {"hostnames": ["edited.example.com"]}})
        return routes.patch(route, SET, owner="web")

    write = await api.update_route("default", "web", plan)
    assert write.written and write.attempts == 2
    stored = cluster.get(ROUTES, "default", "web")
    assert stored["spec"]["hostnames"] == ["edited.example.com"]
    assert [r["weight"] for r in stored["spec"]["rules"][0]["backendRefs"]] == [70, 30]


async def test_no_write_when_the_route_already_carries_the_weights(cluster, api):
    await api.update_route("default", "web", lambda r: routes.patch(r, SET, owner="web"))
    before = cluster.get(ROUTES, "default", "web")["metadata"]["resourceVersion"]
    write = await api.update_route("default", "web", lambda r: routes.patch(r, SET, owner="web"))
    assert not write.written
    assert cluster.get(ROUTES, "default", "web")["metadata"]["resourceVersion"] == before


async def test_endless_conflicts_give_up_with_a_retryable_error(cluster, api):
    cluster.faults.inject(method="PATCH", path=r"/httproutes/web$", status=409, times=None)
    with pytest.raises(errors.Conflict) as raised:
        await api.update_route("default", "web", lambda r: routes.patch(r, SET, owner="web"))
    assert raised.value.retryable
    assert [r["weight"] for r in cluster.get(ROUTES, "default", "web")["spec"]["rules"][0]["backendRefs"]] == [100, 0]


async def test_a_missing_route_is_reported_not_raised(cluster, api):
    write = await api.update_route("default", "nope", lambda r: routes.patch(r, SET, owner="web"))
    assert write.route is None and not write.written


async def test_status_merge_patch_clears_fields_set_to_none(cluster, api):
    cluster.create(CANARIES, canary(), "default")
    held = model.CanaryStatus(weight_override=30, phase=model.Phase.PAUSED,
                              decisions=[model.DecisionRecord(time="2026-01-01T00:00:00Z", phase="Paused", step=0,
                                                              weight=0, reason="held")])
    await api.patch_status("default", "web", model.dump_status(held))
    assert cluster.get(CANARIES, "default", "web")["status"]["weightOverride"] == 30
    await api.patch_status("default", "web", model.dump_status(held.model_copy(update={"weight_override": None})))
    status = cluster.get(CANARIES, "default", "web")["status"]
    assert "weightOverride" not in status
    assert status["decisions"][0] == {"time": "2026-01-01T00:00:00Z", "phase": "Paused", "step": 0, "weight": 0,
                                      "reason": "held", "metrics": []}


async def test_api_errors_map_to_the_error_tree(cluster, api):
    cluster.faults.inject(method="GET", path=r"/httproutes/web$", status=503, times=1)
    with pytest.raises(errors.Unavailable):
        await api.get_route("default", "web")
    assert (await api.get_route("default", "web"))["metadata"]["name"] == "web"
