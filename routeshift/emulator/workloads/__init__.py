"""What kube-controller-manager, kube-scheduler and a kubelet do, for the emulator.

So that a controller's workload mode (a Canary targeting a Deployment) is tested for real,
an emulator served by :func:`routeshift.emulator.serve`, :class:`routeshift.emulator.
EmulatorThread` or ``routeshift api-server`` runs, on its own event loop and through its
own verbs (watch events, resourceVersions, generations, status subresource):

- the Deployment controller (:mod:`.deployments`, decisions in :mod:`.rollout`),
- the ReplicaSet controller (:mod:`.replicasets`, decisions in :mod:`.replicas`),
- the EndpointSlice controller (:mod:`.endpointslices`, decisions in :mod:`.slices`),
- the garbage collector (:mod:`.garbage`),
- a one-node scheduler (:mod:`.scheduler`, decisions in :mod:`.scheduling`),
- a local kubelet (:mod:`.kubelet`) that runs containers as local processes
  (:mod:`.runtime`, :mod:`.probes`, :mod:`.environment`) on per-Pod loopback IPs
  (:mod:`.network`) from an image catalogue (:mod:`.images`), and reports Pod status
  (:mod:`.podstatus`).

They are on by default; ``workloads=False`` turns them off, ``workloads=WorkloadSettings(...)``
(or a mapping of its fields) tunes the kubelet. :mod:`.controllers` starts and stops them.
"""

from routeshift.emulator.workloads.controllers import ControlPlane, start
from routeshift.emulator.workloads.images import CRASH, DEMO_APP, NO_PROCESS, Image
from routeshift.emulator.workloads.settings import NODE_NAME, WorkloadSettings, coerce

__all__ = ["CRASH", "DEMO_APP", "NODE_NAME", "NO_PROCESS", "ControlPlane", "Image", "WorkloadSettings", "coerce",
           "start"]
