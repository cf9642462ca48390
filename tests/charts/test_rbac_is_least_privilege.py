"""RBAC grants exactly what each component needs, verb by verb, in every combination.

The expected rules are spelled out in full: widening a grant (a new verb, a wildcard, a
Secret for the controller) must be a deliberate edit to this table.
"""


CONTROLLER = {
    ("routeshift.dev", "canaries"): {"get", "list", "watch", "patch"},
    ("routeshift.dev", "canaries/status"): {"get", "patch"},
    ("routeshift.dev", "metrictemplates"): {"get", "list", "watch"},
    # Chat notifications: each provider is read when a message is sent, never listed or watched.
    ("routeshift.dev", "notificationproviders"): {"get"},
    ("gateway.networking.k8s.io", "httproutes"): {"get", "list", "watch", "patch"},
    ("gateway.networking.k8s.io", "grpcroutes"): {"get", "list", "watch", "patch"},
    ("gateway.networking.k8s.io", "gateways"): {"get", "list", "watch"},
    # Workload form: the primary Deployment and the Services it owns, the target's scale,
    # and Pods listed only to name why a Deployment is not ready.
    ("", "services"): {"get", "list", "watch", "create", "update", "delete"},
    ("apps", "deployments"): {"get", "list", "watch", "create", "update", "patch", "delete"},
    ("", "pods"): {"list"},
    ("discovery.k8s.io", "endpointslices"): {"get", "list", "watch"},
    ("", "events"): {"create", "patch"},
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"list", "watch"},
    ("", "namespaces"): {"list", "watch"},
}
KOPF_PEERING = {("kopf.dev", "clusterkopfpeerings"): {"get", "list", "watch", "patch"}}
# Watching chosen namespaces, kopf peers through a namespaced KopfPeering in each of them.
KOPF_NAMESPACED_PEERING = {("kopf.dev", "kopfpeerings"): {"get", "list", "watch", "patch"}}
WATCHED = {"shop", "payments"}
PROXY = {
    ("gateway.networking.k8s.io", "gatewayclasses"): {"get", "list", "watch"},
    ("gateway.networking.k8s.io", "gateways"): {"get", "list", "watch"},
    ("gateway.networking.k8s.io", "httproutes"): {"get", "list", "watch"},
    ("gateway.networking.k8s.io", "grpcroutes"): {"get", "list", "watch"},
    ("gateway.networking.k8s.io", "referencegrants"): {"get", "list", "watch"},
    ("gateway.networking.k8s.io", "httproutes/status"): {"patch"},
    ("gateway.networking.k8s.io", "grpcroutes/status"): {"patch"},
    ("gateway.networking.k8s.io", "gateways/status"): {"patch"},
    ("gateway.networking.k8s.io", "gatewayclasses/status"): {"patch"},
    ("", "services"): {"get", "list", "watch"},
    ("", "namespaces"): {"get", "list", "watch"},
    ("discovery.k8s.io", "endpointslices"): {"get", "list", "watch"},
}
PROXY_TLS = {("", "secrets"): {"get", "list", "watch"}}
# trackConfigs: the referenced objects read, the primary's copies written; never listed or watched.
CONFIG_TRACKING = {("", "configmaps"): {"get", "create", "update", "delete"},
                   ("", "secrets"): {"get", "create", "update", "delete"}}
PEERING_NAME = "rs-routeshift-controller"
# The default metrics provider's Secrets: get, by name, in the controller's own namespace only.
METRICS_PROVIDER_ROLE = "rs-routeshift-controller-metrics-provider"


def grants(role) -> dict[tuple[str, str], set[str]]:
    """(apiGroup, resource) → verbs, refusing wildcards and name-scoped rules (checked separately)."""
    table: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]
        assert "nonResourceURLs" not in rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                key = (group, resource)
                assert key not in table, f"{key} granted twice in {role['metadata']['name']}"
                table[key] = set(rule["verbs"])
    return table


