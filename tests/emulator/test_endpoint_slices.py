"""Which EndpointSlices a Service with a selector gets (``workloads.slices``)."""

import pytest

from routeshift.emulator.workloads import slices

SERVICE = {"metadata": {"name": "web", "namespace": "default", "uid": "svc-uid", "labels": {"team": "a"}},
           "spec": {"selector": {"app": "web"},
                    "ports": [{"name": "http", "port": 80, "targetPort": "http", "appProtocol": "http"},
                              {"name": "admin", "port": 81, "targetPort": 9000, "protocol": "TCP"}]}}


def pod(name, ip="127.9.0.1", *, ready=True, labels=None, port=9898, phase="Running", deleting=False, ns="default"):
    meta = {"name": name, "namespace": ns, "uid": f"uid-{name}", "labels": labels or {"app": "web"}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta,
            "spec": {"nodeName": "node", "containers": [{"name": "a", "ports": [{"name": "http", "containerPort": port}]}]},
            "status": {"phase": phase, "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


PORTS = [{"name": "http", "port": 9898, "protocol": "TCP", "appProtocol": "http"},
         {"name": "admin", "port": 9000, "protocol": "TCP"}]


def endpoint(name, ip, ready=True, serving=True, terminating=False):
    return {"addresses": [ip], "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
            "targetRef": {"kind": "Pod", "namespace": "default", "name": name, "uid": f"uid-{name}"},
            "nodeName": "node"}


@pytest.mark.parametrize(("pods", "expected"), [
    pytest.param([pod("b", "127.9.0.2"), pod("a")],
                 [{"ports": PORTS, "endpoints": [endpoint("a", "127.9.0.1"), endpoint("b", "127.9.0.2")]}],
                 id="ready-pods-sorted-ports-resolved"),
    pytest.param([pod("a", ready=False), pod("b", "127.9.0.2", deleting=True)],
                 [{"ports": PORTS, "endpoints": [endpoint("a", "127.9.0.1", ready=False, serving=False),
                                                 endpoint("b", "127.9.0.2", ready=False, terminating=True)]}],
                 id="not-ready-and-terminating"),
    pytest.param([pod("other", labels={"app": "db"}), pod("done", phase="Succeeded"), pod("noip", ip=None),
                  pod("elsewhere", ns="prod")],
                 [{"ports": [], "endpoints": []}], id="nothing-selected-leaves-a-placeholder"),
    pytest.param([pod("a"), pod("b", "127.9.0.2", port=8080)],
                 [{"ports": PORTS, "endpoints": [endpoint("a", "127.9.0.1")]},
                  {"ports": [{**PORTS[0], "port": 8080}, PORTS[1]], "endpoints": [endpoint("b", "127.9.0.2")]}],
                 id="different-named-port-numbers-different-slices"),
])
def test_desired_slices(pods, expected):
    assert slices.desired(SERVICE, pods) == expected


@pytest.mark.parametrize(("service_port", "expected"), [
    pytest.param({"port": 80}, 80, id="default-is-port"),
    pytest.param({"port": 80, "targetPort": 8080}, 8080, id="number"),
    pytest.param({"port": 80, "targetPort": "8081"}, 8081, id="numeric-string"),
    pytest.param({"port": 80, "targetPort": "http"}, 9898, id="named"),
    pytest.param({"port": 80, "targetPort": "http", "protocol": "UDP"}, None, id="named-other-protocol"),
    pytest.param({"port": 80, "targetPort": "missing"}, None, id="unknown-name"),
])
def test_target_port_resolution(service_port, expected):
    assert slices.resolve_port(service_port, pod("a")) == expected


def test_plan_writes_only_what_changed():
    wanted = slices.desired(SERVICE, [pod("a")])
    right = {**slices.body(SERVICE, wanted[0]), "metadata": {"name": "web-1", "labels": slices.labels_for(SERVICE)}}
    stale = {**right, "metadata": {"name": "web-2", "labels": slices.labels_for(SERVICE)}, "endpoints": []}
    assert slices.plan(SERVICE, [right], wanted) == ([], [], [])
    assert slices.plan(SERVICE, [stale], wanted) == ([], [(stale, wanted[0])], [])
    assert slices.plan(SERVICE, [right, stale], wanted) == ([], [], [stale])
    assert slices.plan(SERVICE, [], wanted) == (wanted, [], [])


def test_only_services_with_a_selector_are_managed():
    assert slices.managed(SERVICE)
    assert not slices.managed({"spec": {"ports": [{"port": 80}]}})
    assert not slices.managed({"spec": {"selector": {"a": "b"}, "type": "ExternalName"}})
    labels = slices.body(SERVICE, {"ports": [], "endpoints": []})["metadata"]["labels"]
    assert labels == {"team": "a", "kubernetes.io/service-name": "web",
                      "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
