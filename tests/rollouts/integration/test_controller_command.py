"""``routeshift controller`` as a real process: kubeconfig login, /metrics, a rollout to success."""

from __future__ import annotations

import sys
import urllib.request

from operator_harness import CANARIES, ROUTES, AcceptingGateway, canary, phase
from routeshift.testing import processes
from routeshift.testing.polling import until


def test_the_controller_process_drives_a_canary_and_serves_metrics(cluster, kubeconfig, tmp_path):
    port = processes.free_port()
    argv = [sys.executable, "-m", "routeshift", "controller", "--kubeconfig", str(kubeconfig),
            "--metrics-address", f"127.0.0.1:{port}", "--poll-interval", "0.1"]
    with AcceptingGateway(cluster, "default", "web", stable="web-v1", canary="web-v2") as gateway:
        child = processes.start(argv, log_path=tmp_path / "controller.log")
        try:
            # No metrics in the analysis: each step dwells one interval, no Prometheus needed.
            cluster.create(CANARIES, canary(analysis={"interval": "100ms"},
                                            strategy={"progressive": {"steps": [25, 100]}}), "default")
            until(lambda: phase(cluster) == "Succeeded", timeout=30,
                  description=f"rollout by the controller process (log: {tmp_path / 'controller.log'})")
            assert gateway.seen == [(100, 0), (75, 25), (0, 100)]
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            assert 'routeshift_rollouts_total{name="web",namespace="default",result="succeeded"} 1.0' in text
        finally:
            processes.stop(child)
    assert cluster.get(ROUTES, "default", "web")["spec"]["rules"][1]["backendRefs"] == [{"name": "cdn", "port": 80}]


PEERINGS = "kopf.dev/v1/clusterkopfpeerings"


def peering(cluster):
    """Create the ClusterKopfPeering replicas meet in; return a reader of its peers (id -> info)."""
    cluster.create(PEERINGS, {"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering",
                              "metadata": {"name": "routeshift"}})
    return lambda: (cluster.get(PEERINGS, None, "routeshift") or {}).get("status") or {}


def start_replica(kubeconfig, log, *extra: str):
    """A ``routeshift controller`` process in the "routeshift" peering, logging at DEBUG to ``log``."""
    argv = [sys.executable, "-m", "routeshift", "--log-level", "DEBUG", "controller", "--kubeconfig",
            str(kubeconfig), "--metrics-address", f"127.0.0.1:{processes.free_port()}", "--poll-interval", "0.1",
            "--peering", "routeshift", *extra]
    return processes.start(argv, log_path=log)


def roll_out_one_step(cluster, description: str) -> None:
    """A Canary with one 50 % step, driven to Succeeded by whichever replica works."""
    with AcceptingGateway(cluster, "default", "web", stable="web-v1", canary="web-v2") as gateway:
        cluster.create(CANARIES, canary(analysis={"interval": "100ms"},
                                        strategy={"progressive": {"steps": [50]}}), "default")
        until(lambda: phase(cluster) == "Succeeded", timeout=30, description=description)
        assert gateway.seen == [(100, 0), (50, 50), (0, 100)]


def test_two_replicas_with_peering_let_only_the_higher_priority_one_act(cluster, kubeconfig, tmp_path):
    peers = peering(cluster)

    def replica(priority: int):
        log = tmp_path / f"controller-{priority}.log"
        return start_replica(kubeconfig, log, "--priority", str(priority)), log

    leader, _ = replica(20)
    try:
        until(lambda: len(peers()) == 1, timeout=20, description="the leader registered as a peer")
        standby, standby_log = replica(10)
        try:
            # The standby registers itself and keeps its Canary watch paused behind the leader.
            until(lambda: len(peers()) == 2, timeout=20, description="the standby registered as a peer")
            until(lambda: "Pausing the watch-stream for canaries" in standby_log.read_text(), timeout=20,
                  description="the standby paused its Canary watch")
            roll_out_one_step(cluster, "the leader rolled out")
            assert "route default/web patched" not in standby_log.read_text()
        finally:
            processes.stop(standby)
    finally:
        processes.stop(leader)


def test_replicas_started_alike_draw_distinct_priorities_and_one_acts(cluster, kubeconfig, tmp_path):
    """What the Helm chart runs for ``controller.replicas > 1``: identical command lines with
    ``--peering`` and no ``--priority``. They must not tie (kopf would freeze them all)."""
    peers = peering(cluster)
    logs = [tmp_path / f"replica-{n}.log" for n in range(2)]

    def replica(n: int):
        return start_replica(kubeconfig, logs[n])

    def working(n: int) -> bool:
        """The replica's Canary watch was last resumed, not paused (kopf starts it paused)."""
        text = logs[n].read_text()
        return text.rfind("Resuming the watch-stream for canaries") > text.rfind("Pausing the watch-stream for canaries")

    children = [replica(0)]
    try:
        (first,) = until(peers, timeout=30, description="the first replica registered as a peer")
        children.append(replica(1))
        until(lambda: len(peers()) == 2, timeout=30, description="both replicas registered as peers")
        priority = [peers()[first]["priority"], next(p["priority"] for i, p in peers().items() if i != first)]
        assert len(set(priority)) == 2 and min(priority) >= 1, priority
        leader = priority.index(max(priority))
        until(lambda: working(leader) and not working(1 - leader), timeout=20,
              description="the higher priority replica works, the other stands by")
        roll_out_one_step(cluster, "one replica rolled out")
        acted = ["route default/web patched" in log.read_text() for log in logs]
        assert acted == [n == leader for n in range(2)], acted
        assert not any("same priority:" in log.read_text() for log in logs), "no replica saw a tie"
    finally:
        for child in children:
            processes.stop(child)
