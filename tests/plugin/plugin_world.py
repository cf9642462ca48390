"""A small emulated world for the plugin tests, and a way to play the controller in it.

``World`` installs the generated CRDs from ``crds/`` (as a user would), two Services and
an HTTPRoute, creates Canaries, runs ``kubectl canary ...`` through the real kubectl, and
writes Canary status through the ``/status`` subresource. Writing status from a test is
how the plugin's own logic (views, phase checks, ``wait``) is tested without a
controller; the tests that need the real one start it with ``start_operator``.
"""

from __future__ import annotations

import os
import pathlib
import re
import signal
import struct
import subprocess
import threading
from typing import Any

import yaml

from rollouts import health, model
from routeshift.testing import processes
from routeshift.testing.polling import until

REPO = pathlib.Path(__file__).resolve().parents[2]
CRDS = "apiextensions.k8s.io/v1/customresourcedefinitions"
CANARIES = "routeshift.dev/v1alpha1/canaries"
ROUTES = "gateway.networking.k8s.io/v1/httproutes"
DEPLOYMENTS = "apps/v1/deployments"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def canary_manifest(name: str = "web", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"routeRef": {"name": "web"}, "stable": {"name": "web-v1", "port": 80},
                            "canary": {"name": "web-v2", "port": 80}, "release": "v2",
                            "strategy": {"progressive": {"steps": [10, 50]}},
                            "analysis": {"interval": "10s",
                                         "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}}]}}
    body.update(spec)
    return {"apiVersion": "routeshift.dev/v1alpha1", "kind": "Canary",
            "metadata": {"name": name, "namespace": "default"}, "spec": body}


def workload_canary_manifest(name: str = "podinfo", **spec: Any) -> dict[str, Any]:
    """A workload-form Canary: ``targetRef`` and ``service`` instead of stable/canary and release."""
    body: dict[str, Any] = {"routeRef": {"name": name}, "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                                                     "name": name},
                            "service": {"port": 9898, "targetPort": "http"},
                            "strategy": {"progressive": {"steps": [10, 50]}},
                            "analysis": {"interval": "10s",
                                         "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}}]}}
    body.update(spec)
    return {"apiVersion": "routeshift.dev/v1alpha1", "kind": "Canary",
            "metadata": {"name": name, "namespace": "default"}, "spec": body}


def deployment_manifest(name: str, image: str, *, replicas: int = 2) -> dict[str, Any]:
    app = name.removesuffix("-primary")
    labels = {"app": name if name == app else f"{app}-primary"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "podinfo", "image": image,
                                                           "ports": [{"name": "http", "containerPort": 9898}]}]}}}}


def route_manifest(stable_weight: int = 100, canary_weight: int = 0) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"parentRefs": [{"name": "gw"}], "rules": [
            {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
             "backendRefs": [{"name": "web-v1", "port": 80, "weight": stable_weight},
                             {"name": "web-v2", "port": 80, "weight": canary_weight}]}]},
    }


def metric(value: float | None, verdict: str, *, samples: int = 500, reason: str = "") -> dict[str, Any]:
    """A decision log metric record; without a value when there was none (as the API stores it)."""
    record = {"metric": "request-success-rate", "verdict": verdict, "reason": reason or f"success rate {value}",
              "value": value, "bound": ">= 99", "sampleSize": samples, "minSampleSize": 50}
    return {key: item for key, item in record.items() if item is not None}


