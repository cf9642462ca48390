"""Shared plumbing of the proxy benchmarks: tools, nginx backends, the proxy process, wrk runs.

Everything binds 127.0.0.1 on free ports, runs as child processes stopped by PID, and lives in a
temporary directory. nginx serves the backends for every benchmark (a fixed small body), so the
proxy under test is the only Python in the request path.
"""

from __future__ import annotations

import base64
import math
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from routeshift.testing.polling import until  # noqa: E402


def ensure_tools() -> None:
    """Install nginx and wrk with apt-get when missing (Debian)."""
    missing = [tool for tool, path in (("nginx", "/usr/sbin/nginx"), ("wrk", None))
               if not (shutil.which(tool) or (path and os.path.exists(path)))]
    if not missing:
        return
    print(f"installing {' '.join(missing)} with apt-get", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run(sudo + ["apt-get", "update", "-q"], check=True)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-q", *missing], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 15.0) -> None:
    def connectable():
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    until(connectable, timeout, ignore=(OSError,), description=f"port {port} accepting")


class Process:
    """A child process stopped by its PID."""

    def __init__(self, argv: list[str], log_path: str, env: dict | None = None):
        self.log = open(log_path, "wb")
        self.popen = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def stop(self) -> None:
        if self.log.closed:
            return
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        self.log.close()


class Nginx(Process):
    """An nginx master with its own prefix directory; ``http_block`` is the body of http {}."""

    def __init__(self, workdir: str, name: str, http_block: str, workers: int = 1, worker_connections: int = 4096):
        prefix = os.path.join(workdir, name)
        os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
        config = os.path.join(prefix, "nginx.conf")
        user = "user root;\n" if os.geteuid() == 0 else ""
        with open(config, "w") as handle:
            handle.write(f"""{user}worker_processes {workers};
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections {worker_connections}; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  keepalive_requests 1000000;
{http_block}
}}
""")
        super().__init__([nginx_binary(), "-p", prefix, "-c", config], os.path.join(prefix, "stdout.log"))


def backends_block(ports: list[int]) -> str:
    """nginx servers answering 200 with a small body, one per port, each naming itself."""
    return "\n".join(f"  server {{ listen 127.0.0.1:{port}; location / {{ return 200 'backend-{port}\\n'; }} }}"
                     for port in ports)


def self_signed_certificate(workdir: str, hostname: str = "bench.example.com") -> tuple[str, str]:
    """(certificate path, key path) of a fresh self-signed RSA-2048 certificate for ``hostname``,
    made by the openssl command line in ``workdir``."""
    cert, key = os.path.join(workdir, "tls.crt"), os.path.join(workdir, "tls.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={hostname}", "-addext", f"subjectAltName=DNS:{hostname}",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def proxy_config(ports_and_weights: list[tuple[int, int]], extra_rules: int = 0, path: str = "/api",
                 certificate: tuple[str, str] | None = None) -> list[dict]:
    """Gateway API objects: one route with weighted backends (one Service each) plus filler rules.
    With ``certificate`` (PEM certificate and key paths) the Gateway also has an HTTPS listener
    terminating TLS with it, from a kubernetes.io/tls Secret, as a user configures one; the route
    attaches to both listeners."""
    listeners = [{"name": "http", "port": 80, "protocol": "HTTP"}]
    documents: list[dict] = [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": "bench"},
         "spec": {"gatewayClassName": "routeshift", "listeners": listeners}}]
    if certificate is not None:
        listeners.append({"name": "https", "port": 443, "protocol": "HTTPS",
                          "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": "bench-tls"}]}})
        data = {}
        for field, file_path in zip(("tls.crt", "tls.key"), certificate):
            with open(file_path, "rb") as handle:
                data[field] = base64.b64encode(handle.read()).decode()
        documents.append({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                          "metadata": {"name": "bench-tls", "namespace": "bench"}, "data": data})
    refs = []
    for index, (port, weight) in enumerate(ports_and_weights):
        name = f"backend-{index}"
        documents.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "bench"},
                          "spec": {"ports": [{"name": "http", "port": 80}]}})
        documents.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                          "metadata": {"name": f"{name}-1", "namespace": "bench",
                                       "labels": {"kubernetes.io/service-name": name}},
                          "addressType": "IPv4", "ports": [{"name": "http", "port": port}],
                          "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]})
        refs.append({"name": name, "port": 80, "weight": weight})
    documents.append(route_document("app", [{"matches": [{"path": {"type": "PathPrefix", "value": path}}],
                                             "backendRefs": refs}]))
    # Filler: distinct prefixes in their own routes, never matched by the benchmark path.
    per_route = 100
    for start in range(0, extra_rules, per_route):
        rules = [{"matches": [{"path": {"type": "PathPrefix", "value": f"/filler{start + i}/items"}}],
                  "backendRefs": [{"name": "backend-0", "port": 80}]}
                 for i in range(min(per_route, extra_rules - start))]
        documents.append(route_document(f"filler-{start}", rules))
    return documents


