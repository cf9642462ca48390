"""The local kubelet's image catalogue: which container images it can "pull" and how each runs.

There is no container runtime here, so an image is a recipe for a local process bound to the
Pod's loopback IP: the demo app (``python -m routeshift.demo.app``) or the demo gRPC app
(``python -m routeshift.demo.grpc_app``) with the tag as its version and optional faults per
tag, an image that crashes at once (CrashLoopBackOff), and a marker image whose Pods become
Running and Ready without any process (scale runs). Entries are keyed by repository (any tag)
or by ``repository:tag`` (that tag only, over the repository's entry). An image the
catalogue does not name cannot be pulled. Pure.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from typing import Any

DEMO_APP = "ghcr.io/routeshift/demo-app"
DEMO_GRPC_APP = "ghcr.io/routeshift/demo-grpc-app"
CRASH = "ghcr.io/routeshift/crash"
NO_PROCESS = "ghcr.io/routeshift/no-process"

RUN_DEMO_APP, RUN_CRASH, RUN_NOTHING, RUN_COMMAND = "demo-app", "crash", "no-process", "command"
RUN_DEMO_GRPC_APP = "demo-grpc-app"
# The demo apps take the same options (--host, --port, --version, --error-rate, --latency-ms).
_DEMO_MODULES = {RUN_DEMO_APP: "routeshift.demo.app", RUN_DEMO_GRPC_APP: "routeshift.demo.grpc_app"}
DEFAULT_PORT = 8080  # where an image listens when its container declares no port
ERROR_RATE_ENV, LATENCY_ENV = "ERROR_RATE", "LATENCY_MS"
_CRASH_CODE = "import sys, time; print('crashing on purpose', flush=True); time.sleep(0.05); sys.exit(1)"


@dataclasses.dataclass(frozen=True)
class Image:
    """How an image runs. ``runs`` is one of the ``RUN_*`` recipes (None: inherit the
    repository's); ``command`` is the argv of ``RUN_COMMAND``, formatted with ``{python}``,
    ``{host}``, ``{port}`` and ``{tag}``."""

    runs: str | None = None
    error_rate: float | None = None
    latency_ms: float | None = None
    command: tuple[str, ...] = ()

    def over(self, base: Image) -> Image:
        return Image(runs=self.runs or base.runs,
                     error_rate=self.error_rate if self.error_rate is not None else base.error_rate,
                     latency_ms=self.latency_ms if self.latency_ms is not None else base.latency_ms,
                     command=self.command or base.command)


DEFAULT_CATALOGUE: Mapping[str, Image] = {
    DEMO_APP: Image(RUN_DEMO_APP),
    DEMO_GRPC_APP: Image(RUN_DEMO_GRPC_APP),
    CRASH: Image(RUN_CRASH),
    NO_PROCESS: Image(RUN_NOTHING),
}


@dataclasses.dataclass(frozen=True)
class Launch:
    """What to start for one container: ``argv`` (None: no process at all) and its port."""

    argv: tuple[str, ...] | None
    port: int | None
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)


def image_entry(value: Image | Mapping[str, Any]) -> Image:
    """An entry from its dataclass or a plain mapping (``{"error_rate": 0.05}``, camelCase too)."""
    if isinstance(value, Image):
        return value
    fields = {"runs": value.get("runs"), "error_rate": value.get("error_rate", value.get("errorRate")),
              "latency_ms": value.get("latency_ms", value.get("latencyMs")),
              "command": tuple(value.get("command") or ())}
    return Image(**fields)


def catalogue(extra: Mapping[str, Image | Mapping[str, Any]] | None = None) -> dict[str, Image]:
    """The default catalogue with ``extra`` entries added (or overriding)."""
    merged = dict(DEFAULT_CATALOGUE)
    merged.update({name: image_entry(value) for name, value in (extra or {}).items()})
    return merged


def split(reference: str) -> tuple[str, str]:
    """(repository, tag or digest); an untagged reference means ``latest``."""
    if "@" in reference:
        repository, digest = reference.split("@", 1)
        return repository, digest
    slash = reference.rfind("/")
    colon = reference.rfind(":")
    if colon > slash:
        return reference[:colon], reference[colon + 1:]
    return reference, "latest"


def lookup(entries: Mapping[str, Image], reference: str) -> Image | None:
    repository, tag = split(reference)
    base = entries.get(repository)
    tagged = entries.get(f"{repository}:{tag}")
    if tagged is not None:
        resolved = tagged.over(base) if base is not None else tagged
        return resolved if resolved.runs else None
    return base


def known(entries: Mapping[str, Image]) -> list[str]:
    return sorted(name if ":" in name.rsplit("/", 1)[-1] else f"{name}:<tag>" for name in entries)


def unknown_message(entries: Mapping[str, Image], reference: str) -> str:
    return (f'Failed to pull image "{reference}": the local kubelet of the Routeshift emulator does not '
            f'know this image; it runs: {", ".join(known(entries))}')


def _env_float(env: Mapping[str, str], name: str) -> float | None:
    try:
        return float(env[name]) if name in env else None
    except ValueError:
        return None


def container_port(container: Mapping[str, Any]) -> int | None:
    for port in container.get("ports") or ():
        if port.get("protocol", "TCP") == "TCP" and port.get("containerPort"):
            return int(port["containerPort"])
    return None


def launch(image: Image, reference: str, container: Mapping[str, Any], host: str,
           env: Mapping[str, str], *, python: str = sys.executable) -> Launch:
    """The process for ``container`` of ``image`` on ``host`` (the Pod IP), given its env."""
    _, tag = split(reference)
    declared = container_port(container)
    port = declared or DEFAULT_PORT
    if image.runs == RUN_NOTHING:
        return Launch(None, declared, env)
    if image.runs == RUN_CRASH:
        return Launch((python, "-c", _CRASH_CODE), None, env)
    if image.runs == RUN_COMMAND:
        values = {"python": python, "host": host, "port": str(port), "tag": tag}
        return Launch(tuple(part.format(**values) for part in image.command), declared, env)
    error_rate = _env_float(env, ERROR_RATE_ENV)
    latency = _env_float(env, LATENCY_ENV)
    error_rate = error_rate if error_rate is not None else image.error_rate or 0.0
    latency = latency if latency is not None else image.latency_ms or 0.0
    argv = [python, "-m", _DEMO_MODULES[image.runs], "--host", host, "--port", str(port), "--version", tag]
    if error_rate:
        argv += ["--error-rate", repr(error_rate)]
    if latency:
        argv += ["--latency-ms", repr(latency)]
    return Launch(tuple(argv), port, env)
