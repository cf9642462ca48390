"""The chart's notification values: providers it creates, cluster-wide subscriptions, Secret access."""

from __future__ import annotations

import subprocess

import jsonschema
import pytest
import yaml

from rollouts.notifications.model import NotificationEvent, parse_subscriptions
from routeshift.testing.helm import REPO_ROOT, ensure_helm

CHART = REPO_ROOT / "charts" / "routeshift"
VALUES = {"notifications": {
    "providers": [{"name": "releases", "type": "slack", "secretRef": {"name": "slack-webhook"},
                   "channel": "#releases", "rateLimit": {"events": 5, "interval": "10m"}},
                  {"name": "audit", "type": "webhook", "address": "https://audit.example/hooks",
                   "signingSecretRef": {"name": "audit-key", "key": "hmac"}}],
    "clusterProviders": [{"name": "releases", "events": ["promoted", "rolledBack", "failed"]},
                         {"name": "audit", "namespace": "ops"}],
    "secretNamespaces": ["routeshift-system", "shop"],
}}


def _helm(tmp_path, values, *args):
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return subprocess.run([str(ensure_helm()), *args, str(CHART), "--values", str(path)], capture_output=True,
                          text=True, timeout=60)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    result = _helm(tmp_path_factory.mktemp("chart"), VALUES, "template", "rs", "--namespace", "routeshift-system",
                   "--kube-version", "1.30.0")
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_cluster_providers_become_controller_flags_it_accepts(rendered):
    deployment = next(d for d in rendered if d["kind"] == "Deployment" and d["metadata"]["name"] ==
                      "rs-routeshift-controller")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    flags = [args[i + 1] for i, arg in enumerate(args) if arg == "--notification-provider"]
    assert flags == ["routeshift-system/releases:promoted,rolledBack,failed", "ops/audit"]
    E = NotificationEvent
    assert parse_subscriptions(flags) == [
        (("routeshift-system", "releases"), frozenset({E.PROMOTED, E.ROLLED_BACK, E.FAILED})),
        (("ops", "audit"), frozenset())]


def test_chart_providers_match_the_crd_it_installs(rendered):
    crd = yaml.safe_load((CHART / "crds" / "notificationproviders.routeshift.dev.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    providers = {d["metadata"]["name"]: d for d in rendered if d["kind"] == "NotificationProvider"}
    assert set(providers) == {"releases", "audit"}
    for provider in providers.values():
        assert provider["metadata"]["namespace"] == "routeshift-system"
        jsonschema.Draft4Validator(schema).validate(provider)
    assert providers["releases"]["spec"] == {"type": "slack", "secretRef": {"name": "slack-webhook"},
                                             "channel": "#releases", "rateLimit": {"events": 5, "interval": "10m"}}
    with pytest.raises(jsonschema.ValidationError):  # the check has teeth: both address and secretRef
        jsonschema.Draft4Validator(schema).validate(
            {**providers["audit"], "spec": {**providers["audit"]["spec"], "secretRef": {"name": "x"}}})


def test_secrets_are_readable_only_in_the_named_namespaces_and_only_by_get(rendered):
    roles = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in rendered if d["kind"] == "Role"}
    assert set(roles) == {("routeshift-system", "rs-routeshift-controller-notification-secrets"),
                          ("shop", "rs-routeshift-controller-notification-secrets")}
    for role in roles.values():
        assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    bindings = [d for d in rendered if d["kind"] == "RoleBinding"]
    assert {(b["metadata"]["namespace"], b["subjects"][0]["name"], b["subjects"][0]["namespace"])
            for b in bindings} == {("routeshift-system", "rs-routeshift-controller", "routeshift-system"),
                                   ("shop", "rs-routeshift-controller", "routeshift-system")}
    cluster_role = next(d for d in rendered if d["kind"] == "ClusterRole" and
                        d["metadata"]["name"] == "rs-routeshift-controller")
    assert not any("secrets" in rule["resources"] for rule in cluster_role["rules"])


def test_the_schema_refuses_an_unknown_event(tmp_path):
    values = {"clusterProviders": [{"name": "releases", "events": ["promotion"]}]}
    result = _helm(tmp_path, {"notifications": values}, "lint", "--strict")
    assert result.returncode != 0
    assert "notifications" in result.stdout + result.stderr


def test_the_chart_lints_strictly_with_notifications(tmp_path):
    result = _helm(tmp_path, VALUES, "lint", "--strict")
    assert result.returncode == 0, result.stdout + result.stderr