def route_document(name: str, rules: list[dict]) -> dict:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": "bench"},
            "spec": {"parentRefs": [{"name": "gw"}], "rules": rules}}


def write_config(directory: str, name: str, documents: list[dict]) -> None:
    path = os.path.join(directory, name)
    with open(path + ".tmp", "w") as handle:
        yaml.safe_dump_all(documents, handle, sort_keys=False)
    os.replace(path + ".tmp", path)


class GatewayProxy(Process):
    """``python -m gateway_proxy`` on free ports, ready when /ready answers 200."""

    def __init__(self, workdir: str, config_dir: str, workers: int = 1, log_level: str = "WARNING",
                 extra_args: tuple[str, ...] = (), tls: bool = False):
        self.port, self.admin = free_port(), free_port()
        # With ``tls``, HTTPS listeners are also served over TLS on ``tls_port`` (--listen-tls).
        self.tls_port = free_port() if tls else None
        tls_args = ("--listen-tls", f"127.0.0.1:{self.tls_port}") if tls else ()
        env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.log_path = os.path.join(workdir, f"proxy-{self.port}.log")
        super().__init__([sys.executable, "-m", "gateway_proxy", "--config-dir", config_dir,
                          "--listen", f"127.0.0.1:{self.port}", "--admin", f"127.0.0.1:{self.admin}",
                          "--workers", str(workers), "--log-level", log_level, *tls_args, *extra_args],
                         self.log_path, env=env)

    def log_lines(self, containing: str) -> list[str]:
        """The lines of the proxy's log so far that contain ``containing``."""
        with open(self.log_path, errors="replace") as handle:
            return [line.rstrip("\n") for line in handle if containing in line]

    def wait_ready(self, timeout: float = 30.0) -> None:
        def ready():
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/ready", timeout=1) as response:
                return response.status == 200
        until(ready, timeout, ignore=(OSError, urllib.error.HTTPError), description="proxy ready")


def tls_resumptions(port: int, attempts: int = 8, server_name: str = "bench.example.com") -> int:
    """Of ``attempts`` new connections to a TLS server on ``port``, each offering the session of
    a first one (as wrk offers its last session on every new connection), how many resumed it.
    A resumed handshake is cheaper (no signature), so both fronts of a comparison must agree on
    it; a front with several processes resumes only where they share their ticket keys."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE

    def connect(session):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=server_name, session=session) as tls:
                # A TLS 1.3 ticket arrives after the handshake: one answer read makes sure it did.
                tls.sendall(f"GET /api/resume HTTP/1.1\r\nHost: {server_name}\r\nConnection: close\r\n\r\n"
                            .encode())
                while tls.recv(65536):
                    pass
                return tls.session, tls.session_reused

    first, _ = connect(None)
    return sum(connect(first)[1] for _ in range(attempts))


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: dict | None = None   # wrk's "Socket errors": connect, read, write, timeout


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s)", text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def _header_args(headers: tuple[str, ...]) -> list[str]:
    return [arg for header in ("Host: bench.example.com", *headers) for arg in ("-H", header)]


def wrk(url: str, seconds: int, connections: int, threads: int = 1, headers: tuple[str, ...] = ()) -> WrkResult:
    """``headers`` are sent besides Host: ``Connection: close`` makes every request a new
    connection (and, to an https URL, a new TLS handshake)."""
    output = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency",
                             *_header_args(headers), url],
                            check=True, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))
    non_2xx_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = dict(zip(("connect", "read", "write", "timeout"),
                             (int(n) for n in errors.groups()) if errors else (0, 0, 0, 0)))
    return WrkResult(rps, p50, p99, int(non_2xx_match.group(1)) if non_2xx_match else 0, socket_errors)


# The system calls a proxy's request path is made of, counted one by one besides the total.
SYSCALLS = ("epoll_wait", "epoll_pwait", "epoll_ctl", "accept4", "connect", "read", "readv", "recvfrom", "recvmsg",
            "write", "writev", "sendto", "sendmsg", "close", "futex", "setsockopt", "getsockopt", "getpid")

_STOP_AFTER = """
local answered = 0
function response(status, headers, body)
  answered = answered + 1
  if answered >= %d then wrk.thread:stop() end
