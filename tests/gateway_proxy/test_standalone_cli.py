"""The standalone mode contract: `python -m gateway_proxy --config-dir --listen --admin` as a process.

Started as a real process on free ports, polled until ready, driven through files, stopped by
PID. Covers readiness, hot reload within 1 s, a bad file keeping the last good config, the
admin endpoints and the contract metrics, and --workers sharing the port.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import yaml

from gw_harness import backend, free_port, gateway, route, rule, service
from routeshift.testing.polling import until


class ProxyProcess:
    def __init__(self, config_dir, workers=1):
        self.port, self.admin = free_port(), free_port()
        env = dict(os.environ)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway_proxy", "--config-dir", str(config_dir), "--listen",
             f"127.0.0.1:{self.port}", "--admin", f"127.0.0.1:{self.admin}", "--workers", str(workers)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)

    def admin_get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}{path}", timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def get(self, path="/", host="example.com"):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers={"Host": host})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, None

    def stop(self):
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
        try:
            code = self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            code = self.process.wait(5)
        self.output = self.process.stdout.read().decode(errors="replace")
        return code


def write(directory, name, documents):
    tmp = directory / (name + ".tmp")
    tmp.write_text(documents if isinstance(documents, str) else yaml.safe_dump_all(documents))
    os.replace(tmp, directory / name)


@pytest.fixture
def config_dir(tmp_path):
    directory = tmp_path / "config"
    directory.mkdir()
    return directory


def weighted(v1_weight, v2_weight):
    return [route("app", [rule([backend("v1", v1_weight), backend("v2", v2_weight)])])]


def test_standalone_mode_contract(config_dir, echo_factory):
    v1, v2 = echo_factory("v1"), echo_factory("v2")
    proxy = ProxyProcess(config_dir)
    try:
        until(lambda: proxy.admin_get("/ready")[0] == 503, 15, ignore=(OSError,), description="admin up, not ready")
        write(config_dir, "infra.yaml", [gateway(), *service("v1", v1.port), *service("v2", v2.port)])
        write(config_dir, "routes.yml", weighted(1, 0))
        until(lambda: proxy.admin_get("/ready")[0] == 200, 5, description="ready once a config is loaded")
        # The two files may be picked up in two reloads: wait for the route, not just readiness.
        until(lambda: (proxy.get()[1] or {}).get("backend") == "v1", 5, description="routes.yml serving")

        # A weight change in a file is serving within a second.
        changed = time.monotonic()
        write(config_dir, "routes.yml", weighted(0, 1))
        until(lambda: (proxy.get()[1] or {}).get("backend") == "v2", 1.0, interval=0.01,
              description="new weights serving")
        assert time.monotonic() - changed < 1.0

        # An invalid file is reported and the last good config keeps serving.
        write(config_dir, "routes.yml", "kind: HTTPRoute\nmetadata: {name: app}\nspec: {rules: [{timeouts: {request: x}}]}\n")
        until(lambda: b"routes.yml" in proxy.admin_get("/config")[1], 5, description="error on /config")
        assert proxy.admin_get("/ready")[0] == 200
        assert all(proxy.get()[1]["backend"] == "v2" for _ in range(5))

        status, body = proxy.admin_get("/config")
        table = json.loads(body)
        assert status == 200 and "routes.yml" in json.dumps(table["errors"])
        assert table["table"]["routes"]["default/app"]["rules"]["0"]["backends"][1]["weight"] == 1

        status, metrics = proxy.admin_get("/metrics")
        text = metrics.decode()
        assert status == 200
        assert ('routeshift_gateway_requests_total{backend="v2",backend_namespace="default",code="200",'
                'namespace="default",route="app"}') in text
        assert 'routeshift_gateway_request_duration_seconds_bucket{backend="v1",backend_namespace="default"' in text
    finally:
        code = proxy.stop()
    assert code == 0, proxy.output
    assert "routes.yml" in proxy.output  # the invalid file was logged


def test_workers_share_the_port_and_metrics_add_up(config_dir, echo_factory):
    v1 = echo_factory("v1")
    write(config_dir, "all.yaml", [gateway(), *service("v1", v1.port), route("app", [rule([backend("v1")])])])
    proxy = ProxyProcess(config_dir, workers=2)
    try:
        until(lambda: proxy.admin_get("/ready")[0] == 200, 15, ignore=(OSError,), description="ready")
        until(lambda: proxy.get()[0] == 200, 10, ignore=(OSError,), description="workers serving")
        for _ in range(40):
            assert proxy.get()[1]["backend"] == "v1"

        def served():
            text = proxy.admin_get("/metrics")[1].decode()
            for line in text.splitlines():
                if line.startswith("routeshift_gateway_requests_total{") and 'code="200"' in line:
                    return float(line.rsplit(" ", 1)[1])
            return 0.0

        until(lambda: served() >= 41, 5, description="metrics of both workers aggregated")
    finally:
        code = proxy.stop()
    assert code == 0, proxy.output
