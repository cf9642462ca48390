"""The canary controller: moves HTTPRoute weights from a stable to a canary backend, safely.

Pure core (no I/O): ``model`` (the Canary resource), ``steps`` (a strategy as a plan),
``machine`` (``decide``), ``actions``, ``observations``, ``operations``, ``journal``,
``routes`` (HTTPRoute patch maths), ``crd`` (CRD generation). Adapters: ``patching``
(Kubernetes API), ``metrics`` (Prometheus), ``reconciler`` (one observe-decide-act cycle)
and ``operator`` (the only module importing kopf; ``run``/``main`` for ``routeshift
controller``).
"""
