"""trackConfigs: a ConfigMap or Secret the target's Pods read is part of its revision, and the
primary keeps the promoted configuration in copies of its own."""

from __future__ import annotations

import copy

import pydantic
import pytest

from canary_builders import FAILURE
from rollouts import actions, config_tracking, model, workloads
from rollouts.config_tracking import CONFIG_MAP, SECRET, ConfigRef
from rollouts.model import Phase
from workload_world import NAME, WorkloadDriver, WorkloadWorld, target, workload_spec

CONFIG = ConfigRef(CONFIG_MAP, "podinfo-config")
COPY = ConfigRef(CONFIG_MAP, "podinfo-config-primary")


def template_reading(**pod_spec) -> dict:
    containers = pod_spec.pop("containers", [{"name": "app", "image": "app:v1"}])
    return {"metadata": {"labels": {"app": "podinfo"}}, "spec": {"containers": containers, **pod_spec}}


def config_map(name: str = "podinfo-config", annotations: dict | None = None, **data: str) -> dict:
    meta = {"name": name, "namespace": "demo", "resourceVersion": "7", "labels": {"team": "web"}}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


# --------------------------------------------------------------------------- what a template reads


@pytest.mark.parametrize("pod_spec, expected", [
    pytest.param({}, (), id="nothing"),
    pytest.param({"containers": [{"name": "app", "envFrom": [{"configMapRef": {"name": "a"}},
                                                             {"secretRef": {"name": "s"}, "prefix": "S_"}]}]},
                 (ConfigRef(CONFIG_MAP, "a"), ConfigRef(SECRET, "s")), id="envFrom"),
    pytest.param({"containers": [{"name": "app", "env": [
        {"name": "A", "value": "1"},
        {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "a", "key": "b"}}},
        {"name": "C", "valueFrom": {"secretKeyRef": {"name": "s", "key": "c"}}},
        {"name": "D", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}]},
                 (ConfigRef(CONFIG_MAP, "a"), ConfigRef(SECRET, "s")), id="env-key-refs"),
    pytest.param({"volumes": [{"name": "v1", "configMap": {"name": "files"}}, {"name": "v2", "secret": {"secretName": "tls"}},
                              {"name": "v3", "emptyDir": {}},
                              {"name": "v4", "projected": {"sources": [{"configMap": {"name": "p"}},
                                                                       {"secret": {"name": "q"}},
                                                                       {"serviceAccountToken": {"path": "t"}}]}}]},
                 (ConfigRef(CONFIG_MAP, "files"), ConfigRef(CONFIG_MAP, "p"), ConfigRef(SECRET, "q"),
                  ConfigRef(SECRET, "tls")), id="volumes-and-projected"),
    pytest.param({"initContainers": [{"name": "init", "envFrom": [{"configMapRef": {"name": "a"}}]}],
                  "containers": [{"name": "app", "envFrom": [{"configMapRef": {"name": "a"}}]}]},
                 (ConfigRef(CONFIG_MAP, "a"),), id="init-containers-and-duplicates-once"),
])
def test_references_finds_every_config_map_and_secret_a_template_reads(pod_spec, expected):
    assert config_tracking.references(template_reading(**pod_spec)) == expected


def test_missing_and_opted_out_objects_are_not_tracked():
    opted_out = config_map("b", annotations={config_tracking.DISABLED_ANNOTATION: "disabled"})
    found = {CONFIG: config_map(), ConfigRef(CONFIG_MAP, "b"): opted_out, ConfigRef(SECRET, "gone"): None}
    assert list(config_tracking.tracked(found)) == [CONFIG]


def test_the_fingerprint_follows_the_content_only():
    base = config_tracking.fingerprint({CONFIG: config_map(ERROR_RATE="0")})
    relabelled = config_map(ERROR_RATE="0")
    relabelled["metadata"].update(resourceVersion="99", labels={"other": "x"})
    assert config_tracking.fingerprint({CONFIG: relabelled}) == base
    assert config_tracking.fingerprint({CONFIG: config_map(ERROR_RATE="0.5")}) != base
    assert config_tracking.fingerprint({}) is None


def test_without_tracked_configuration_a_revision_is_the_templates_hash_as_before():
    pod_template = template_reading()
    assert workloads.revision(pod_template) == workloads.revision(pod_template, None)
    assert workloads.revision(pod_template, "abc") != workloads.revision(pod_template)


