"""The demo, end to end: the whole routing stack promotes a healthy release and rolls back a faulty one.

Each test runs ``routeshift demo`` as a user would (a real API emulator process, the
controller, the gateway proxy in Kubernetes mode, two demo apps, Prometheus and live
load), with intervals shortened by ``--speed``, and checks the outcome the demo writes
to ``summary.json``: how the rollout ended, and the traffic split the load generator
actually observed through the proxy at every weight the controller set.
"""

import json
import math
import os
import signal
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SPEED = "2"


def run_demo(scenario: str, workdir) -> tuple[subprocess.CompletedProcess, dict]:
    result = subprocess.run(
        [sys.executable, "-m", "routeshift", "demo", "--scenario", scenario, "--speed", SPEED, "--plain",
         "--workdir", str(workdir)],
        capture_output=True, text=True, timeout=220,
    )
    summary_path = workdir / "summary.json"
    assert summary_path.exists(), f"no summary; demo output:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result, json.loads(summary_path.read_text())


def assert_split_matches(observed: dict[str, int], version: str, weight: int) -> None:
    total = sum(observed.values())
    share = observed.get(version, 0) / total
    expected = weight / 100
    # 4 standard deviations of a binomial share, and never tighter than 3 points.
    tolerance = max(0.03, 4 * math.sqrt(expected * (1 - expected) / total))
    assert abs(share - expected) <= tolerance, f"{version} got {share:.3f} of {total} at weight {weight}"


