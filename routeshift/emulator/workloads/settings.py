"""The knobs of the emulator's control plane and kubelet, with a real cluster's defaults.

A real control plane always runs its controllers, so they are on by default wherever the
emulator is served; tests that want a bare API turn them off. The kubelet's timings are
Kubernetes' own (restart back-off 10 s doubling to 5 min) except where waiting that long
would only slow tests down: the termination grace period is capped, and readiness probes
run at most every ``probe_period_cap`` seconds (and every ``FAST_PROBE`` until they first
pass). Tests shorten the back-off with ``restart_backoff``.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Mapping
from typing import Any

from routeshift.emulator.workloads import images

NODE_NAME = "routeshift-emulator"
FAST_PROBE = 0.05  # seconds between readiness checks until a container is first ready


@dataclasses.dataclass(frozen=True)
class WorkloadSettings:
    """How the Deployment/ReplicaSet/EndpointSlice controllers, the GC and the kubelet run.

    ``images`` adds entries to (or overrides) :data:`images.DEFAULT_CATALOGUE`, e.g.
    ``{"ghcr.io/routeshift/demo-app:v3": {"error_rate": 0.05}}``. ``pod_network`` is the
    loopback /16 Pod IPs come from (``"127.42.0.0/16"``); by default one is chosen per
    emulator so that two emulators in one process never hand out the same address.
    ``log_dir`` keeps the containers' output (default: a temporary directory removed at stop).
    """

    enabled: bool = True
    node_name: str = NODE_NAME
    node_labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    images: Mapping[str, images.Image | Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    restart_backoff: float = 10.0
    restart_backoff_cap: float = 300.0
    termination_grace_cap: float = 5.0
    probe_period_cap: float = 1.0
    stop_timeout: float = 3.0  # SIGTERM to SIGKILL when the emulator stops
    log_dir: pathlib.Path | None = None
    pod_network: str | None = None

    def catalogue(self) -> dict[str, images.Image]:
        return images.catalogue(self.images)


def coerce(value: bool | WorkloadSettings | Mapping[str, Any] | None) -> WorkloadSettings:
    """``True``/``None`` → defaults, ``False`` → disabled, a mapping → those fields set."""
    if isinstance(value, WorkloadSettings):
        return value
    if value is None or value is True:
        return WorkloadSettings()
    if value is False:
        return WorkloadSettings(enabled=False)
    return WorkloadSettings(**dict(value))