def test_the_primary_template_reads_the_copies_and_carries_their_hash():
    pod_template = template_reading(
        containers=[{"name": "app", "envFrom": [{"configMapRef": {"name": "podinfo-config"}}],
                     "env": [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "untracked", "key": "k"}}}]}],
        volumes=[{"name": "files", "configMap": {"name": "podinfo-config"}}])
    rewritten = config_tracking.primary_template(pod_template, [CONFIG], "h4sh")
    container = rewritten["spec"]["containers"][0]
    assert container["envFrom"] == [{"configMapRef": {"name": "podinfo-config-primary"}}]
    assert container["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "untracked"
    assert rewritten["spec"]["volumes"][0]["configMap"]["name"] == "podinfo-config-primary"
    assert rewritten["metadata"]["annotations"] == {config_tracking.HASH_ANNOTATION: "h4sh"}
    assert pod_template["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"] == "podinfo-config", \
        "the target's template is not changed"


def test_a_copy_keeps_the_content_and_takes_the_owners_metadata():
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls", "immutable": True,
              "metadata": {"name": "tls", "namespace": "demo", "labels": {"team": "web"}}, "data": {"tls.crt": "eA=="}}
    owner = workloads.Owner("demo", NAME, "uid-1")
    body = config_tracking.primary_copy(ConfigRef(SECRET, "tls"), secret, owner.metadata("tls-primary"))
    assert body["metadata"]["name"] == "tls-primary"
    assert body["metadata"]["labels"] == {"team": "web", workloads.MANAGED_BY_LABEL: workloads.MANAGED_BY,
                                          workloads.CANARY_LABEL: NAME}
    assert body["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert (body["type"], body["data"]) == ("kubernetes.io/tls", {"tls.crt": "eA=="})
    assert "immutable" not in body, "promotion refreshes the copy in place"


def test_track_configs_belongs_to_the_workload_form():
    with pytest.raises(pydantic.ValidationError, match="trackConfigs goes with targetRef"):
        model.parse_spec({"routeRef": {"name": "r"}, "stable": {"name": "a", "port": 80},
                          "canary": {"name": "b", "port": 80}, "trackConfigs": True})


# --------------------------------------------------------------------------- the machine


def reading_config_world() -> WorkloadWorld:
    world = WorkloadWorld()
    spec = world.deployments[NAME]["spec"]["template"]["spec"]
    spec["containers"][0]["envFrom"] = [{"configMapRef": {"name": "podinfo-config"}}]
    world.edit_config(CONFIG_MAP, "podinfo-config", {"ERROR_RATE": "0"})
    return world


def tracking(**overrides) -> WorkloadDriver:
    driver = WorkloadDriver(canary=workload_spec(trackConfigs=True, **overrides), world=reading_config_world())
    driver.run_until(Phase.INITIALIZED, every=1)
    driver.tick(1)
    return driver


def primary_reads(driver: WorkloadDriver) -> str:
    primary = driver.world.deployments[f"{NAME}-primary"]
    return primary["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"]


def copy_data(driver: WorkloadDriver) -> dict:
    return driver.world.configs[(CONFIG_MAP, "podinfo-config-primary")]["data"]


def test_initialization_writes_the_copy_before_the_primary_that_reads_it():
    driver = WorkloadDriver(canary=workload_spec(trackConfigs=True), world=reading_config_world(),
                            ready_at_once=False)
    applied = [a.label for a in driver.tick().actions if isinstance(a, actions.ApplyObject)]
    assert applied[:2] == ["ConfigMap demo/podinfo-config-primary", "Deployment demo/podinfo-primary"]
    assert primary_reads(driver) == "podinfo-config-primary"
    assert copy_data(driver) == {"ERROR_RATE": "0"}
    assert driver.world.configs[(CONFIG_MAP, "podinfo-config")]["data"] == {"ERROR_RATE": "0"}, "the original stays"


def test_a_config_change_is_a_new_revision_and_the_primary_keeps_the_old_configuration():
    driver = tracking()
    assert driver.status.phase == Phase.INITIALIZED and driver.replicas(NAME) == 0
    before = driver.status.release
    driver.world.edit_config(CONFIG_MAP, "podinfo-config", {"ERROR_RATE": "0.5"})
    driver.tick(1)
    assert driver.status.phase == Phase.PROGRESSING
    assert driver.status.release != before
    assert any("ConfigMap podinfo-config) detected" in d.reason for d in driver.status.decisions)
    assert driver.replicas(NAME) == 2, "the target runs the new configuration as the canary"
    assert copy_data(driver) == {"ERROR_RATE": "0"}, "the primary still reads the promoted configuration"


def test_promotion_refreshes_the_copy_and_rolls_the_primary():
    driver = tracking()
    hash_before = driver.world.deployments[f"{NAME}-primary"]["spec"]["template"]["metadata"]["annotations"]
    driver.world.edit_config(CONFIG_MAP, "podinfo-config", {"ERROR_RATE": "0.01"})
    driver.run_until(Phase.SUCCEEDED)
    assert copy_data(driver) == {"ERROR_RATE": "0.01"}
    primary = driver.world.deployments[f"{NAME}-primary"]
    assert primary["spec"]["template"]["metadata"]["annotations"] != hash_before, \
        "a changed hash makes the primary's Pods restart with the refreshed copy"
    assert workloads.primary_revision(primary) == driver.status.release == driver.status.workload.revision
    assert driver.replicas(NAME) == 0
    driver.tick(10)
    assert driver.status.phase == Phase.SUCCEEDED, "nothing more to roll out"


def test_a_rolled_back_configuration_never_reaches_the_primary():
    driver = tracking()
    driver.world.edit_config(CONFIG_MAP, "podinfo-config", {"ERROR_RATE": "0.5"})
    driver.run_until(Phase.FAILED, verdict=FAILURE)
    assert copy_data(driver) == {"ERROR_RATE": "0"}
    assert primary_reads(driver) == "podinfo-config-primary"
    assert driver.status.workload.failed.revision == driver.status.release
    assert driver.replicas(NAME) == 0


def test_without_tracking_a_config_change_starts_nothing():
    driver = WorkloadDriver(world=reading_config_world())
    driver.run_until(Phase.INITIALIZED, every=1)
    driver.tick(1)
    release = driver.status.release
    driver.world.edit_config(CONFIG_MAP, "podinfo-config", {"ERROR_RATE": "0.5"})
    driver.tick(10)
    assert (driver.status.phase, driver.status.release) == (Phase.INITIALIZED, release)
    assert primary_reads(driver) == "podinfo-config", "no copies without trackConfigs"
    assert (CONFIG_MAP, "podinfo-config-primary") not in driver.world.configs


def test_an_opted_out_config_map_is_not_a_revision():
    driver = tracking()
    release = driver.status.release
    opted_out = copy.deepcopy(driver.world.configs[(CONFIG_MAP, "podinfo-config")])
    opted_out["metadata"]["annotations"] = {config_tracking.DISABLED_ANNOTATION: "disabled"}
    driver.world.configs[(CONFIG_MAP, "podinfo-config")] = opted_out
    driver.tick(10)
    assert driver.status.phase == Phase.PROGRESSING and driver.status.release != release, \
        "opting out changes what the revision covers: a rollout of the untracked form"
    driver.run_until(Phase.SUCCEEDED)
    assert primary_reads(driver) == "podinfo-config", "the primary now reads the original, as the target does"


def test_deletion_removes_the_copies_it_made():
    driver = tracking()
    driver.run_until(Phase.TERMINATED, deleting=True)
    assert (CONFIG_MAP, "podinfo-config-primary") not in driver.world.configs
    assert driver.world.configs[(CONFIG_MAP, "podinfo-config")]["data"] == {"ERROR_RATE": "0"}
    assert f"{NAME}-primary" not in driver.world.deployments and driver.replicas(NAME) == 2


def test_configuration_the_controller_may_not_read_is_a_condition_and_nothing_moves():
    driver = tracking()
    release, route = driver.status.release, copy.deepcopy(driver.world.route)
    why = "trackConfigs: the controller may not read what the Pods of podinfo reference (HTTP 403 Forbidden: ...)"
    decided = driver.tick(10, config_problem=why)
    assert [a for a in decided.actions if not isinstance(a, actions.RecordEvent)] == []
    assert [a.reason for a in decided.actions if isinstance(a, actions.RecordEvent)] == ["ConfigNotReadable"]
    stalled, ready = driver.status.condition("Stalled"), driver.status.condition("Ready")
    assert (stalled.status, stalled.reason, stalled.message) == (model.ConditionStatus.TRUE, "ConfigNotReadable", why)
    assert (ready.status, ready.reason) == (model.ConditionStatus.FALSE, "ConfigNotReadable")
    assert (driver.status.phase, driver.status.release) == (Phase.INITIALIZED, release)
    assert driver.world.route == route and driver.replicas(NAME) == 0
