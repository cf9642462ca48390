"""The control plane starts and stops with the emulator; nothing it started outlives it."""

import signal
import sys

import pytest
import yaml

from routeshift.emulator import EmulatorThread, serving
from routeshift.emulator.workloads import NODE_NAME, WorkloadSettings, runtime
from routeshift.testing import processes
from routeshift.testing.kube import Kubectl
from routeshift.testing.polling import until, until_async
from workload_helpers import DEPLOYMENTS, REPLICASETS, alive, available, deployment, pids_of, pods

FAST = {"restart_backoff": 0.2, "stop_timeout": 2.0}


def test_stopping_the_emulator_kills_every_process():
    with EmulatorThread(workloads=FAST) as api:
        api.create(DEPLOYMENTS, deployment(replicas=2), "default")
        api.create(DEPLOYMENTS, deployment("crash", "ghcr.io/routeshift/crash:v1", replicas=1), "default")
        until(lambda: available(api) == 2, timeout=20, description="running")
        started = pids_of(api)
        assert len(started) == 2 and all(alive(pid) for pid in started.values())
    assert not any(alive(pid) for pid in started.values())
    assert not (runtime.live_pids() & set(started.values()))


async def test_serve_runs_the_control_plane_in_the_current_loop():
    async with serving.serve(workloads=WorkloadSettings(restart_backoff=0.2)) as running:
        assert running.workloads is not None and running.emulator.workloads is running.workloads
        running.emulator.create_object(DEPLOYMENTS, deployment("quiet", "ghcr.io/routeshift/no-process:v1",
                                                               replicas=1), "default")

        def ready():
            found = running.emulator.read_object(DEPLOYMENTS, "default", "quiet")
            return (found.get("status") or {}).get("availableReplicas") == 1
        await until_async(ready, timeout=10, description="available")


def test_workloads_can_be_turned_off():
    with EmulatorThread(workloads=False) as api:
        api.create(DEPLOYMENTS, deployment(replicas=1), "default")
        assert api.get("v1/nodes", None, NODE_NAME) is None
        assert api.objects(REPLICASETS, "default") == []
        assert api.container_pids() == {}


def test_two_emulators_hand_out_different_pod_networks():
    with EmulatorThread(workloads=FAST) as one, EmulatorThread(workloads=FAST) as other:
        for api in (one, other):
            api.create(DEPLOYMENTS, deployment("quiet", "ghcr.io/routeshift/no-process:v1", replicas=1), "default")
        ips = [until(lambda api=api: [p["status"].get("podIP") for p in pods(api, "quiet")
                                      if p["status"].get("podIP")], timeout=10) for api in (one, other)]
        assert ips[0][0].split(".")[1] != ips[1][0].split(".")[1]


@pytest.mark.parametrize("strategy", ["Recreate", "RollingUpdate"])
def test_replacing_the_template_honours_the_strategy(cluster, strategy):
    """Recreate never runs old and new Pods together; a rolling update never exceeds its surge."""
    cluster.create(DEPLOYMENTS, deployment("quiet", "ghcr.io/routeshift/no-process:v1", replicas=4,
                                           strategy={"type": strategy}), "default")
    until(lambda: available(cluster, "quiet") == 4, timeout=10, description="4 available")
    hashes = {p["metadata"]["labels"]["pod-template-hash"] for p in pods(cluster, "quiet")}
    cluster.patch(DEPLOYMENTS, "default", "quiet", {"spec": {"template": {"metadata": {"labels": {
        "app": "quiet", "release": "2"}}}}})

    def done():
        live = [p for p in pods(cluster, "quiet") if not p["metadata"].get("deletionTimestamp")]
        assert len(live) <= 5, f"more than replicas + maxSurge at once: {len(live)}"
        versions = {p["metadata"]["labels"].get("release") for p in pods(cluster, "quiet")}
        if strategy == "Recreate":
            assert versions != {None, "2"}, "old and new pods at the same time"
        hashes.update(p["metadata"]["labels"]["pod-template-hash"] for p in pods(cluster, "quiet"))
        web = cluster.get(DEPLOYMENTS, "default", "quiet")
        return (web["status"].get("observedGeneration") == web["metadata"]["generation"]
                and web["status"].get("updatedReplicas") == 4 and available(cluster, "quiet") == 4
                and versions == {"2"} and len(live) == 4)
    until(done, timeout=20, interval=0.005, description="rolled out")
    assert len(hashes) == 2


def test_a_paused_deployment_scales_but_does_not_roll(cluster):
    cluster.create(DEPLOYMENTS, deployment("quiet", "ghcr.io/routeshift/no-process:v1", replicas=1, paused=True),
                   "default")
    until(lambda: cluster.get(DEPLOYMENTS, "default", "quiet").get("status", {}).get("observedGeneration"),
          timeout=10)
    assert cluster.objects(REPLICASETS, "default") == [], "a paused Deployment starts no ReplicaSet"
    cluster.patch(DEPLOYMENTS, "default", "quiet", {"spec": {"paused": False}})
    until(lambda: available(cluster, "quiet") == 1, timeout=10, description="resumed")
    cluster.patch(DEPLOYMENTS, "default", "quiet", {"spec": {"paused": True, "replicas": 2, "template": {
        "metadata": {"labels": {"app": "quiet", "release": "2"}}}}})
    until(lambda: available(cluster, "quiet") == 2, timeout=10, description="scaled while paused")
    assert len(cluster.objects(REPLICASETS, "default")) == 1
    progressing = next(c for c in cluster.get(DEPLOYMENTS, "default", "quiet")["status"]["conditions"]
                       if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused")


def test_min_ready_seconds_delays_availability(cluster):
    """2 s, as Ready's transition time has a resolution of one second."""
    cluster.create(DEPLOYMENTS, deployment("quiet", "ghcr.io/routeshift/no-process:v1", replicas=1,
                                           minReadySeconds=2), "default")
    until(lambda: (cluster.get(DEPLOYMENTS, "default", "quiet").get("status") or {}).get("readyReplicas") == 1,
          timeout=10, description="ready")
    assert available(cluster, "quiet") == 0
    until(lambda: available(cluster, "quiet") == 1, timeout=10, description="available after minReadySeconds")


def test_the_standalone_server_kills_its_pods_on_sigterm(tmp_path):
    port = processes.free_port()
    kubeconfig = tmp_path / "kubeconfig"
    argv = [sys.executable, "-m", "routeshift.emulator.standalone", "--port", str(port), "--kubeconfig",
            str(kubeconfig), "--restart-backoff", "0.2"]
    server = processes.start(argv, log_path=tmp_path / "server.log")
    try:
        until(kubeconfig.exists, timeout=15, description="the kubeconfig is written")
        kubectl = Kubectl(kubeconfig, cache_dir=tmp_path / "cache")
        result = kubectl("apply", "-f", "-", input=yaml.safe_dump(deployment(replicas=1)))
        assert result.returncode == 0, result.stderr
        result = kubectl("rollout", "status", "deployment/web", "--timeout=30s")
        assert result.returncode == 0, result.stderr
        container_id = kubectl("get", "pods", "-o", "jsonpath={.items[0].status.containerStatuses[0].containerID}")
        pid = int(container_id.stdout.rsplit("/", 1)[1])
        assert alive(pid)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=15) == 0
    finally:
        processes.stop(server)
    assert not alive(pid)