def status(phase: str, *, step: int = 0, canary_weight: int = 10, release: str = "v2", generation: int = 1,
           metrics: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """A status as the controller writes it, for a [10, 50] plan (3 steps with the promotion)."""
    decision = {"time": "2026-01-01T00:00:00Z", "phase": phase, "step": step, "weight": canary_weight,
                "reason": f"{phase} at canary {canary_weight}%"}
    if metrics:
        decision |= {"verdict": metrics[0]["verdict"], "metrics": metrics}
    body = {"phase": phase, "observedGeneration": generation, "release": release, "step": step, "stepCount": 3,
            "stepProgress": f"{step + 1}/3", "weights": {"stable": 100 - canary_weight, "canary": canary_weight},
            "canaryWeight": canary_weight, "message": decision["reason"], "decisions": [decision]}
    body.update(extra)
    if "conditions" not in extra:
        body["conditions"] = gitops_conditions(body)
    return body


def gitops_conditions(body: dict[str, Any], **situation: Any) -> list[dict[str, Any]]:
    """Ready, Reconciling and Stalled as the controller's table (``rollouts.health``) gives them for ``body``."""
    verdict = health.assess(model.parse_status(body), **situation)
    return [{"type": type_, "status": state.value, "reason": verdict.reason, "message": verdict.message,
             "observedGeneration": body.get("observedGeneration")} for type_, state in verdict.conditions()]


class World:
    def __init__(self, api, kubectl):
        self.api = api
        self.kubectl = kubectl

    # ------------------------------------------------------------------ objects

    def install(self) -> None:
        for path in sorted((REPO / "crds").glob("*.yaml")):
            self.api.create(CRDS, yaml.safe_load(path.read_text()))
        for name in ("web-v1", "web-v2"):
            self.api.create("v1/services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                                            "spec": {"ports": [{"port": 80}]}}, "default")
        self.api.create(ROUTES, route_manifest(), "default")

    def create_canary(self, name: str = "web", **spec: Any) -> dict[str, Any]:
        return self.api.create(CANARIES, canary_manifest(name, **spec), "default")

    def create_workload_canary(self, name: str = "podinfo", **spec: Any) -> dict[str, Any]:
        return self.api.create(CANARIES, workload_canary_manifest(name, **spec), "default")

    def create_deployment(self, name: str, image: str, *, replicas: int = 2, ready: int | None = None) -> None:
        """A Deployment, and the status its controller would write once ``ready`` pods are ready."""
        self.api.create(DEPLOYMENTS, deployment_manifest(name, image, replicas=replicas), "default")
        ready = replicas if ready is None else ready
        self.api.patch(DEPLOYMENTS, "default", name, {"status": {
            "observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": ready,
            "availableReplicas": ready}}, subresource="status")

    def canary(self, name: str = "web") -> dict[str, Any]:
        return self.api.get(CANARIES, "default", name)

    def annotations(self, name: str = "web") -> dict[str, str]:
        return {k: v for k, v in (self.canary(name)["metadata"].get("annotations") or {}).items()
                if k.startswith("routeshift.dev/")}

    def set_status(self, body: dict[str, Any], name: str = "web") -> dict[str, Any]:
        """Play the controller: a merge patch of ``/status``."""
        return self.api.patch(CANARIES, "default", name, {"status": body}, subresource="status")

    def route_weights(self) -> tuple[int, int]:
        refs = {r["name"]: r.get("weight", 1) for r in self.api.get(ROUTES, "default", "web")["spec"]["rules"][0]
                ["backendRefs"]}
        return refs["web-v1"], refs["web-v2"]

    # ------------------------------------------------------------------ the plugin

    def plugin(self, *args: str, input: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """``kubectl canary ARGS``: the real kubectl finds kubectl-canary on PATH."""
        return self.kubectl("canary", *args, input=input, timeout=timeout)

    def start_plugin(self, *args: str) -> Streamed:
        return Streamed([str(self.kubectl.binary), "canary", *args], self.kubectl.env)

    def plugin_patches(self) -> list[tuple[str, str, int]]:
        return [r for r in self.api.requests() if r[0] == "PATCH" and "/canaries/" in r[1]]


class Streamed:
    """A long-running plugin with stdout and stderr collected by threads (for ``wait``)."""

    def __init__(self, argv: list[str], env: dict[str, str]):
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                        text=True, env=env, start_new_session=True)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._threads = [threading.Thread(target=self._drain, args=(stream, sink), daemon=True)
                         for stream, sink in ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr))]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _drain(stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line)

    def wait_for_stderr(self, text: str, timeout: float = 15) -> None:
        until(lambda: any(text in line for line in self.stderr) or self.process.poll() is not None, timeout,
              description=f"stderr line containing {text!r}")
        assert any(text in line for line in self.stderr), "".join(self.stderr)

    def finish(self, timeout: float = 20) -> int:
        try:
            code = self.process.wait(timeout)
        finally:
            processes.stop(self.process)
        for thread in self._threads:
            thread.join(5)
        return code


class Terminal:
    """A process in a pseudo-terminal of a fixed size; everything it draws is collected."""

    def __init__(self, argv: list[str], env: dict[str, str], *, rows: int = 50, cols: int = 130):
        import fcntl
        import termios

        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                                        env={**env, "TERM": "xterm-256color", "COLUMNS": str(cols),
                                             "LINES": str(rows)}, start_new_session=True)
        os.close(slave)
        self._master = master
        self._raw = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:  # EIO once the child side is closed
                return
            if not chunk:
                return
            with self._lock:
                self._raw += chunk

    @property
    def raw(self) -> str:
        with self._lock:
            return self._raw.decode("utf-8", "replace")

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw)

    def wait_for(self, *needles: str, timeout: float = 15) -> str:
        until(lambda: all(n in self.text for n in needles) or self.process.poll() is not None, timeout,
              description=f"terminal showing {needles!r}")
        assert all(n in self.text for n in needles), self.text[-3000:]
        return self.text

    def wait_for_pattern(self, pattern: str, *, since: int = 0, timeout: float = 15) -> re.Match[str]:
        """Wait until the text drawn after raw offset ``since`` matches ``pattern``."""
        def found():
            return re.search(pattern, ANSI.sub("", self.raw[since:])) or self.process.poll() is not None
        until(found, timeout, description=f"terminal matching {pattern!r}")
        match = re.search(pattern, ANSI.sub("", self.raw[since:]))
        assert match, self.text[-3000:]
        return match

    def interrupt(self, timeout: float = 10) -> int:
        """Ctrl-C, as a person ends a watch."""
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        finally:
            processes.stop(self.process)
            self._reader.join(5)
            os.close(self._master)


# ---------------------------------------------------------------------- the real controller


class ScriptedAnalysis:
    """Stands in for ``analysis.evaluate_interval``: every interval gets the verdict the test sets."""

    def __init__(self, verdict: str = "Inconclusive"):
        self.verdict = verdict

    async def __call__(self, spec, target, state, *, now, provider, templates=None, resolve_provider=None):
        from analysis.verdicts import IntervalVerdict, MetricVerdict, Verdict

        kind = Verdict(self.verdict)
        value, samples = {"Successful": (99.9, 800), "Failed": (80.0, 800)}.get(self.verdict, (99.5, 12))
        reason = "insufficient traffic 12/50" if kind is Verdict.INCONCLUSIVE else f"success rate {value}"
        metric = MetricVerdict("request-success-rate", kind, reason, value, ">= 99", samples, 50)
        return IntervalVerdict(kind, reason, (metric,)), state


FAST_ANALYSIS = {"interval": "100ms", "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}}]}
