"""Pod status as the kubelet writes it (``workloads.podstatus``) and as ``kubectl get pods`` shows it."""

import pytest

from routeshift.emulator import printers
from routeshift.emulator.workloads import podstatus

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"
CRASHED = podstatus.terminated(1, started_at=T0, finished_at=T0)


def container(state, *, ready=False, last=None, restarts=0, name="app"):
    return podstatus.Container(name=name, image="img", state=state, last_state=last or {}, ready=ready,
                               started="running" in state, restart_count=restarts,
                               container_id="routeshift-local://1" if "waiting" not in state else None)


def pod(policy="Always", *, deleting=False, previous=None, gates=()):
    meta = {"name": "p", "namespace": "default"}
    if deleting:
        meta["deletionTimestamp"] = T1
    spec = {"restartPolicy": policy, "containers": [{"name": "app"}]}
    if gates:
        spec["readinessGates"] = [{"conditionType": gate} for gate in gates]
    return {"metadata": meta, "spec": spec, "status": previous or {}}


@pytest.mark.parametrize(("policy", "containers", "deleting", "phase"), [
    pytest.param("Always", [container(podstatus.waiting("ContainerCreating"))], False, "Pending", id="creating"),
    pytest.param("Always", [container(podstatus.waiting("ImagePullBackOff"))], False, "Pending", id="image-pull"),
    pytest.param("Always", [container(podstatus.running(T0), ready=True)], False, "Running", id="running"),
    pytest.param("Always", [container(podstatus.waiting("CrashLoopBackOff"), last=CRASHED, restarts=2)], False,
                 "Running", id="crash-loop-is-running"),
    pytest.param("Never", [container(CRASHED)], False, "Failed", id="never-restarted-failure"),
    pytest.param("OnFailure", [container(podstatus.terminated(0, started_at=T0, finished_at=T1))], False,
                 "Succeeded", id="on-failure-success"),
    pytest.param("OnFailure", [container(CRASHED)], False, "Running", id="on-failure-restarts"),
    pytest.param("Always", [container(podstatus.terminated(143, started_at=T0, finished_at=T1))], True, "Failed",
                 id="deleted-and-stopped-is-terminal"),
    pytest.param("Always", [container(podstatus.running(T0), ready=True),
                            container(podstatus.waiting("ErrImagePull"), name="b")], False, "Pending",
                 id="one-waiting-keeps-pending"),
])
def test_phase(policy, containers, deleting, phase):
    assert podstatus.phase(pod(policy), containers, deleting=deleting) == phase


def _conditions(status):
    return {c["type"]: (c["status"], c.get("reason")) for c in status["conditions"]}


def test_ready_pod_status():
    status = podstatus.build(pod(), [container(podstatus.running(T0), ready=True)], pod_ip="127.5.0.1",
                             host_ip="127.0.0.1", start_time=T0, now=T1)
    assert status["phase"] == "Running"
    assert (status["podIP"], status["podIPs"], status["hostIP"]) == ("127.5.0.1", [{"ip": "127.5.0.1"}], "127.0.0.1")
    assert _conditions(status) == {"PodReadyToStartContainers": ("True", None), "Initialized": ("True", None),
                                   "Ready": ("True", None), "ContainersReady": ("True", None),
                                   "PodScheduled": ("True", None)}
    assert status["containerStatuses"][0]["state"] == {"running": {"startedAt": T0}}
    assert status["qosClass"] == "BestEffort"


def test_not_ready_names_the_containers_and_keeps_transition_times():
    before = podstatus.build(pod(), [container(podstatus.waiting("ContainerCreating"))], pod_ip="127.5.0.1",
                             host_ip="127.0.0.1", start_time=T0, now=T0)
    later = podstatus.build(pod(previous=before), [container(podstatus.waiting("CrashLoopBackOff"), last=CRASHED)],
                            pod_ip="127.5.0.1", host_ip="127.0.0.1", start_time=T0, now=T1)
    ready = next(c for c in later["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False", "ContainersNotReady", "containers with unready status: [app]")
    assert ready["lastTransitionTime"] == T0, "an unchanged status keeps its transition time"
    assert later["containerStatuses"][0]["lastState"] == CRASHED


def test_readiness_gates_hold_ready_back():
    gated = pod(gates=("example.com/gate",), previous={"conditions": [{"type": "example.com/gate", "status": "False"}]})
    status = podstatus.build(gated, [container(podstatus.running(T0), ready=True)], pod_ip="127.5.0.1",
                             host_ip="127.0.0.1", start_time=T0, now=T1)
    assert _conditions(status)["Ready"] == ("False", "ReadinessGatesNotReady")
    assert _conditions(status)["ContainersReady"] == ("True", None)
    assert _conditions(status)["example.com/gate"] == ("False", None), "conditions of others are kept"


@pytest.mark.parametrize(("containers", "deleting", "shown"), [
    pytest.param([container(podstatus.running(T0), ready=True)], False, "Running", id="running"),
    pytest.param([container(podstatus.waiting("CrashLoopBackOff"), last=CRASHED, restarts=3)], False,
                 "CrashLoopBackOff", id="crash-loop"),
    pytest.param([container(podstatus.waiting("ImagePullBackOff"))], False, "ImagePullBackOff", id="image"),
    pytest.param([container(podstatus.running(T0), ready=True)], True, "Terminating", id="terminating"),
    pytest.param([container(CRASHED)], False, "Error", id="terminated"),
])
def test_kubectl_status_column(containers, deleting, shown):
    status = podstatus.build(pod(deleting=deleting), containers, pod_ip="127.5.0.1", host_ip="127.0.0.1",
                             start_time=T0, now=T1)
    assert printers.pod_status_reason({**pod(deleting=deleting), "status": status}) == shown


def test_unschedulable_status():
    status = podstatus.unschedulable(pod(), "0/1 nodes are available: x.", T1)
    assert status["phase"] == "Pending"
    assert status["conditions"][0] == {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                       "message": "0/1 nodes are available: x.", "lastProbeTime": None,
                                       "lastTransitionTime": T1}