end
"""


@dataclass
class SyscallCount:
    requests: int         # answers wrk counted while the system calls were counted
    total: int            # system calls entered by the processes, all threads, in that time
    by_name: dict         # of SYSCALLS


def syscalls_during_requests(pids: list[int], url: str, requests: int, connections: int, rps: float,
                             workdir: str, headers: tuple[str, ...] = ()) -> SyscallCount:
    """System calls the processes ``pids`` (each with all its threads) enter while wrk sends
    ``requests`` requests to ``url`` (its thread stops itself after that many answers).

    ``perf stat -p PIDS -- wrk ...`` counts kernel tracepoints (``raw_syscalls:sys_enter`` and one
    ``syscalls:sys_enter_NAME`` per name in SYSCALLS) for exactly the life of the wrk command, in
    the kernel, without slowing the processes as ``strace`` would; wrk itself is not counted.
    A stopped wrk thread still waits out ``-d``, which is sized from ``rps`` (a rate measured
    before) with a quarter to spare. Whatever else the processes do meanwhile (a proxy's config
    poll, its metrics sync) is counted too: a few hundred calls a second when idle, next to
    several per request.
    """
    script = os.path.join(workdir, f"stop-after-{requests}.lua")
    with open(script, "w") as handle:
        handle.write(_STOP_AFTER % requests)
    counts = os.path.join(workdir, f"perf-{pids[0]}.csv")
    seconds = math.ceil(requests / max(rps, 1.0) * 1.25) + 1
    events = ["raw_syscalls:sys_enter"] + [f"syscalls:sys_enter_{name}" for name in SYSCALLS]
    output = subprocess.run(["perf", "stat", "-x", ",", "-o", counts, "-e", ",".join(events),
                             "-p", ",".join(str(pid) for pid in pids), "--",
                             "wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "-s", script,
                             *_header_args(headers), url],
                            check=True, capture_output=True, text=True, timeout=seconds + 60).stdout
    done = int(re.search(r"(\d+) requests in", output).group(1))
    found = {}
    with open(counts) as handle:
        for line in handle:
            fields = line.strip().split(",")
            if len(fields) > 2 and fields[2] in events:
                found[fields[2]] = int(fields[0]) if fields[0].isdigit() else 0
    by_name = {name: found.get(f"syscalls:sys_enter_{name}", 0) for name in SYSCALLS}
    return SyscallCount(done, found.get("raw_syscalls:sys_enter", 0), by_name)


def load_average() -> float:
    """The machine's 1-minute load average: printed beside each measurement, since other work on a
    shared machine moves a tail latency more than anything a front does."""
    with open("/proc/loadavg") as handle:
        return float(handle.read().split()[0])


def run_queue_seconds(root: int) -> float:
    """Seconds the threads of ``root``'s process tree have spent runnable but waiting for a CPU
    (the second field of ``/proc/PID/task/TID/schedstat``), live threads only. Whatever a request
    waits there lands in its latency: on an oversubscribed machine it is what makes the tail."""
    total = 0
    for pid in process_tree(root):
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in threads:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as handle:
                    total += int(handle.read().split()[1])
            except (OSError, ValueError, IndexError):
                continue
    return total / 1e9


def connections_per_process(port: int) -> list[int]:
    """Established connections on local ``port`` per owning process, largest first (``ss -tnp``):
    how the kernel spread wrk's connections over a front's worker processes."""
    output = subprocess.run(["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
                            capture_output=True, text=True, timeout=30).stdout
    counts: dict[str, int] = {}
    for pid in re.findall(r"pid=(\d+)", output):
        counts[pid] = counts.get(pid, 0) + 1
    return sorted(counts.values(), reverse=True)


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found = [root]
    for pid in found:
        found.extend(child for child, parent in parents.items() if parent == pid)
    return found


def workdir(prefix: str) -> str:
    return tempfile.mkdtemp(prefix=prefix)