def test_controller_cluster_role(combination):
    role = combination.of_kind("ClusterRole")["rs-routeshift-controller"]
    expected = dict(CONTROLLER)
    if combination.name == "watch-namespaces":
        expected |= KOPF_NAMESPACED_PEERING
    elif combination.name not in {"standalone", "everything-optional-off"}:
        expected |= KOPF_PEERING
    if combination.name == "config-tracking":
        expected |= CONFIG_TRACKING
    assert grants(role) == expected


def test_proxy_cluster_role(combination):
    roles = combination.of_kind("ClusterRole")
    if combination.name in {"proxy-off", "everything-optional-off"}:
        assert "rs-routeshift-gateway-proxy" not in roles
        return
    expected = PROXY | (PROXY_TLS if combination.name == "proxy-tls" else {})
    assert grants(roles["rs-routeshift-gateway-proxy"]) == expected


def test_only_the_proxy_with_tls_may_read_secrets(combination):
    for kind in ("ClusterRole", "Role"):
        for name, role in combination.of_kind(kind).items():
            touches_secrets = any("secrets" in rule["resources"] for rule in role["rules"])
            allowed = ((combination.name == "proxy-tls" and name == "rs-routeshift-gateway-proxy")
                       or (combination.name == "config-tracking" and name == "rs-routeshift-controller")
                       or (combination.name == "metrics-provider" and name == METRICS_PROVIDER_ROLE))
            assert touches_secrets == allowed, name


def test_peering_object_is_the_one_the_controller_is_told_to_use(combination):
    """No Leases, no namespaced Roles: leader election is kopf peering on one named object."""
    provider_role = {METRICS_PROVIDER_ROLE} if combination.name == "metrics-provider" else set()
    assert set(combination.of_kind("Role")) == provider_role
    assert set(combination.of_kind("RoleBinding")) == provider_role
    (container,) = combination.of_kind("Deployment")["rs-routeshift-controller"]["spec"]["template"]["spec"][
        "containers"]
    peerings = combination.of_kind("ClusterKopfPeering")
    namespaced = [doc for doc in combination.documents if doc["kind"] == "KopfPeering"]
    if combination.name in {"standalone", "everything-optional-off"}:
        assert peerings == {} and namespaced == [] and "--peering" not in container["args"]
        return
    assert container["args"][container["args"].index("--peering") + 1] == PEERING_NAME
    if combination.name == "watch-namespaces":
        assert peerings == {}
        assert {(doc["metadata"]["name"], doc["metadata"]["namespace"]) for doc in namespaced} == {
            (PEERING_NAME, namespace) for namespace in WATCHED}
        return
    assert set(peerings) == {PEERING_NAME} and namespaced == []


def test_bindings_tie_each_role_to_its_own_service_account(combination):
    accounts = combination.of_kind("ServiceAccount")
    roles = combination.of_kind("ClusterRole")
    bindings = combination.of_kind("ClusterRoleBinding")
    assert set(bindings) == set(roles)
    for name, binding in bindings.items():
        assert binding["roleRef"]["name"] == name
        (subject,) = binding["subjects"]
        assert subject == {"kind": "ServiceAccount", "name": name, "namespace": "routeshift-system"}
        assert subject["name"] in accounts


def test_the_default_metrics_provider_may_get_its_own_secrets_by_name_only(rendering):
    """Not list, not watch, not another Secret, not another namespace: a Canary cannot widen it."""
    rendered = rendering("metrics-provider")
    role = rendered.of_kind("Role")[METRICS_PROVIDER_ROLE]
    assert role["metadata"]["namespace"] == "routeshift-system"
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"],
                              "resourceNames": ["prometheus-auth", "prometheus-ca"], "verbs": ["get"]}]
    binding = rendered.of_kind("RoleBinding")[METRICS_PROVIDER_ROLE]
    assert binding["metadata"]["namespace"] == "routeshift-system"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": METRICS_PROVIDER_ROLE}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "rs-routeshift-controller",
                                    "namespace": "routeshift-system"}]


def test_a_default_metrics_provider_without_secrets_grants_nothing(render):
    documents = render({"controller": {"metricsProvider": {"address": "http://prometheus.monitoring:9090"}}})
    assert [doc["kind"] for doc in documents if doc["kind"] in {"Role", "RoleBinding"}] == []
