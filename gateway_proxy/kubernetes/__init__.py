"""Kubernetes mode: the proxy as a Gateway API implementation on a cluster.

Why a package of its own: everything that talks to an API server (client, watches, the catalog
of watched kinds, the relay to worker processes, Gateway/HTTPRoute status and the features our
GatewayClass claims) is here, apart from the data plane, which only ever sees a compiled table.
Callers import these modules as ``kube_<name>`` so that names like ``status`` and ``client`` stay
free for locals.
"""
