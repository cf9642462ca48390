"""The Kubernetes objects the demo creates: one namespace with a Gateway, a route and a Canary.

They are what a platform team would write for a real service (a GatewayClass for the
Routeshift proxy, a Gateway, an HTTPRoute sending everything to ``stable``, two
Services, a Canary), plus what a cluster would otherwise provide for processes that run
outside it: selector-less Services with hand-written EndpointSlices pointing at the demo
app processes on 127.0.0.1. Pure functions returning dicts; the stack applies them.
"""

from __future__ import annotations

import dataclasses

NAMESPACE = "demo"
GATEWAY_CLASS = "routeshift"
CONTROLLER_NAME = "routeshift.dev/gateway-proxy"
GATEWAY = "demo-gateway"
ROUTE = "podinfo"
CANARY = "podinfo"
HOSTNAME = "podinfo.demo.example"
SERVICE_PORT = 80


@dataclasses.dataclass(frozen=True)
class Backend:
    """One demo app process reachable at 127.0.0.1:port behind Service ``service``."""

    service: str
    port: int


def gateway_class() -> dict:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": GATEWAY_CLASS},
        "spec": {"controllerName": CONTROLLER_NAME},
    }


def namespace() -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}


def gateway(listener_port: int = 80) -> dict:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": GATEWAY, "namespace": NAMESPACE},
        "spec": {
            "gatewayClassName": GATEWAY_CLASS,
            "listeners": [{
                "name": "http", "protocol": "HTTP", "port": listener_port,
                "allowedRoutes": {"namespaces": {"from": "Same"}},
            }],
        },
    }


def service(backend: Backend) -> list[dict]:
    """A selector-less Service and the EndpointSlice a cluster would have made for it."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": backend.service, "namespace": NAMESPACE, "labels": {"app": "podinfo"}},
            "spec": {"ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": backend.port,
                                "protocol": "TCP"}]},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{backend.service}-local",
                "namespace": NAMESPACE,
                "labels": {"kubernetes.io/service-name": backend.service,
                           "endpointslice.kubernetes.io/managed-by": "routeshift-demo"},
            },
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": backend.port, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
        },
    ]


def route(stable: Backend, canary: Backend) -> dict:
    """All traffic to stable; the canary is referenced with weight 0 so the controller can move it."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": ROUTE, "namespace": NAMESPACE},
        "spec": {
            "parentRefs": [{"name": GATEWAY, "sectionName": "http"}],
            "hostnames": [HOSTNAME],
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [
                    {"name": stable.service, "port": SERVICE_PORT, "weight": 100},
                    {"name": canary.service, "port": SERVICE_PORT, "weight": 0},
                ],
            }],
        },
    }


def canary(stable: Backend, canary_backend: Backend, *, strategy: dict, analysis: dict,
           progress_deadline_seconds: int) -> dict:
    """The Canary, created without a release: it initialises (stable 100 %) and waits for one."""
    return {
        "apiVersion": "routeshift.dev/v1alpha1",
        "kind": "Canary",
        "metadata": {"name": CANARY, "namespace": NAMESPACE},
        "spec": {
            "routeRef": {"name": ROUTE},
            "stable": {"name": stable.service, "port": SERVICE_PORT},
            "canary": {"name": canary_backend.service, "port": SERVICE_PORT},
            "strategy": strategy,
            "analysis": analysis,
            "progressDeadlineSeconds": progress_deadline_seconds,
        },
    }


def stack_objects(stable: Backend, canary_backend: Backend) -> list[dict]:
    """Everything but the Canary, in an order a real API server accepts."""
    return [
        namespace(), gateway_class(), gateway(),
        *service(stable), *service(canary_backend),
        route(stable, canary_backend),
    ]