def test_healthy_release_is_promoted_through_every_step(tmp_path):
    result, summary = run_demo("healthy", tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert summary["passed"] is True
    [release] = summary["releases"]
    assert release["outcome"] == "promoted"
    assert release["finalStatus"]["phase"] == "Succeeded"
    assert release["finalStatus"]["weights"] == {"stable": 0, "canary": 100}
    observed = release["observedByWeight"]
    assert [int(weight) for weight in observed] == [5, 10, 20, 50], observed
    for weight, counts in observed.items():
        assert_split_matches(counts, "v2", int(weight))
    assert result.stdout.rstrip().splitlines()[-1].startswith("demo healthy: PASSED")


def test_faulty_release_is_rolled_back_with_the_failing_metric_named(tmp_path):
    result, summary = run_demo("errors", tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    [release] = summary["releases"]
    assert release["outcome"] == "rolled back"
    status = release["finalStatus"]
    assert status["phase"] == "Failed"
    assert status["weights"] == {"stable": 100, "canary": 0}
    # The decision that started the rollback carries the failed verdict; holds while the
    # gateway accepts the restored weights may be logged after it.
    rollback = next(d for d in reversed(status["decisions"])
                    if d["phase"] == "RollingBack" and d.get("verdict") == "Failed")
    assert "request-success-rate" in rollback["reason"]
    failed = [m for m in rollback["metrics"] if m["verdict"] == "Failed"]
    assert [m["metric"] for m in failed] == ["request-success-rate"]
    assert failed[0]["value"] < 99
    for weight, counts in release["observedByWeight"].items():
        assert_split_matches(counts, "v2", int(weight))


def test_ctrl_c_stops_every_process_the_demo_started(tmp_path):
    demo = subprocess.Popen(
        [sys.executable, "-m", "routeshift", "demo", "--scenario", "healthy", "--plain", "--keep-running",
         "--workdir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        for line in demo.stdout:  # bounded by the test timeout
            if line.startswith("load "):
                break
        pids = json.loads((tmp_path / "processes.json").read_text())
        assert {"api-server", "gateway-proxy", "controller", "prometheus"} <= set(pids)
        demo.send_signal(signal.SIGINT)
        output, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 130
    assert "stopping every process it started" in output
    for name, pid in pids.items():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_default_scenario_set_image_promotes_v2_and_rolls_back_v3_on_pod_processes(tmp_path):
    """Workload form end to end: `kubectl set image` on one Deployment, Pods as local processes
    behind EndpointSlices, the proxy in Kubernetes mode carrying the observed split."""
    result, summary = run_demo("default", tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    v2, v3 = summary["releases"]
    assert (v2["outcome"], v3["outcome"]) == ("promoted", "rolled back")
    observed = v2["observedByWeight"]
    # The canary carries 100 % while the primary's Pods roll to v2 (a promotion takes that
    # long in workload form), so a window at 100 may be observed too: all v2. Before the first
    # step the new revision's Pods start at weight 0, and a window may fall wholly inside that
    # wait: all v1 (checked below with the others).
    weights = [int(weight) for weight in observed]
    assert weights in ([5, 10, 20, 50], [5, 10, 20, 50, 100], [0, 5, 10, 20, 50], [0, 5, 10, 20, 50, 100]), observed
    for weight, counts in observed.items():
        # Replies name the version of the Pod process that answered them.
        assert set(counts) <= {"v1", "v2"}
        assert_split_matches(counts, "v2", int(weight))
    promoted = v2["finalStatus"]
    assert promoted["workload"]["images"] == {"app": "ghcr.io/routeshift/demo-app:v2"}
    assert promoted["weights"] == {"stable": 100, "canary": 0}, "the new primary carries everything"
    failed = v3["finalStatus"]
    assert failed["phase"] == "Failed"
    assert failed["workload"]["failed"]["images"] == {"app": "ghcr.io/routeshift/demo-app:v3"}
    assert "request-success-rate" in failed["workload"]["failed"]["reason"]
    assert failed["workload"]["images"] == {"app": "ghcr.io/routeshift/demo-app:v2"}, "the primary still runs v2"
    for weight, counts in v3["observedByWeight"].items():
        assert set(counts) <= {"v2", "v3"}
        assert_split_matches(counts, "v3", int(weight))
    lines = result.stdout.splitlines()
    assert any("rolled back: revision" in line for line in lines), "the view names the failed revision"


def test_grpc_scenario_promotes_v2_and_rolls_back_v3_judged_on_grpc_status(tmp_path):
    """A gRPC app behind a GRPCRoute: calls go through the proxy over HTTP/2 (h2c to the Pods),
    every one ends with HTTP 200, and grpc-success-rate catches the release that ends 5% of its
    calls with UNAVAILABLE."""
    result, summary = run_demo("grpc", tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    v2, v3 = summary["releases"]
    assert (v2["outcome"], v3["outcome"]) == ("promoted", "rolled back")
    observed = v2["observedByWeight"]
    # The scenario's steps are 10 and 50; as in the default scenario a window may also fall
    # wholly inside the wait for the new Pods (0) or the primary's roll to v2 (100).
    assert {10, 50} <= {int(weight) for weight in observed} <= {0, 10, 50, 100}, observed
    for weight, counts in observed.items():
        assert set(counts) <= {"v1", "v2"}, "answers name the release of the Pod that served the call"
        assert_split_matches(counts, "v2", int(weight))
    promoted = v2["finalStatus"]
    assert promoted["workload"]["images"] == {"app": "ghcr.io/routeshift/demo-grpc-app:v2"}
    failed = v3["finalStatus"]
    assert (failed["phase"], failed["weights"]) == ("Failed", {"stable": 100, "canary": 0})
    assert failed["workload"]["failed"]["images"] == {"app": "ghcr.io/routeshift/demo-grpc-app:v3"}
    assert failed["workload"]["images"] == {"app": "ghcr.io/routeshift/demo-grpc-app:v2"}, "the primary still runs v2"
    rollback = next(d for d in reversed(failed["decisions"])
                    if d["phase"] == "RollingBack" and d.get("verdict") == "Failed")
    assert "grpc-success-rate" in rollback["reason"]
    failing = [m for m in rollback["metrics"] if m["verdict"] == "Failed"]
    assert [m["metric"] for m in failing] == ["grpc-success-rate"]
    assert failing[0]["value"] < 99
    assert any(int(weight) > 0 for weight in v3["observedByWeight"]), v3["observedByWeight"]
    for weight, counts in v3["observedByWeight"].items():
        assert set(counts) <= {"v2", "v3"}
        assert_split_matches(counts, "v3", int(weight))
    assert any(line.startswith("[v3]") and "% failed |" in line for line in result.stdout.splitlines()), \
        "the view counts failed gRPC calls (they are HTTP 200: no 5xx)"
