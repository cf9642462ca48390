"""The plugin finds the cluster as kubectl does: KUBECONFIG, --kubeconfig, --context and its namespace.

kubectl passes a plugin no global flags, only its environment, so these are the plugin's
own flags, accepted before or after the subcommand; failures name the cause.
"""

import json

import yaml

from plugin_world import canary_manifest
from routeshift.testing import processes

CANARIES = "routeshift.dev/v1alpha1/canaries"


def _two_contexts(kubeconfig_path, url):
    config = yaml.safe_load(kubeconfig_path.read_text())
    config["contexts"].append({"name": "prod-ctx", "context": {"cluster": config["clusters"][0]["name"],
                                                               "user": config["users"][0]["name"],
                                                               "namespace": "prod"}})
    kubeconfig_path.write_text(yaml.safe_dump(config))


def test_context_namespace_and_flags_before_the_subcommand(world, kubeconfig):
    world.api.create("v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}})
    checkout = canary_manifest("checkout")
    checkout["metadata"]["namespace"] = "prod"
    world.api.create(CANARIES, checkout, "prod")
    _two_contexts(kubeconfig, world.api.url)

    in_context = world.plugin("list", "--context", "prod-ctx", "-o", "json")
    assert [o["metadata"]["name"] for o in json.loads(in_context.stdout)["items"]] == ["checkout"], in_context.stderr

    flag_first = world.plugin("-n", "prod", "get", "checkout", "-o", "json")
    assert json.loads(flag_first.stdout)["metadata"]["namespace"] == "prod", flag_first.stderr


def test_explicit_kubeconfig_wins_over_the_environment(world, kubeconfig, tmp_path):
    env_kubeconfig = tmp_path / "elsewhere"
    env_kubeconfig.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "clusters": [], "contexts": [],
                                              "users": [], "current-context": ""}))
    kubectl = type(world.kubectl)(env_kubeconfig, cache_dir=world.kubectl.cache_dir)
    result = kubectl("canary", "get", "web", "--kubeconfig", str(kubeconfig), "-o", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["metadata"]["name"] == "web"


def test_missing_crd_and_unreachable_server_are_named(k8s_api, kubectl, tmp_path):
    no_crd = kubectl("canary", "list")
    assert no_crd.returncode == 1
    assert "is the Routeshift CRD installed?" in no_crd.stderr

    port = processes.free_port()
    dead = tmp_path / "dead"
    config = yaml.safe_load(kubectl.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{port}"
    dead.write_text(yaml.safe_dump(config))
    unreachable = kubectl("canary", "status", "web", "--kubeconfig", str(dead))
    assert unreachable.returncode == 1
    assert f"error: cannot reach the cluster at http://127.0.0.1:{port}" in unreachable.stderr
