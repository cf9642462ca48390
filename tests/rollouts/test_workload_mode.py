"""Workload form decisions: initialization, a new revision, readiness, promotion, rollback, deletion."""

from __future__ import annotations

import copy
import json

import pytest

from canary_builders import FAILURE, SUCCESS
from rollouts import actions, model, workloads
from rollouts.model import Phase
from workload_world import CRASHING, NAME, WorkloadDriver, WorkloadWorld, app_route, target, workload_spec

V2 = "ghcr.io/routeshift/demo-app:v2"


def initialized() -> WorkloadDriver:
    driver = WorkloadDriver()
    driver.run_until(Phase.INITIALIZED, every=1)
    driver.tick(1)  # scales the target down
    return driver


def kinds(decided) -> list[str]:
    return [type(a).__name__ for a in decided.actions if not isinstance(a, actions.RecordEvent)]


# --------------------------------------------------------------------------- initialization


def test_initialization_creates_the_primary_and_services_before_touching_the_route():
    driver = WorkloadDriver(ready_at_once=False)
    first = driver.tick()
    assert kinds(first) == ["ApplyObject", "ApplyObject", "ApplyObject"]
    assert set(driver.world.deployments) == {NAME, f"{NAME}-primary"}
    assert set(driver.world.services) == {f"{NAME}-primary", f"{NAME}-canary"}
    for _ in range(3):
        driver.tick(1)  # the primary is not ready: nothing else happens
    assert driver.world.route == app_route()
    assert "waiting for Deployment podinfo-primary" in driver.status.message
    assert driver.status.phase == Phase.INITIALIZING


