"""``routeshift.emulator.standalone.run`` as a process: kubeconfig for kubectl, clean SIGTERM exit."""

import signal
import sys

import yaml

from routeshift.testing import processes
from routeshift.testing.kube import Kubectl
from routeshift.testing.polling import until


def test_standalone_server_writes_a_kubeconfig_and_exits_on_sigterm(tmp_path):
    port = processes.free_port()
    kubeconfig = tmp_path / "kubeconfig"
    code = ("import pathlib; from routeshift.emulator import standalone; "
            f"standalone.run({port}, pathlib.Path({str(kubeconfig)!r}))")
    server = processes.start([sys.executable, "-c", code], log_path=tmp_path / "server.log")
    try:
        until(kubeconfig.exists, timeout=15, description="the kubeconfig is written")
        config = yaml.safe_load(kubeconfig.read_text())
        assert config["clusters"][0]["cluster"]["server"] == f"http://127.0.0.1:{port}"
        assert config["current-context"] == config["contexts"][0]["name"]

        kubectl = Kubectl(kubeconfig, cache_dir=tmp_path / "cache")
        result = kubectl("get", "namespaces", "-o", "name")
        assert result.returncode == 0, result.stderr
        assert "namespace/default" in result.stdout.split()

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0
    finally:
        processes.stop(server)
    assert "serving on http://127.0.0.1:" in (tmp_path / "server.log").read_text()
