"""Workload form for real: the kopf operator, kubectl and the emulator's Deployment, Pod and kubelet.

The user has one Deployment and a route to its Service. A Canary with ``targetRef`` takes it
over; ``kubectl set image`` starts a rollout; the demo app's Pods run as local processes, so
readiness, crash loops and scale-downs are what the emulator's controllers really did.
"""

from __future__ import annotations

import copy
import json
import sys

import httpx
import pytest

from operator_harness import CANARIES, ROUTES, AcceptingGateway, ScriptedAnalysis
from rollouts import crd
from routeshift.testing import processes
from routeshift.testing.polling import until

DEPLOYMENTS = "apps/v1/deployments"
V1, V2 = "ghcr.io/routeshift/demo-app:v1", "ghcr.io/routeshift/demo-app:v2"
CRASH = "ghcr.io/routeshift/crash:v1"
ANALYSIS = {"interval": "100ms", "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}}]}
STEPS = {"progressive": {"steps": [20, 60]}}


def app_deployment(replicas: int = 1) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "podinfo", "namespace": "default", "labels": {"team": "web"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "podinfo"}},
                     "template": {"metadata": {"labels": {"app": "podinfo"}},
                                  "spec": {"containers": [{"name": "app", "image": V1,
                                                           "ports": [{"name": "http", "containerPort": 9898}]}]}}}}


def app_route() -> dict:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "podinfo", "namespace": "default"},
            "spec": {"parentRefs": [{"name": "gw"}], "rules": [
                {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                 "backendRefs": [{"name": "podinfo", "port": 80}]},
                {"matches": [{"path": {"type": "PathPrefix", "value": "/static"}}],
                 "backendRefs": [{"name": "cdn", "port": 80}]}]}}