def test_initialization_hands_only_the_apps_backend_ref_to_primary_and_canary():
    driver = initialized()
    assert driver.status.phase == Phase.INITIALIZED
    rules = driver.world.route["spec"]["rules"]
    header = [{"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "x-app", "value": "1"}]}}]
    assert rules[0]["backendRefs"] == [
        {"name": "podinfo-primary", "port": 9898, "weight": 100, "filters": header},
        {"name": "podinfo-canary", "port": 9898, "weight": 0, "filters": header},
    ]
    assert rules[1] == app_route()["spec"]["rules"][1]
    assert driver.replicas(NAME) == 0 and driver.replicas(f"{NAME}-primary") == 2
    workload = driver.status.workload
    assert workload.revision == workloads.release_of(target())
    assert workload.images == {"app": "ghcr.io/routeshift/demo-app:v1"}
    assert workload.adopted_routes[0].original_refs[0]["ref"] == app_route()["spec"]["rules"][0]["backendRefs"][0]
    assert driver.status.release == workload.revision, "the running revision is not something to roll out"


def test_the_originals_are_recorded_in_status_before_the_route_is_written():
    driver = WorkloadDriver()
    while not driver.status.workload or not driver.status.workload.adopted_routes:
        decided = driver.tick(1)
        assert not any(isinstance(a, actions.AdoptRoute) for a in decided.actions)
    assert any(isinstance(a, actions.AdoptRoute) for a in driver.tick(1).actions)


# --------------------------------------------------------------------------- a new revision


def test_set_image_promotes_through_the_steps_and_copies_the_template_to_the_primary():
    driver = initialized()
    driver.world.set_image(V2)
    seen = driver.run_until(Phase.SUCCEEDED, verdict=SUCCESS)
    assert seen == [(100, 0), (95, 5), (90, 10), (80, 20), (50, 50), (0, 100), (100, 0)]
    primary = driver.world.deployments[f"{NAME}-primary"]
    assert workloads.images(primary["spec"]["template"]) == {"app": V2}
    assert primary["spec"]["selector"]["matchLabels"] == {"app": "podinfo-primary"}
    assert driver.replicas(NAME) == 0
    workload = driver.status.workload
    assert workload.revision == workloads.release_of(driver.world.deployments[NAME]) == driver.status.release
    assert workload.images == {"app": V2}
    assert driver.status.live_backend.name == f"{NAME}-primary"


def test_no_weight_moves_until_the_canary_is_ready():
    driver = initialized()
    driver.ready_at_once = False
    driver.world.set_image(V2)
    started = driver.tick(1)
    assert actions.ScaleDeployment("demo", NAME, 2) in started.actions
    assert driver.status.phase == Phase.PROGRESSING
    for _ in range(3):
        driver.tick(1)
        assert driver.world.weights() == (100, 0)
    assert "waiting for canary Deployment podinfo to be ready" in driver.status.message
    driver.world.settle()
    driver.tick(1)
    assert driver.world.weights() == (95, 5)
    assert driver.status.workload.canary_ready


def test_a_crashing_revision_is_rolled_back_at_the_deadline_with_the_pods_reason():
    driver = initialized()
    driver.world.set_image(CRASHING)
    driver.run_until(Phase.FAILED, every=5)
    failed = driver.status.workload.failed
    assert failed.revision == workloads.release_of(driver.world.deployments[NAME])
    assert failed.images == {"app": CRASHING}
    assert "progress deadline of 60s exceeded" in failed.reason and "CrashLoopBackOff" in failed.reason
    assert driver.world.weights() == (100, 0)
    assert driver.replicas(NAME) == 0
    assert "RollingBack" in driver.events()
    driver.tick(10)
    assert driver.status.phase == Phase.FAILED, "the failed revision is not retried until the template changes"


def test_a_deployment_past_its_own_progress_deadline_is_rolled_back_at_once():
    driver = initialized()
    driver.ready_at_once = False
    driver.world.set_image(V2)
    driver.tick(1)
    deployment = driver.world.deployments[NAME]
    deployment["status"] = {"observedGeneration": deployment["metadata"]["generation"], "replicas": 2,
                            "updatedReplicas": 2, "availableReplicas": 0,
                            "conditions": [{"type": "Progressing", "status": "False",
                                            "reason": "ProgressDeadlineExceeded",
                                            "message": 'ReplicaSet "podinfo-abc" has timed out progressing.'}]}
    driver.tick(1)
    assert driver.status.phase == Phase.ROLLING_BACK
    assert "ProgressDeadlineExceeded" in driver.status.workload.failed.reason


def test_failed_analysis_rolls_back_and_scales_the_canary_down():
    driver = initialized()
    driver.world.set_image(V2)
    driver.tick(1)
    driver.tick(1)
    driver.run_until(Phase.FAILED, verdict=FAILURE)
    assert driver.world.weights() == (100, 0)
    assert driver.replicas(NAME) == 0
    assert "analysis failed" in driver.status.workload.failed.reason
    primary = driver.world.deployments[f"{NAME}-primary"]
    assert workloads.images(primary["spec"]["template"]) == {"app": "ghcr.io/routeshift/demo-app:v1"}


def test_a_newer_revision_mid_rollout_restarts_from_the_first_step_with_traffic_back_on_primary():
    driver = initialized()
    driver.world.set_image(V2)
    for _ in range(4):
        driver.tick(10, verdict=SUCCESS)
    assert driver.world.weights()[1] >= 10
    driver.ready_at_once = False
    driver.world.set_image("ghcr.io/routeshift/demo-app:v3")
    driver.tick(1)
    assert "restarting from the first step" in " ".join(d.reason for d in driver.status.decisions)
    assert driver.world.weights() == (100, 0), "the replaced revision's pods serve nobody"
    assert driver.status.workload.canary_images == {"app": "ghcr.io/routeshift/demo-app:v3"}
    driver.ready_at_once = True
    driver.world.settle()
    driver.run_until(Phase.SUCCEEDED, verdict=SUCCESS)
    primary = driver.world.deployments[f"{NAME}-primary"]
    assert workloads.images(primary["spec"]["template"]) == {"app": "ghcr.io/routeshift/demo-app:v3"}


def test_changing_back_to_the_primarys_revision_rolls_nothing_out():
    driver = initialized()
    driver.world.set_image(CRASHING)
    driver.run_until(Phase.FAILED, every=5)
    driver.world.set_image("ghcr.io/routeshift/demo-app:v1")
    driver.tick(1)
    assert driver.status.phase == Phase.FAILED
    assert "nothing to roll out" in driver.status.message
    assert driver.replicas(NAME) == 0


# --------------------------------------------------------------------------- deletion


@pytest.mark.parametrize(
    "before",
    [
        pytest.param("initialized", id="idle"),
        pytest.param("mid-rollout", id="mid-rollout"),
        pytest.param("succeeded", id="after-a-promotion"),
        pytest.param("failed", id="after-a-rollback"),
    ],
)
def test_deletion_scales_the_target_up_and_restores_the_route_byte_identical(before):
    driver = initialized()
    if before == "mid-rollout":
        driver.world.set_image(V2)
        for _ in range(3):
            driver.tick(10, verdict=SUCCESS)
        assert driver.world.weights()[1] > 0
    elif before == "succeeded":
        driver.world.set_image(V2)
        driver.run_until(Phase.SUCCEEDED, verdict=SUCCESS)
    elif before == "failed":
        driver.world.set_image(V2)
        driver.run_until(Phase.FAILED, verdict=FAILURE)
    original = json.dumps(app_route()["spec"])
    for _ in range(6):
        driver.tick(1, deleting=True)
        if driver.status.phase == Phase.TERMINATED:
            break
    assert driver.status.phase == Phase.TERMINATED, driver.status.message
    assert json.dumps(driver.world.route["spec"]) == original
    assert set(driver.world.deployments) == {NAME} and driver.replicas(NAME) == 2
    assert driver.world.services == {}


def test_deletion_waits_for_the_target_before_handing_the_route_back():
    driver = initialized()
    driver.ready_at_once = False
    driver.tick(1, deleting=True)
    assert driver.replicas(NAME) == 2
    for _ in range(2):
        driver.tick(1, deleting=True)
    assert driver.world.weights() == (100, 0), "the route still points at the primary"
    assert "waiting for podinfo to be ready" in driver.status.message
    driver.world.settle()
    driver.tick(1, deleting=True)
    driver.tick(1, deleting=True)
    assert driver.status.phase == Phase.TERMINATED
    assert driver.world.route["spec"] == app_route()["spec"]


def test_deletion_before_anything_was_created_touches_nothing():
    driver = WorkloadDriver()
    decided = driver.tick(deleting=True)
    assert driver.status.phase == Phase.TERMINATED
    assert kinds(decided) == []


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        pytest.param(lambda world: world.deployments.pop(NAME), "TargetNotFound", id="missing-deployment"),
        pytest.param(lambda world: world.deployments[NAME]["spec"]["template"]["spec"]["containers"][0].update(
            ports=[{"containerPort": 8080}]), "PortNotFound", id="no-matching-port"),
        pytest.param(lambda world: world.deployments.update(other=_clashing()), "SelectorClash", id="selector-clash"),
        pytest.param(lambda world: world.route["spec"]["rules"][0]["backendRefs"][0].update(name="else"),
                     "AppNotInRoute", id="route-without-the-app"),
    ],
)
def test_bad_input_gets_a_condition_and_an_event_and_nothing_is_touched(breakage, reason):
    world = WorkloadWorld()
    breakage(world)
    before = copy.deepcopy((world.deployments, world.services, world.route))
    driver = WorkloadDriver(world=world, ready_at_once=False)
    decided = driver.tick()
    stalled, ready = driver.status.condition("Stalled"), driver.status.condition("Ready")
    assert (stalled.status, stalled.reason) == (model.ConditionStatus.TRUE, reason)
    assert (ready.status, ready.reason) == (model.ConditionStatus.FALSE, reason)
    assert [a.reason for a in decided.actions if isinstance(a, actions.RecordEvent)] == [reason]
    assert kinds(decided) == []
    assert (world.deployments, world.services, world.route) == before


def _clashing():
    other = target()
    other["metadata"]["name"] = "other"
    other["spec"]["selector"]["matchLabels"] = {"app": "podinfo-primary"}
    other["spec"]["template"]["metadata"]["labels"] = {"app": "podinfo-primary"}
    return other


def test_spec_form_is_checked_by_the_model():
    with pytest.raises(ValueError):
        workload_spec(stable={"name": "a", "port": 80})
