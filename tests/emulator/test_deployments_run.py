"""Deployments run for real: ReplicaSets, Pods as local processes on their own IPs, EndpointSlices."""

import ipaddress

import httpx

from routeshift.emulator.workloads import NODE_NAME, rollout
from routeshift.testing.polling import until
from workload_helpers import (DEMO_V1, DEPLOYMENTS, PODS, PORT, REPLICASETS, SERVICES, SLICES, alive, available,
                              condition, deployment, pids_of, pods, service, status)


def test_a_deployment_of_the_demo_app_serves_from_its_pods_and_its_slice(cluster):
    cluster.create(DEPLOYMENTS, deployment(), "default")
    cluster.create(SERVICES, service(), "default")
    until(lambda: available(cluster) == 2, timeout=20, description="2/2 available")

    web = cluster.get(DEPLOYMENTS, "default", "web")
    assert web["status"]["observedGeneration"] == web["metadata"]["generation"]
    assert (web["status"]["replicas"], web["status"]["updatedReplicas"], web["status"]["readyReplicas"]) == (2, 2, 2)
    assert condition(web["status"], "Available")["status"] == "True"
    assert condition(web["status"], "Progressing")["reason"] == "NewReplicaSetAvailable"
    assert web["metadata"]["annotations"][rollout.REVISION] == "1"

    [rs] = cluster.objects(REPLICASETS, "default")
    pod_hash = rs["metadata"]["labels"][rollout.HASH_LABEL]
    assert rs["metadata"]["name"] == f"web-{pod_hash}" and len(pod_hash) == 10
    assert rs["metadata"]["ownerReferences"][0]["uid"] == web["metadata"]["uid"]
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", rollout.HASH_LABEL: pod_hash}
    assert rs["status"]["readyReplicas"] == 2 and rs["status"]["availableReplicas"] == 2

    running = pods(cluster)
    ips = sorted(pod["status"]["podIP"] for pod in running)
    assert len(set(ips)) == 2 and all(ipaddress.ip_address(ip).is_loopback and ip != "127.0.0.1" for ip in ips)
    for pod in running:
        assert pod["metadata"]["name"].startswith(f"web-{pod_hash}-") and len(pod["metadata"]["name"]) == 20
        assert pod["spec"]["nodeName"] == NODE_NAME
        assert pod["metadata"]["labels"][rollout.HASH_LABEL] == pod_hash
        assert pod["status"]["phase"] == "Running"
        assert {c["type"] for c in pod["status"]["conditions"]} >= {"PodScheduled", "Initialized", "ContainersReady",
                                                                   "Ready"}
        answer = httpx.get(f"http://{pod['status']['podIP']}:{PORT}/", timeout=5)
        assert answer.status_code == 200 and answer.json()["version"] == "v1"

    def the_slice():
        found = cluster.objects(SLICES, "default", label_selector="kubernetes.io/service-name=web")
        ready = [e for s in found for e in s["endpoints"] if e["conditions"]["ready"]]
        return found if len(ready) == 2 else None
    [endpoint_slice] = until(the_slice, timeout=10, description="a slice with both ready pods")
    assert endpoint_slice["metadata"]["name"].startswith("web-")
    assert endpoint_slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == \
        "endpointslice-controller.k8s.io"
    assert endpoint_slice["addressType"] == "IPv4"
    assert endpoint_slice["ports"] == [{"name": "http", "port": PORT, "protocol": "TCP"}]
    assert sorted(a for e in endpoint_slice["endpoints"] for a in e["addresses"]) == ips
    assert {e["targetRef"]["name"] for e in endpoint_slice["endpoints"]} == {p["metadata"]["name"] for p in running}

    node = cluster.get("v1/nodes", None, NODE_NAME)
    assert condition(node["status"], "Ready")["status"] == "True"


def test_deleting_a_deployment_removes_its_replica_sets_pods_and_processes(cluster):
    cluster.create(DEPLOYMENTS, deployment(replicas=1), "default")
    until(lambda: available(cluster) == 1, timeout=20, description="running")
    started = until(lambda: pids_of(cluster), description="a container process")
    cluster.delete(DEPLOYMENTS, "default", "web")
    until(lambda: not cluster.objects(REPLICASETS, "default") and not pods(cluster), timeout=10,
          description="replica sets and pods gone")
    until(lambda: not any(alive(pid) for pid in started.values()), timeout=5, description="processes gone")


def test_pod_deletion_is_graceful_and_the_replica_set_replaces_the_pod(cluster):
    cluster.create(DEPLOYMENTS, deployment(replicas=1), "default")
    cluster.create(SERVICES, service(), "default")
    until(lambda: available(cluster) == 1, timeout=20, description="running")
    [pod] = pods(cluster)
    name = pod["metadata"]["name"]
    pid = pids_of(cluster)[name]
    deleted = cluster.delete(PODS, "default", name)
    assert deleted["metadata"]["deletionTimestamp"] and deleted["metadata"]["deletionGracePeriodSeconds"] == 30

    def replaced():
        names = {p["metadata"]["name"] for p in pods(cluster)}
        return name not in names and len(names) == 1 and available(cluster) == 1
    until(replaced, timeout=20, description="the pod replaced once the old one stopped")
    assert not alive(pid)

    def endpoints():
        [found] = cluster.objects(SLICES, "default", label_selector="kubernetes.io/service-name=web")
        return [(e["targetRef"]["name"], e["conditions"]["ready"]) for e in found["endpoints"]]
    until(lambda: endpoints() == [(p["metadata"]["name"], True) for p in pods(cluster)], timeout=5,
          description="the slice lists only the new pod")