def workload_canary(**spec) -> dict:
    body = {"routeRef": {"name": "podinfo"}, "targetRef": {"name": "podinfo"},
            "service": {"port": 80, "targetPort": "http"}, "analysis": ANALYSIS, "strategy": STEPS,
            "progressDeadlineSeconds": 20, "acceptanceTimeoutSeconds": 2}
    body.update(spec)
    return {"apiVersion": "routeshift.dev/v1alpha1", "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "default"}, "spec": body}


@pytest.fixture
def app(k8s_api):
    for definition in crd.all_crds().values():
        k8s_api.create("apiextensions.k8s.io/v1/customresourcedefinitions", definition)
    k8s_api.create(DEPLOYMENTS, app_deployment(), "default")
    k8s_api.create("v1/services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "podinfo"},
                                   "spec": {"selector": {"app": "podinfo"},
                                            "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}},
                   "default")
    k8s_api.create(ROUTES, app_route(), "default")
    until(lambda: available(k8s_api, "podinfo") == 1, timeout=30, description="the user's app runs")
    return k8s_api


@pytest.fixture
def gateway(app):
    with AcceptingGateway(app, "default", "podinfo", stable="podinfo-primary", canary="podinfo-canary") as double:
        yield double


def status(api) -> dict:
    return (api.get(CANARIES, "default", "podinfo") or {}).get("status") or {}


def available(api, name: str) -> int | None:
    found = api.get(DEPLOYMENTS, "default", name)
    return None if found is None else (found.get("status") or {}).get("availableReplicas", 0)


def replicas(api, name: str) -> int | None:
    found = api.get(DEPLOYMENTS, "default", name)
    return None if found is None else found["spec"]["replicas"]


def image(api, name: str) -> str:
    return api.get(DEPLOYMENTS, "default", name)["spec"]["template"]["spec"]["containers"][0]["image"]


def answered(api, selector: str, path: str = "/", field: str = "version") -> set:
    """What the ready Pods matching ``selector`` answer in ``field`` on ``path``, asked on their own IPs."""
    found = set()
    for pod in api.objects("v1/pods", "default", label_selector=selector):
        ip = (pod.get("status") or {}).get("podIP")
        if ip and not pod["metadata"].get("deletionTimestamp") and any(c.get("type") == "Ready" and c.get("status") == "True"
                      for c in pod["status"].get("conditions") or []):
            found.add(httpx.get(f"http://{ip}:9898{path}", timeout=5).json()[field])
    return found


def versions_answered(api, selector: str) -> set[str]:
    """The versions the ready Pods matching ``selector`` answer with."""
    return answered(api, selector)


def error_rates(api, selector: str) -> set[float]:
    """The error share the ready Pods matching ``selector`` run with (read from their environment)."""
    return answered(api, selector, "/healthz", "errorRate")


def weights_seen(gateway) -> list[tuple[int, int]]:
    """The (primary, canary) weights the gateway accepted, after adoption.

    Adoption keeps the app's ref weight (unset: 1) on the primary and initialization sets
    100/0 a moment later: the polling stand-in may accept both generations or only the second.
    """
    return gateway.seen[1:] if gateway.seen[:1] == [(1, 0)] else list(gateway.seen)


def initialized(api) -> None:
    until(lambda: status(api).get("phase") == "Initialized" and replicas(api, "podinfo") == 0, timeout=30,
          description=f"initialization: {status(api).get('message')}")


def events(kubectl) -> list[dict]:
    return json.loads(kubectl("get", "events", "-n", "default", "-o", "json").stdout)["items"]


def canary_event_reasons(kubectl) -> set[str]:
    return {e["reason"] for e in events(kubectl) if e["involvedObject"]["kind"] == "Canary"}


def test_set_image_promotes_and_the_primary_runs_the_new_version(app, gateway, start, kubectl):
    start(ScriptedAnalysis(gateway=gateway))
    app.create(CANARIES, workload_canary(), "default")
    initialized(app)
    route = app.get(ROUTES, "default", "podinfo")
    assert route["spec"]["rules"][0]["backendRefs"] == [{"name": "podinfo-primary", "port": 80, "weight": 100},
                                                         {"name": "podinfo-canary", "port": 80, "weight": 0}]
    until(lambda: versions_answered(app, "app=podinfo-primary") == {"v1"}, timeout=10,
          ignore=(httpx.TransportError,), description="the primary's pods answer as v1")

    kubectl("set", "image", "deployment/podinfo", f"app={V2}", "-n", "default")
    until(lambda: status(app).get("phase") == "Succeeded", timeout=60,
          description=f"promotion: {status(app).get('message')}")
    assert weights_seen(gateway) == [(100, 0), (80, 20), (40, 60), (0, 100), (100, 0)]
    assert image(app, "podinfo-primary") == V2
    until(lambda: versions_answered(app, "app=podinfo-primary") == {"v2"}, timeout=30,
          ignore=(httpx.TransportError,), description="the primary's pods run v2")
    until(lambda: app.objects("v1/pods", "default", label_selector="app=podinfo") == [], timeout=30,
          description="the canary scaled to zero leaves no pod")
    workload = status(app)["workload"]
    assert workload["images"] == {"app": V2} and workload["revision"] == status(app)["release"]


def test_a_crashing_image_is_rolled_back_with_the_reason(app, gateway, start, kubectl):
    start(ScriptedAnalysis(gateway=gateway))
    app.create(CANARIES, workload_canary(progressDeadlineSeconds=6), "default")
    initialized(app)
    kubectl("set", "image", "deployment/podinfo", f"app={CRASH}", "-n", "default")
    until(lambda: status(app).get("phase") == "Failed", timeout=60,
          description=f"rollback: {status(app).get('message')}")
    failed = status(app)["workload"]["failed"]
    assert failed["images"] == {"app": CRASH}
    assert "CrashLoopBackOff" in failed["reason"], failed["reason"]
    assert weights_seen(gateway) == [(100, 0)], "no weight ever moved to pods that never got ready"
    until(lambda: replicas(app, "podinfo") == 0, timeout=10, description="the canary scaled down")
    assert image(app, "podinfo-primary") == V1
    # Events follow the status write that ends the phase: wait for them through kubectl, as a user would.
    until(lambda: {"RollingBack", "RolledBack"} <= canary_event_reasons(kubectl), timeout=10,
          description="rollback events posted")


def test_deletion_scales_the_target_back_and_restores_the_route_byte_identical(app, gateway, start, kubectl):
    original = copy.deepcopy(app.get(ROUTES, "default", "podinfo")["spec"])
    start(ScriptedAnalysis(gateway=gateway))
    # A long interval holds the rollout at its first step while it is deleted.
    app.create(CANARIES, workload_canary(analysis={**ANALYSIS, "interval": "30s"}, progressDeadlineSeconds=60),
               "default")
    initialized(app)
    kubectl("set", "image", "deployment/podinfo", f"app={V2}", "-n", "default")
    until(lambda: (status(app).get("weights") or {}).get("canary") == 20, timeout=30, description="mid-rollout")
    kubectl("delete", "canary", "podinfo", "-n", "default", "--timeout=60s")
    assert app.get(CANARIES, "default", "podinfo") is None
    assert json.dumps(app.get(ROUTES, "default", "podinfo")["spec"]) == json.dumps(original)
    assert app.get(DEPLOYMENTS, "default", "podinfo-primary") is None
    assert app.get("v1/services", "default", "podinfo-primary") is None
    assert app.get("v1/services", "default", "podinfo-canary") is None
    assert replicas(app, "podinfo") == 1 and available(app, "podinfo") == 1


def test_kubectl_canary_wait_after_set_image_follows_the_rollout_that_change_starts(app, gateway, start, kubectl):
    start(ScriptedAnalysis(gateway=gateway))
    app.create(CANARIES, workload_canary(progressDeadlineSeconds=6), "default")
    initialized(app)
    kubectl("set", "image", "deployment/podinfo", f"app={V2}", "-n", "default")
    waited = kubectl("canary", "wait", "podinfo", "-n", "default", "--timeout", "60s")
    assert waited.returncode == 0, waited.stdout + waited.stderr
    assert status(app)["phase"] == "Succeeded" and status(app)["workload"]["images"] == {"app": V2}, \
        "wait returned on the promotion of the new revision, not on the stale Initialized"

    kubectl("set", "image", "deployment/podinfo", f"app={CRASH}", "-n", "default")
    waited = kubectl("canary", "wait", "podinfo", "-n", "default", "--timeout", "60s")
    assert waited.returncode == 1, waited.stdout + waited.stderr
    assert status(app)["phase"] == "Failed" and status(app)["workload"]["failed"]["images"] == {"app": CRASH}
    assert "CrashLoopBackOff" in waited.stdout


def test_a_config_map_change_is_rolled_out_and_the_primary_keeps_the_promoted_configuration(app, gateway, start):
    app.create("v1/configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "podinfo-config"},
                                 "data": {"ERROR_RATE": "0"}}, "default")
    app.patch(DEPLOYMENTS, "default", "podinfo", {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": V1, "envFrom": [{"configMapRef": {"name": "podinfo-config"}}],
         "ports": [{"name": "http", "containerPort": 9898}]}]}}}})
    until(lambda: error_rates(app, "app=podinfo") == {0.0} and available(app, "podinfo") == 1, timeout=30,
          ignore=(httpx.TransportError,), description="the app reads its ConfigMap")
    start(ScriptedAnalysis(gateway=gateway))
    # A long first step keeps the canary live long enough to look at both sides.
    app.create(CANARIES, workload_canary(trackConfigs=True, analysis={**ANALYSIS, "interval": "3s"}), "default")
    initialized(app)
    copy_ = app.get("v1/configmaps", "default", "podinfo-config-primary")
    assert copy_["data"] == {"ERROR_RATE": "0"} and copy_["metadata"]["ownerReferences"][0]["kind"] == "Canary"
    until(lambda: error_rates(app, "app=podinfo-primary") == {0.0}, timeout=10, ignore=(httpx.TransportError,),
          description="the primary reads its copy")
    released = status(app)["release"]

    app.patch("v1/configmaps", "default", "podinfo-config", {"data": {"ERROR_RATE": "0.01"}})
    until(lambda: status(app).get("release") != released and (status(app).get("weights") or {}).get("canary") == 20,
          timeout=30, description=f"a rollout of the new configuration: {status(app).get('message')}")
    assert error_rates(app, "app=podinfo") == {0.01}, "the canary runs the new configuration"
    assert error_rates(app, "app=podinfo-primary") == {0.0}, "the primary keeps the promoted one"
    assert app.get("v1/configmaps", "default", "podinfo-config-primary")["data"] == {"ERROR_RATE": "0"}

    until(lambda: status(app).get("phase") == "Succeeded", timeout=60,
          description=f"promotion: {status(app).get('message')}")
    assert app.get("v1/configmaps", "default", "podinfo-config-primary")["data"] == {"ERROR_RATE": "0.01"}
    until(lambda: error_rates(app, "app=podinfo-primary") == {0.01}, timeout=30, ignore=(httpx.TransportError,),
          description="the primary's Pods restarted on the refreshed copy")
    assert image(app, "podinfo-primary") == V1, "only the configuration changed"

    app.delete(CANARIES, "default", "podinfo")
    until(lambda: app.get(CANARIES, "default", "podinfo") is None, timeout=60, description="deletion")
    assert app.get("v1/configmaps", "default", "podinfo-config-primary") is None
    assert app.get("v1/configmaps", "default", "podinfo-config")["data"] == {"ERROR_RATE": "0.01"}


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        pytest.param({"targetRef": {"name": "missing"}}, "TargetNotFound", id="missing-deployment"),
        pytest.param({"service": {"port": 80, "targetPort": 8080}}, "PortNotFound", id="no-matching-port"),
    ],
)
def test_bad_input_gets_a_condition_and_an_event_and_nothing_is_touched(app, start, kubectl, breakage, reason):
    before = copy.deepcopy((app.get(ROUTES, "default", "podinfo")["spec"], app.get(DEPLOYMENTS, "default",
                                                                                    "podinfo")["spec"]))
    start(ScriptedAnalysis())
    app.create(CANARIES, workload_canary(**breakage), "default")
    until(lambda: any(c["type"] == "Stalled" and (c["status"], c["reason"]) == ("True", reason)
                      for c in status(app).get("conditions") or []), timeout=20, description=f"Stalled=True {reason}")
    until(lambda: any(e["reason"] == reason and e["involvedObject"]["name"] == "podinfo" for e in events(kubectl)),
          timeout=10, description=f"{reason} event posted")
    assert (app.get(ROUTES, "default", "podinfo")["spec"], app.get(DEPLOYMENTS, "default", "podinfo")["spec"]) == before
    assert app.get(DEPLOYMENTS, "default", "podinfo-primary") is None


