"""An in-process Kubernetes API server for tests and the demo, built on kmock's emulator.

No kube-apiserver can run here, yet the controller (kopf), the proxy and kubectl must be
exercised for real. This package serves the Kubernetes REST API from memory over loopback
HTTP with the semantics those clients depend on: server-set metadata and one global
resourceVersion, preconditions, the status subresource, resumable watches with 410 Gone,
selectors, finalizers, dryRun, CRDs that become served and validated resources, the
discovery/OpenAPI/Table endpoints kubectl needs, and fault injection. Wherever it is served,
it also runs what a control plane and a kubelet do (:mod:`routeshift.emulator.workloads`):
Deployments, ReplicaSets, EndpointSlices, garbage collection, and Pods as local processes.

- :func:`serve` — async context manager: a running emulator in the current event loop.
- :class:`EmulatorThread` — the same in its own thread and loop (sync code, subprocesses).
- :mod:`routeshift.emulator.standalone` — ``routeshift api-server --port N --kubeconfig PATH``.
"""

from routeshift.emulator.emulator import Emulator
from routeshift.emulator.faults import Fault, Faults
from routeshift.emulator.serving import RunningEmulator, kubeconfig, serve, write_kubeconfig
from routeshift.emulator.threaded import EmulatorThread

__all__ = ["Emulator", "EmulatorThread", "Fault", "Faults", "RunningEmulator", "kubeconfig", "serve",
           "write_kubeconfig"]