def test_scale_to_zero_leaves_no_process_and_scales_back(cluster, cluster_kubectl):
    cluster.create(DEPLOYMENTS, deployment(replicas=2), "default")
    until(lambda: available(cluster) == 2, timeout=20, description="running")
    started = pids_of(cluster)
    result = cluster_kubectl("scale", "deployment/web", "--replicas=0")
    assert result.returncode == 0, result.stderr
    until(lambda: not pods(cluster), timeout=10, description="no pods")
    assert not any(alive(pid) for pid in started.values())
    web = until(lambda: (found := status(cluster, DEPLOYMENTS, "web")) and "replicas" not in found and found,
                timeout=5, description="the status counts no replica")
    assert "availableReplicas" not in web and condition(web, "Available")["status"] == "True"


def test_a_crashing_image_crash_loops_and_the_rollout_misses_its_deadline(cluster, cluster_kubectl):
    cluster.create(DEPLOYMENTS, deployment("crash", "ghcr.io/routeshift/crash:v1", replicas=1,
                                           progressDeadlineSeconds=1), "default")

    def crash_looping():
        found = pods(cluster, "crash")
        if not found or not found[0]["status"].get("containerStatuses"):
            return None
        container = found[0]["status"]["containerStatuses"][0]
        return found[0] if container["restartCount"] >= 2 and "waiting" in container["state"] else None
    pod = until(crash_looping, timeout=20, description="restarts with back-off")
    container = pod["status"]["containerStatuses"][0]
    assert container["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert "back-off" in container["state"]["waiting"]["message"]
    assert container["lastState"]["terminated"]["exitCode"] == 1
    assert container["ready"] is False
    assert pod["status"]["phase"] == "Running"
    log_root = cluster.call(lambda emulator: emulator.workloads.kubelet.log_root)
    logs = list(log_root.glob(f"default_{pod['metadata']['name']}_*/app/0.log"))
    assert logs and "crashing on purpose" in logs[0].read_text(), "each container run has its log file"
    assert condition(pod["status"], "Ready")["status"] == "False"

    until(lambda: condition(status(cluster, DEPLOYMENTS, "crash"), "Progressing").get("status") == "False",
          timeout=10, description="progress deadline exceeded")
    progressing = condition(status(cluster, DEPLOYMENTS, "crash"), "Progressing")
    assert progressing["reason"] == "ProgressDeadlineExceeded"
    result = cluster_kubectl("rollout", "status", "deployment/crash", "--timeout=5s")
    assert result.returncode != 0 and "exceeded its progress deadline" in result.stderr
    rows = cluster_kubectl("get", "pods", "-l", "app=crash").stdout.splitlines()
    assert rows[0].split()[:4] == ["NAME", "READY", "STATUS", "RESTARTS"]
    assert rows[1].split()[1] == "0/1" and rows[1].split()[2] in ("CrashLoopBackOff", "Error", "Running")


def test_an_unknown_image_cannot_be_pulled(cluster):
    cluster.create(DEPLOYMENTS, deployment("nope", "docker.io/library/nginx:1.27", replicas=1), "default")

    def backing_off():
        found = pods(cluster, "nope")
        statuses = found[0]["status"].get("containerStatuses") if found else None
        waiting = statuses[0]["state"].get("waiting", {}) if statuses else {}
        return found[0] if waiting.get("reason") == "ImagePullBackOff" else None
    pod = until(backing_off, timeout=10, description="ImagePullBackOff")
    message = pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
    assert "docker.io/library/nginx:1.27" in message and "does not know" in message and DEMO_V1.split(":")[0] in message
    assert pod["status"]["phase"] == "Pending"
    assert condition(pod["status"], "Ready")["status"] == "False"


def test_an_unschedulable_pod_stays_pending_with_the_schedulers_reason(cluster):
    cluster.create(DEPLOYMENTS, deployment("picky", "ghcr.io/routeshift/no-process:v1", replicas=1,
                                           container={"resources": {"requests": {"cpu": "100000"}}}), "default")
    until(lambda: condition((pods(cluster, "picky") or [{}])[0].get("status"), "PodScheduled").get("reason")
          == "Unschedulable", timeout=10, description="Unschedulable")
    [pod] = pods(cluster, "picky")
    assert "nodeName" not in pod["spec"]
    assert condition(pod["status"], "PodScheduled")["message"].startswith("0/1 nodes are available: 1 Insufficient cpu.")


def test_readiness_follows_the_probe(cluster):
    probed = {"readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1}}
    never = {"readinessProbe": {"tcpSocket": {"port": 1}, "periodSeconds": 1}}
    cluster.create(DEPLOYMENTS, deployment("probed", replicas=1, container=probed), "default")
    cluster.create(DEPLOYMENTS, deployment("never", replicas=1, container=never), "default")
    until(lambda: available(cluster, "probed") == 1, timeout=20, description="the HTTP probe passes")
    until(lambda: httpx.get(f"http://{pods(cluster, 'never')[0]['status']['podIP']}:{PORT}/healthz").is_success,
          timeout=10, ignore=(httpx.HTTPError, KeyError, IndexError), description="the never-ready app serves")
    [pod] = pods(cluster, "never")
    assert pod["status"]["containerStatuses"][0]["state"].get("running")
    assert pod["status"]["containerStatuses"][0]["ready"] is False, "its probe asks port 1"