def test_a_selector_clash_is_refused(app, start):
    clash = app_deployment()
    clash["metadata"]["name"] = "other"
    clash["spec"]["selector"]["matchLabels"] = clash["spec"]["template"]["metadata"]["labels"] = {
        "app": "podinfo-primary"}
    clash["spec"]["replicas"] = 0
    app.create(DEPLOYMENTS, clash, "default")
    start(ScriptedAnalysis())
    app.create(CANARIES, workload_canary(), "default")
    until(lambda: any(c["type"] == "Stalled" and (c["status"], c["reason"]) == ("True", "SelectorClash")
                      for c in status(app).get("conditions") or []), timeout=20, description="Stalled SelectorClash")
    assert app.get(DEPLOYMENTS, "default", "podinfo-primary") is None


# --------------------------------------------------------------------------- kill -9 in every phase


def controller_process(kubeconfig, log):
    argv = [sys.executable, "-m", "routeshift", "controller", "--kubeconfig", str(kubeconfig),
            "--metrics-address", f"127.0.0.1:{processes.free_port()}", "--poll-interval", "0.1"]
    return processes.start(argv, log_path=log)


def _phase_reached(api, wanted: str):
    return lambda: status(api).get("phase") == wanted


@pytest.mark.parametrize(
    "kill_in",
    ["Initializing", "Progressing", "Finalising", "RollingBack", "Terminating"],
)
def test_a_controller_killed_in_any_phase_resumes_without_lowering_a_weight(app, kubeconfig, tmp_path, kubectl,
                                                                            kill_in):
    logs = tmp_path / "controller.log"
    with AcceptingGateway(app, "default", "podinfo", stable="podinfo-primary", canary="podinfo-canary") as gateway:
        child = controller_process(kubeconfig, logs)
        try:
            fail = kill_in == "RollingBack"
            # No metrics: each step dwells one interval. A crashing image drives the rollback.
            app.create(CANARIES, workload_canary(analysis={"interval": "1s"}, progressDeadlineSeconds=4 if fail
                                                 else 60, strategy={"progressive": {"steps": [20, 60]}}), "default")
            held = None
            if kill_in != "Initializing":
                initialized(app)
                kubectl("set", "image", "deployment/podinfo", f"app={CRASH if fail else V2}", "-n", "default")
            if fail:
                # RollingBack lasts from its status write to the canary's scale-down, tens of ms:
                # too short to be sure to see. The API refuses that scale-down until the restart,
                # so the controller is killed while it retries the rollback, as after an outage.
                until(lambda: replicas(app, "podinfo") == 1, timeout=30, description="the canary scaled up")
                held = app.faults.inject(method="PATCH", path=r"/namespaces/default/deployments/podinfo$",
                                         status=503, times=None, message="the API server is unavailable")
            if kill_in == "Terminating":
                until(lambda: (status(app).get("weights") or {}).get("canary") == 20, timeout=30,
                      description="mid-rollout")
                kubectl("delete", "canary", "podinfo", "-n", "default", "--wait=false")
            until(_phase_reached(app, kill_in), timeout=60, interval=0.005,
                  description=f"phase {kill_in}: {status(app).get('message')} (log {logs})")
            if held is not None:
                until(lambda: held.fired, timeout=30, description="the canary's scale-down refused once")
            processes.kill(child)
            weights_at_kill = list(gateway.seen)
            if held is not None:
                app.faults.remove(held)
            child = controller_process(kubeconfig, logs)
            final = {"Initializing": "Initialized", "Progressing": "Succeeded", "Finalising": "Succeeded",
                     "RollingBack": "Failed", "Terminating": None}[kill_in]
            if final is None:
                until(lambda: app.get(CANARIES, "default", "podinfo") is None, timeout=60,
                      description=f"deletion after the restart: {status(app).get('message')}")
                assert app.get(ROUTES, "default", "podinfo")["spec"] == app_route()["spec"]
                assert app.get(DEPLOYMENTS, "default", "podinfo-primary") is None
                assert replicas(app, "podinfo") == 1
                return
            until(_phase_reached(app, final), timeout=60,
                  description=f"{final} after the restart: {status(app).get('message')} (log {logs})")
        finally:
            processes.stop(child)
    canary_weights = [c for _, c in gateway.seen]
    after_kill = canary_weights[len(weights_at_kill) - 1:] if weights_at_kill else canary_weights
    if kill_in in ("Progressing", "Finalising"):
        climb = after_kill[:-1]  # the last write hands everything to the new primary
        assert climb == sorted(climb), f"a weight was lowered after the restart: {gateway.seen}"
        assert image(app, "podinfo-primary") == V2
    if kill_in == "RollingBack":
        assert status(app)["workload"]["failed"]["images"] == {"app": CRASH}
    if kill_in != "Initializing":
        until(lambda: replicas(app, "podinfo") == 0, timeout=10, description="the canary scaled down")
