"""The kubelet's image catalogue (``workloads.images``) and the one-node scheduler's fit (``workloads.scheduling``)."""

import sys

import pytest

from routeshift.emulator.workloads import images, runtime, scheduling

CATALOGUE = images.catalogue({"ghcr.io/routeshift/demo-app:v3": {"error_rate": 0.05},
                              "ghcr.io/routeshift/demo-app:slow": images.Image(latency_ms=200)})
CONTAINER = {"name": "app", "ports": [{"name": "http", "containerPort": 9898}]}


@pytest.mark.parametrize(("reference", "env", "argv_tail"), [
    pytest.param("ghcr.io/routeshift/demo-app:v1", {}, ["--port", "9898", "--version", "v1"], id="demo-app"),
    pytest.param("ghcr.io/routeshift/demo-app:v3", {}, ["--version", "v3", "--error-rate", "0.05"],
                 id="catalogue-fault"),
    pytest.param("ghcr.io/routeshift/demo-app:v3", {"ERROR_RATE": "0.5", "LATENCY_MS": "20"},
                 ["--version", "v3", "--error-rate", "0.5", "--latency-ms", "20.0"], id="env-overrides"),
    pytest.param("ghcr.io/routeshift/demo-app:slow", {}, ["--version", "slow", "--latency-ms", "200"],
                 id="latency"),
    pytest.param("ghcr.io/routeshift/demo-app", {}, ["--version", "latest"], id="untagged-is-latest"),
])
def test_demo_app_launch(reference, env, argv_tail):
    image = images.lookup(CATALOGUE, reference)
    launch = images.launch(image, reference, CONTAINER, "127.7.0.1", env)
    argv = list(launch.argv)
    assert argv[:3] == [sys.executable, "-m", "routeshift.demo.app"]
    assert argv[3:5] == ["--host", "127.7.0.1"]
    tail = argv[argv.index(argv_tail[0]):]
    assert tail == argv_tail
    assert launch.port == 9898


def test_the_other_images_and_unknown_ones():
    crash = images.launch(images.lookup(CATALOGUE, f"{images.CRASH}:v1"), f"{images.CRASH}:v1", CONTAINER, "h", {})
    assert crash.argv[:2] == (sys.executable, "-c") and "exit(1)" in crash.argv[2]
    marker = images.launch(images.lookup(CATALOGUE, f"{images.NO_PROCESS}:x"), f"{images.NO_PROCESS}:x",
                           CONTAINER, "h", {})
    assert marker.argv is None
    assert images.lookup(CATALOGUE, "docker.io/library/nginx:1.27") is None
    message = images.unknown_message(CATALOGUE, "nginx:1.27")
    assert '"nginx:1.27"' in message and "ghcr.io/routeshift/demo-app:<tag>" in message
    assert "ghcr.io/routeshift/demo-app:v3" in message


@pytest.mark.parametrize(("reference", "split"), [
    ("ghcr.io/a/b:v1", ("ghcr.io/a/b", "v1")),
    ("localhost:5000/a:v2", ("localhost:5000/a", "v2")),
    ("localhost:5000/a", ("localhost:5000/a", "latest")),
    ("a@sha256:abc", ("a", "sha256:abc")),
])
def test_image_reference_split(reference, split):
    assert images.split(reference) == split


@pytest.mark.parametrize(("restarts", "delay"), [(0, 0.0), (1, 10.0), (2, 20.0), (3, 40.0), (6, 300.0), (9, 300.0)])
def test_restart_back_off_doubles_to_its_cap(restarts, delay):
    assert runtime.restart_delay(restarts, 10.0, 300.0) == delay


NODE = {"metadata": {"labels": {"kubernetes.io/hostname": "n", "disk": "ssd"}},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi"}}}


def pod(**spec):
    return {"spec": {"containers": [{"name": "a", **spec.pop("container", {})}], **spec}}


@pytest.mark.parametrize(("candidate", "message"), [
    pytest.param(pod(), None, id="fits"),
    pytest.param(pod(nodeSelector={"disk": "ssd"}), None, id="selector-matches"),
    pytest.param(pod(nodeSelector={"disk": "hdd"}),
                 "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
                 "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.", id="selector"),
    pytest.param(pod(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}]}}}),
        "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.", id="affinity"),
    pytest.param(pod(container={"resources": {"requests": {"cpu": "4000m", "memory": "1Gi"}}}), None, id="requests-fit"),
    pytest.param(pod(container={"resources": {"requests": {"cpu": "5", "memory": "9Gi"}}}),
                 "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. "
                 "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
                 id="too-big"),
])
def test_scheduling_fit(candidate, message):
    assert scheduling.unschedulable(candidate, NODE) == message


@pytest.mark.parametrize(("text", "value"), [("100m", 0.1), ("2", 2.0), ("1.5", 1.5), ("128Mi", 128 * 2 ** 20),
                                             ("1G", 1e9), ("3Ki", 3072)])
def test_quantities(text, value):
    assert scheduling.quantity(text) == pytest.approx(value)
