"""``python -m gateway_proxy --data-plane c --workers 2``: workers share the port, metrics add up.

Each worker process runs its own C loop on its own SO_REUSEPORT socket; the admin process
aggregates their counters through prometheus_client's multiprocess files, which the workers fill
from their C counters once a second. Started as a real process on free ports, stopped by PID.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
import yaml

from gw_harness import backend, free_port, gateway, route, rule, service
from routeshift.testing.polling import until
from test_loop_parity import RawBackend, compiled_build, exchange


@pytest.fixture
def proxy_process(tmp_path):
    compiled_build()
    if os.environ.get("ROUTESHIFT_NO_EXTENSIONS") == "1":
        pytest.skip("the proxy process honours ROUTESHIFT_NO_EXTENSIONS=1: it starts no C data plane")
    server = RawBackend("a")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump_all(
        [gateway(), *service("a", server.port), route("r", [rule([backend("a")])])]))
    port, admin = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway_proxy", "--config-dir", str(tmp_path), "--listen", f"127.0.0.1:{port}",
         "--admin", f"127.0.0.1:{admin}", "--workers", "2", "--data-plane", "c"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        yield port, admin
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
        try:
            output = process.communicate(timeout=15)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            output = process.communicate(timeout=5)[0].decode(errors="replace")
        server.stop()
        assert output.count("C data plane serving") == 2, output


def admin_get(admin: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_two_workers_serve_and_their_counts_reach_metrics(proxy_process):
    port, admin = proxy_process
    until(lambda: admin_get(admin, "/ready")[0] == 200, 30, ignore=(OSError,), description="proxy ready")
    # /ready is the admin process's; the workers bind the data port on their own schedule.
    warm = b"GET /warm HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"
    until(lambda: exchange(port, warm, half_close=False).startswith(b"HTTP/1.1 200 OK\r\n"), 30,
          ignore=(OSError,), description="a worker serving")
    for number in range(19):
        reply = exchange(port, b"GET /n/%d HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n" % number,
                         half_close=False)
        assert reply.startswith(b"HTTP/1.1 200 OK\r\n"), reply[:100]
    pattern = re.compile(rb'routeshift_gateway_requests_total\{backend="a",backend_namespace="default",code="200",'
                         rb'namespace="default",route="r"\} (\S+)')

    def counted():
        found = pattern.search(admin_get(admin, "/metrics")[1])
        return found is not None and float(found.group(1)) == 20

    until(counted, 10, description="20 requests counted across both workers")
