"""Workload form, the pure Deployment side: spec forms, owned objects, revisions, readiness, bad input."""

from __future__ import annotations

import pydantic
import pytest

from rollouts import model, workloads

OWNER = workloads.Owner(namespace="demo", name="podinfo", uid="uid-1")


def workload_spec(**overrides):
    raw = {"routeRef": {"name": "podinfo"}, "targetRef": {"name": "podinfo"}, "service": {"port": 80, "targetPort": 9898},
           "analysis": {"interval": "10s"}}
    raw.update(overrides)
    return model.parse_spec({k: v for k, v in raw.items() if v is not None})


def deployment(name="podinfo", *, image="ghcr.io/routeshift/demo-app:v1", labels=None, replicas=2, ports=None,
               generation=1, status=None):
    labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "demo", "generation": generation, "labels": {"team": "web"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                 "strategy": {"type": "RollingUpdate"},
                 "template": {"metadata": {"labels": dict(labels)},
                              "spec": {"containers": [{"name": "app", "image": image,
                                                       "ports": ports if ports is not None else [
                                                           {"containerPort": 9898, "name": "http"}]}]}}},
        "status": status or {},
    }


# --------------------------------------------------------------------------- spec forms


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"stable": {"name": "a", "port": 80}, "canary": {"name": "b", "port": 80}},
                     "not both", id="both-forms"),
        pytest.param({"service": None}, "targetRef needs service", id="no-service"),
        pytest.param({"release": "v2"}, "release is set by the controller", id="release-in-workload-form"),
        pytest.param({"targetRef": None, "stable": {"name": "a", "port": 80}, "canary": {"name": "b", "port": 80}},
                     "service goes with targetRef", id="service-without-target"),
        pytest.param({"targetRef": {"name": "podinfo", "kind": "StatefulSet"}}, "Deployment", id="not-a-deployment"),
        pytest.param({"service": {"port": 80, "targetPort": 70000}}, "not a port number", id="bad-target-port"),
        pytest.param({"service": {"port": 80, "targetPort": "Not_A_Name"}}, "container port name", id="bad-port-name"),
    ],
)
def test_invalid_workload_specs_are_refused_with_the_reason(overrides, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        workload_spec(**overrides)


def test_service_form_still_needs_both_services():
    with pytest.raises(pydantic.ValidationError, match="set stable and canary"):
        model.parse_spec({"routeRef": {"name": "web"}, "stable": {"name": "a", "port": 80}})


def test_the_route_machine_sees_primary_as_stable_and_the_target_service_as_canary():
    seen = workloads.service_form(workload_spec(), "abc123")
    assert (seen.stable.name, seen.canary.name, seen.stable.port, seen.release) == (
        "podinfo-primary", "podinfo-canary", 80, "abc123")


@pytest.mark.parametrize(
    ("service", "app", "target_port"),
    [
        pytest.param({"port": 80}, "podinfo", 80, id="defaults"),
        pytest.param({"port": 80, "name": "frontend", "targetPort": "http"}, "frontend", "http", id="named"),
    ],
)
def test_names_and_ports(service, app, target_port):
    spec = workload_spec(service=service)
    assert workloads.names(spec).app == app
    assert spec.service.effective_target_port() == target_port


# --------------------------------------------------------------------------- revisions and objects


def test_a_template_change_is_a_new_revision_a_replica_change_is_not():
    base = deployment()
    assert workloads.revision(workloads.template(base)) == workloads.revision(
        workloads.template(deployment(replicas=5)))
    assert workloads.revision(workloads.template(base)) != workloads.revision(
        workloads.template(deployment(image="ghcr.io/routeshift/demo-app:v2")))


def test_the_primary_never_shares_pods_with_the_target():
    target = deployment(labels={"app": "podinfo", "tier": "web"})
    primary = workloads.primary_deployment(target, name="podinfo-primary", owner=OWNER, replica_count=2)
    selector = primary["spec"]["selector"]["matchLabels"]
    assert selector == {"app": "podinfo-primary", "tier": "web-primary"}
    assert primary["spec"]["template"]["metadata"]["labels"] == selector
    assert primary["spec"]["template"]["spec"] == target["spec"]["template"]["spec"]
    assert primary["spec"]["strategy"] == {"type": "RollingUpdate"}
    meta = primary["metadata"]
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "routeshift"
    assert meta["labels"]["team"] == "web"
    assert meta["ownerReferences"][0]["uid"] == "uid-1"
    assert workloads.primary_revision(primary) == workloads.revision(workloads.template(target))
    assert target["spec"]["selector"]["matchLabels"] == {"app": "podinfo", "tier": "web"}, "target left unchanged"


def test_the_primary_can_run_another_template_for_promotion():
    target = deployment(image="ghcr.io/routeshift/demo-app:v2")
    old = workloads.template(deployment())
    primary = workloads.primary_deployment(target, name="podinfo-primary", owner=OWNER, replica_count=2,
                                           pod_template=old)
    assert workloads.images(primary["spec"]["template"]) == {"app": "ghcr.io/routeshift/demo-app:v1"}
    assert workloads.primary_revision(primary) == workloads.revision(old)


def test_services_forward_to_the_declared_port():
    spec = workload_spec(service={"port": 80, "targetPort": "http", "appProtocol": "http"})
    svc = workloads.service("podinfo-canary", selector={"app": "podinfo"}, spec=spec, owner=OWNER)
    assert svc["spec"]["selector"] == {"app": "podinfo"}
    assert svc["spec"]["ports"] == [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http",
                                     "appProtocol": "http"}]


