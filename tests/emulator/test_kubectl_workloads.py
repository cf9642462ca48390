"""The real kubectl on Deployments: set image, scale, rollout status/restart, get with printer columns."""

import httpx

from routeshift.emulator.workloads import rollout
from routeshift.testing.polling import until
from workload_helpers import (DEMO_V2, DEPLOYMENTS, PORT, REPLICASETS, SERVICES, alive, available, deployment,
                              pids_of, pods, service)


def _ok(result):
    assert result.returncode == 0, f"kubectl failed ({result.returncode}): {result.stderr}"
    return result.stdout


def test_set_image_rolls_to_a_new_replica_set_and_the_old_processes_end(cluster, cluster_kubectl):
    kubectl = cluster_kubectl
    cluster.create(DEPLOYMENTS, deployment(), "default")
    assert "successfully rolled out" in _ok(kubectl("rollout", "status", "deployment/web", "--timeout=30s"))
    old_pids = pids_of(cluster)
    [old_rs] = cluster.objects(REPLICASETS, "default")

    assert "image updated" in _ok(kubectl("set", "image", "deployment/web", f"app={DEMO_V2}"))
    assert "successfully rolled out" in _ok(kubectl("rollout", "status", "deployment/web", "--timeout=30s"))

    web = cluster.get(DEPLOYMENTS, "default", "web")
    [container] = web["spec"]["template"]["spec"]["containers"]
    assert container["image"] == DEMO_V2
    assert container["ports"] == [{"name": "http", "containerPort": PORT}], "a strategic merge keeps the ports"
    assert container["env"] == [{"name": "GREETING", "value": "hello"}], "… and the env"
    assert web["metadata"]["annotations"][rollout.REVISION] == "2"
    sets = {rs["metadata"]["name"]: rs for rs in cluster.objects(REPLICASETS, "default")}
    new_name = next(name for name in sets if name != old_rs["metadata"]["name"])
    assert sets[old_rs["metadata"]["name"]]["spec"]["replicas"] == 0
    assert sets[new_name]["metadata"]["annotations"][rollout.REVISION] == "2"
    until(lambda: not any(alive(pid) for pid in old_pids.values()), timeout=10, description="old processes gone")
    until(lambda: all(p["metadata"]["name"].startswith(new_name) for p in pods(cluster)), timeout=10,
          description="only new pods left")
    assert {httpx.get(f"http://{p['status']['podIP']}:{PORT}/", timeout=5).json()["version"]
            for p in pods(cluster)} == {"v2"}


def test_scale_rollout_restart_and_printer_columns(cluster, cluster_kubectl):
    kubectl = cluster_kubectl
    cluster.create(DEPLOYMENTS, deployment("quiet", "ghcr.io/routeshift/no-process:v1", replicas=1), "default")
    cluster.create(SERVICES, service("quiet"), "default")
    assert "scaled" in _ok(kubectl("scale", "deployment/quiet", "--replicas=3"))
    until(lambda: available(cluster, "quiet") == 3, timeout=10, description="3 available")
    scale = _ok(kubectl("get", "--raw", "/apis/apps/v1/namespaces/default/deployments/quiet/scale"))
    assert '"replicas":3' in scale and '"selector":"app=quiet"' in scale

    assert "restarted" in _ok(kubectl("rollout", "restart", "deployment/quiet"))
    assert "successfully rolled out" in _ok(kubectl("rollout", "status", "deployment/quiet", "--timeout=30s"))
    assert len(cluster.objects(REPLICASETS, "default")) == 2
    until(lambda: len(pods(cluster, "quiet")) == 3, timeout=10, description="old pods gone")

    out = _ok(kubectl("get", "deploy,rs,pods,endpointslices"))
    blocks = [block.splitlines() for block in out.strip().split("\n\n")]
    headers = [block[0].split() for block in blocks]
    assert headers == [["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
                       ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
                       ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
                       ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]]
    assert blocks[0][1].split()[:4] == ["deployment.apps/quiet", "3/3", "3", "3"]
    assert sorted(row.split()[1:4] for row in blocks[1][1:]) == [["0", "0", "0"], ["3", "3", "3"]]
    assert all(row.split()[1:3] == ["1/1", "Running"] for row in blocks[2][1:])
    assert blocks[3][1].split()[1:3] == ["IPv4", "9898"]


def test_scale_subresource_over_http(cluster):
    cluster.create(DEPLOYMENTS, deployment("quiet", "ghcr.io/routeshift/no-process:v1", replicas=1), "default")
    url = f"{cluster.url}/apis/apps/v1/namespaces/default/deployments/quiet/scale"
    with httpx.Client(timeout=10) as http:
        scale = http.get(url).json()
        assert (scale["kind"], scale["apiVersion"], scale["spec"]) == ("Scale", "autoscaling/v1", {"replicas": 1})
        stale = {**scale, "metadata": {**scale["metadata"], "resourceVersion": "1"}, "spec": {"replicas": 5}}
        assert http.put(url, json=stale).status_code == 409
        assert http.put(url, json={**scale, "spec": {"replicas": 2}}).json()["spec"]["replicas"] == 2
        patched = http.patch(url, json={"spec": {"replicas": 0}},
                             headers={"Content-Type": "application/merge-patch+json"})
        assert patched.json()["spec"]["replicas"] == 0
        assert http.patch(url, json={"spec": {"replicas": -1}},
                          headers={"Content-Type": "application/merge-patch+json"}).status_code == 422
    web = cluster.get(DEPLOYMENTS, "default", "quiet")
    assert web["spec"]["replicas"] == 0 and web["metadata"]["generation"] == 3
