"""The demo gRPC app answers as its release, fails a share of calls with UNAVAILABLE on command,
and the gRPC load generator counts what it answered; the kubelet runs it for its image."""

import json
import sys

import grpc
import pytest

from routeshift.demo import grpc_app, grpc_load, manifests
from routeshift.emulator.workloads import images
from routeshift.testing import processes
from routeshift.testing.polling import until, until_async


def start_app(tmp_path, *options: str) -> tuple[str, object]:
    port = processes.free_port()
    process = processes.start(
        [sys.executable, "-m", "routeshift.demo.grpc_app", "--port", str(port), "--seed", "7", *options],
        log_path=tmp_path / "grpc-app.log")
    return f"127.0.0.1:{port}", process


def call(target: str) -> tuple[grpc.StatusCode, dict, dict]:
    """(status, answer, trailing metadata) of one call, as any gRPC client makes it."""
    with grpc.insecure_channel(target) as channel:
        method = channel.unary_unary(grpc_app.PATH)
        try:
            answer, outcome = method.with_call(b"hello", timeout=5)
            return grpc.StatusCode.OK, json.loads(answer), dict(outcome.trailing_metadata())
        except grpc.RpcError as error:
            return error.code(), {}, dict(error.trailing_metadata())


@pytest.fixture
def grpc_app_process(tmp_path):
    started = []

    def start(*options: str) -> str:
        target, process = start_app(tmp_path, *options)
        started.append(process)
        until(lambda: grpc_app.VERSION_KEY in call(target)[2], timeout=15, description="the gRPC app answers")
        return target

    yield start
    for process in started:
        processes.stop(process)


def test_a_healthy_release_answers_every_call_and_names_itself(grpc_app_process):
    target = grpc_app_process("--version", "v2")
    outcomes = [call(target) for _ in range(20)]
    assert {status for status, _, _ in outcomes} == {grpc.StatusCode.OK}
    _, answer, trailers = outcomes[0]
    assert answer == {"version": "v2", "request": "hello"}
    assert trailers[grpc_app.VERSION_KEY] == "v2"


async def test_a_faulty_release_fails_its_share_with_unavailable_and_the_load_counts_it(grpc_app_process):
    target = grpc_app_process("--version", "v3", "--error-rate", "0.3")
    load = grpc_load.GrpcLoadGenerator(target, authority="grpc.demo.example", rate=200)
    load.start()
    await until_async(lambda: load.tally.total >= 300, timeout=30)
    await load.stop()
    window = load.tally.take()
    assert set(window.by_status) == {"OK", "UNAVAILABLE"}
    assert window.by_version["v3"] == window.total, "failed calls name their release too"
    failed = sum(count for status, count in window.by_status.items() if load.failed(status))
    assert 0.15 < failed / window.total < 0.45  # binomial(>=300, 0.3): far outside 5 sigma otherwise


@pytest.mark.parametrize("target", ["10.0.0.1:50051", "localhost:50051", "127.0.0.1"], ids=str)
def test_the_load_goes_to_a_loopback_address_only(target):
    with pytest.raises(ValueError, match="loopback"):
        grpc_load.GrpcLoadGenerator(target, authority="x", rate=10)


def test_the_kubelet_runs_the_grpc_app_for_its_image_with_the_tag_faults():
    entries = images.catalogue({manifests.app_image("v3", manifests.GRPC_APP): {"error_rate": 0.05}})
    container = manifests.deployment("v3", app=manifests.GRPC_APP)["spec"]["template"]["spec"]["containers"][0]
    reference = container["image"]
    launch = images.launch(images.lookup(entries, reference), reference, container, "127.0.0.9", {}, python="py")
    assert launch.argv == ("py", "-m", "routeshift.demo.grpc_app", "--host", "127.0.0.9", "--port", "50051",
                           "--version", "v3", "--error-rate", "0.05")
    assert launch.port == 50051