# --------------------------------------------------------------------------- readiness


def _status(observed=1, replicas=2, updated=2, available=2, progressing=None):
    status = {"observedGeneration": observed, "replicas": replicas, "updatedReplicas": updated,
              "availableReplicas": available}
    if progressing:
        status["conditions"] = [{"type": "Progressing", "status": "False", "reason": progressing[0],
                                 "message": progressing[1]}]
    return status


@pytest.mark.parametrize(
    ("status", "generation", "ready", "summary"),
    [
        pytest.param(_status(), 1, True, "2/2 available", id="ready"),
        pytest.param(_status(observed=1), 2, False, "waiting for the Deployment controller", id="generation-unseen"),
        pytest.param(_status(updated=1, available=1), 1, False, "1/2 updated, 1/2 available", id="rolling"),
        pytest.param(_status(replicas=3), 1, False, "1 old replica(s) terminating", id="old-pods-left"),
        pytest.param(_status(available=0, progressing=("ProgressDeadlineExceeded", "took too long")), 1, False,
                     "ProgressDeadlineExceeded: took too long", id="stuck"),
    ],
)
def test_rollout_readiness_reads_like_kubectl_rollout_status(status, generation, ready, summary):
    found = workloads.rollout(deployment(generation=generation, status=status))
    assert found.ready is ready
    assert summary in found.summary


def _pod(waiting=None, restarts=0, unschedulable=None):
    status = {"conditions": [], "containerStatuses": []}
    if unschedulable:
        status["conditions"].append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                     "message": unschedulable})
    if waiting:
        status["containerStatuses"].append({"name": "app", "restartCount": restarts,
                                            "state": {"waiting": {"reason": waiting, "message": "m"}}})
    return {"status": status}


@pytest.mark.parametrize(
    ("pods", "problem"),
    [
        pytest.param([_pod()], "", id="nothing-visible"),
        pytest.param([_pod("ContainerCreating")], "", id="starting-is-no-problem"),
        pytest.param([_pod("CrashLoopBackOff", restarts=3)], "CrashLoopBackOff: container app (3 restarts): m",
                     id="crash-loop"),
        pytest.param([_pod("ImagePullBackOff"), _pod("ImagePullBackOff")], "ImagePullBackOff: container app: m "
                     "(and 1 more)", id="image-pull"),
        pytest.param([_pod(unschedulable="0/1 nodes are available")], "Unschedulable: 0/1 nodes are available",
                     id="unschedulable"),
    ],
)
def test_pods_problem_names_the_reason(pods, problem):
    assert workloads.pods_problem(pods) == problem


# --------------------------------------------------------------------------- bad input


def _problem(target, *, primary=None, services=None, neighbours=(), spec=None):
    return workloads.problem(spec or workload_spec(), target, primary, services or {}, neighbours,
                             namespace="demo", owner="podinfo")


@pytest.mark.parametrize(
    ("kwargs", "reason", "fragment"),
    [
        pytest.param({"target": None}, "TargetNotFound", "demo/podinfo", id="missing-deployment"),
        pytest.param({"target": deployment(ports=[{"containerPort": 8080}])}, "PortNotFound",
                     "no container port 9898", id="no-matching-port"),
        pytest.param({"target": deployment(), "neighbours": [deployment("other", labels={"app": "podinfo-primary"})]},
                     "SelectorClash", "Deployment other", id="selector-clash"),
        pytest.param({"target": deployment(), "primary": deployment("podinfo-primary")}, "PrimaryConflict",
                     "not managed", id="foreign-primary"),
        pytest.param({"target": deployment(), "services": {"podinfo-canary": {"metadata": {"name": "x"}}}},
                     "ServiceConflict", "podinfo-canary", id="foreign-service"),
    ],
)
def test_bad_input_is_named(kwargs, reason, fragment):
    found = _problem(**kwargs)
    assert found is not None and found[0] == reason and fragment in found[1]


def test_a_valid_target_with_its_own_objects_is_fine():
    target = deployment()
    primary = workloads.primary_deployment(target, name="podinfo-primary", owner=OWNER, replica_count=2)
    spec = workload_spec(service={"port": 80, "targetPort": "http"})
    assert _problem(target, primary=primary, neighbours=[target, primary, deployment("unrelated")], spec=spec) is None
