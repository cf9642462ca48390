"""Both Deployments run hardened, are probed on their health endpoints and start the
processes the contracts name (`routeshift controller`, `gateway-proxy --kubernetes ...`)."""

HARDENED = {
    "runAsNonRoot": True, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False, "privileged": False,
    "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
}


def _pods(combination):
    return {name: deployment["spec"]["template"]["spec"]
            for name, deployment in combination.of_kind("Deployment").items()}


def test_every_container_is_hardened_and_bounded(combination):
    pods = _pods(combination)
    assert pods
    for name, pod in pods.items():
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert {key: context[key] for key in HARDENED} == HARDENED, name
            assert context["runAsUser"] > 0
            assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
            # A read-only root filesystem still needs a writable /tmp for Python.
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
            assert container["image"] == "ghcr.io/routeshift/routeshift:0.1.0"


def test_controller_serves_health_and_metrics_on_one_port(combination):
    deployment = combination.of_kind("Deployment")["rs-routeshift-controller"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] + container["args"][:5] == [
        "routeshift", "--log-level", "INFO", "controller", "--metrics-address", "0.0.0.0:8080"]
    if "--peering" in container["args"]:
        # Peering lets one replica work: the new pod stands by (or takes over) before the old goes.
        assert deployment["spec"]["strategy"] == {"type": "RollingUpdate",
                                                  "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    else:
        # Standalone: never two controllers, not even for the length of a rolling update.
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert container["ports"] == [{"name": "http-metrics", "containerPort": 8080, "protocol": "TCP"}]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http-metrics"}, probe
    service = combination.of_kind("Service")["rs-routeshift-controller-metrics"]
    assert service["spec"]["ports"][0]["targetPort"] == "http-metrics"
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_proxy_runs_in_kubernetes_mode_with_its_admin_port(rendering):
    documents = rendering("defaults")
    deployment = documents.of_kind("Deployment")["rs-routeshift-gateway-proxy"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] + container["args"] == [
        "gateway-proxy", "--kubernetes", "--listen", "0.0.0.0:8000", "--admin", "0.0.0.0:9000",
        "--gateway-address", "rs-routeshift-gateway-proxy.routeshift-system.svc"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "admin"}
    traffic = documents.of_kind("Service")["rs-routeshift-gateway-proxy"]
    # The admin port (/config shows the routing table) never rides on the traffic Service.
    assert [port["targetPort"] for port in traffic["spec"]["ports"]] == ["http"]
    admin = documents.of_kind("Service")["rs-routeshift-gateway-proxy-metrics"]
    assert [port["targetPort"] for port in admin["spec"]["ports"]] == ["admin"]
    (gateway_class,) = documents.of_kind("GatewayClass").values()
    assert gateway_class["spec"]["controllerName"] == "routeshift.dev/gateway-proxy"


def test_tls_adds_an_https_listener(rendering):
    documents = rendering("proxy-tls")
    (container,) = documents.of_kind("Deployment")["rs-routeshift-gateway-proxy"]["spec"]["template"]["spec"][
        "containers"]
    assert container["args"][-2:] == ["--listen-tls", "0.0.0.0:8443"]
    assert {"name": "https", "containerPort": 8443, "protocol": "TCP"} in container["ports"]
    traffic = documents.of_kind("Service")["rs-routeshift-gateway-proxy"]
    assert {"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"} in traffic["spec"]["ports"]


def test_optional_parts_switch_off(rendering):
    assert set(rendering("servicemonitors-off").of_kind("ServiceMonitor")) == set()
    proxy_off = rendering("proxy-off")
    assert set(proxy_off.of_kind("Deployment")) == {"rs-routeshift-controller"}
    assert proxy_off.of_kind("GatewayClass") == {}
    everything_off = rendering("everything-optional-off")
    assert {doc["kind"] for doc in everything_off.documents} == {
        "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Service", "Deployment"}
