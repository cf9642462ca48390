"""Several controller replicas are safe: they peer, and no two share a peering priority.

kopf lets the operator with the highest peering priority work and pauses the others, but
it freezes *every* operator that shares the highest priority. A Deployment gives all its
pods one command line, so a fixed ``--priority`` there would stand every replica still.
The chart therefore passes ``--peering`` without ``--priority``, and the controller draws a
random priority per process (``rollouts.operator.main``). This renders the chart with the
real helm and runs the rendered command line through the real CLI, once per replica.
"""

import pytest

from rollouts import operator
from routeshift import cli

PEERING = "rs-routeshift-controller"


def _controller(documents) -> tuple[dict, list[str]]:
    (deployment,) = [doc for doc in documents
                     if doc["kind"] == "Deployment" and doc["metadata"]["name"] == PEERING]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return deployment, container["command"] + container["args"]


@pytest.mark.parametrize("replicas", [2, 3, 5])
def test_replicas_peer_without_a_fixed_equal_priority(render, monkeypatch, replicas):
    documents = render({"controller": {"replicas": replicas}})
    deployment, command_line = _controller(documents)
    assert deployment["spec"]["replicas"] == replicas
    assert command_line[command_line.index("--peering") + 1] == PEERING
    assert not any(arg == "--priority" or arg.startswith("--priority=") for arg in command_line)
    # Every pod runs the same command line: the real CLI gives each process its own priority.
    runs = []
    monkeypatch.setattr(operator, "run", lambda **kwargs: runs.append(kwargs))
    for _ in range(replicas):
        assert cli.main(command_line[1:]) == 0
    assert {run["peering"] for run in runs} == {PEERING}
    priorities = [run["priority"] for run in runs]
    assert len(set(priorities)) == replicas, f"replicas would tie: {priorities}"
    # The peering object exists (kopf does not create it) and the controller may use it.
    assert PEERING in {doc["metadata"]["name"] for doc in documents if doc["kind"] == "ClusterKopfPeering"}
    (role,) = [doc for doc in documents if doc["kind"] == "ClusterRole" and doc["metadata"]["name"] == PEERING]
    peering_rules = [rule for rule in role["rules"] if rule["apiGroups"] == ["kopf.dev"]]
    assert peering_rules == [{"apiGroups": ["kopf.dev"], "resources": ["clusterkopfpeerings"],
                              "verbs": ["get", "list", "watch", "patch"]}]


def test_replicas_keep_a_standby_through_disruptions_and_updates(render):
    documents = render({"controller": {"replicas": 3}})
    deployment, _ = _controller(documents)
    (budget,) = [doc for doc in documents if doc["kind"] == "PodDisruptionBudget"]
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"].items() <= (
        deployment["spec"]["template"]["metadata"]["labels"].items())
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    single = render({})
    assert not [doc for doc in single if doc["kind"] == "PodDisruptionBudget"]


def test_one_replica_may_keep_a_fixed_priority(render):
    _, command_line = _controller(render({"controller": {"leaderElection": {"priority": 100}}}))
    assert command_line[command_line.index("--priority") + 1] == "100"


def test_watched_namespaces_peer_through_a_kopf_peering_in_each(render):
    documents = render({"controller": {"replicas": 2, "watchNamespaces": ["shop", "payments"]}})
    _, command_line = _controller(documents)
    assert [command_line[i + 1] for i, arg in enumerate(command_line) if arg == "--namespace"] == ["shop", "payments"]
    peerings = {(doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"])
                for doc in documents if doc["kind"] in {"KopfPeering", "ClusterKopfPeering"}}
    assert peerings == {("KopfPeering", "shop", PEERING), ("KopfPeering", "payments", PEERING)}
    (role,) = [doc for doc in documents if doc["kind"] == "ClusterRole" and doc["metadata"]["name"] == PEERING]
    assert {"apiGroups": ["kopf.dev"], "resources": ["kopfpeerings"],
            "verbs": ["get", "list", "watch", "patch"]} in role["rules"]


@pytest.mark.parametrize(("extra_args", "complaint"), [
    pytest.param(["--priority", "7"], "no --priority with controller.replicas > 1", id="priority"),
    pytest.param(["--namespace", "shop"], "use controller.watchNamespaces", id="namespace"),
])
def test_extra_args_cannot_undo_the_peering_setup(helm_run, extra_args, complaint):
    from routeshift.testing.helm import REPO_ROOT

    result = helm_run("template", "rs", REPO_ROOT / "charts" / "routeshift",
                      values={"controller": {"replicas": 2, "extraArgs": extra_args}})
    assert result.returncode != 0
    assert complaint in result.stderr
