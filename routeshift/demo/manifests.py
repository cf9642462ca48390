"""The Kubernetes objects the demo creates: one namespace with a Gateway, a route and a Canary.

They are what a platform team would write for a real service. In workload form: a
GatewayClass for the Routeshift proxy, a Gateway, the app's Deployment and Service, an
HTTPRoute to that Service, and a Canary with ``targetRef``; the emulator's controllers
and kubelet run the Pods as local processes. In Service form: an HTTPRoute sending
everything to ``stable``, two selector-less Services with hand-written EndpointSlices
pointing at demo app processes on 127.0.0.1, and a Canary naming both. Pure functions
returning dicts; the stack applies them.
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


# ----------------------------------------------------------------- workload form

DEPLOYMENT = "podinfo"
CONTAINER = "app"
CONTAINER_PORT = 9898
APP_IMAGE = "ghcr.io/routeshift/demo-app"
REPLICAS = 2


# What each demo image does when the emulator's kubelet runs it: v3 is the faulty release
# (5 % of requests answered 500), as in the Service-form scenarios.
IMAGE_FAULTS = {f"{APP_IMAGE}:v3": "0.05"}


def app_image(version: str) -> str:
    return f"{APP_IMAGE}:{version}"


def deployment(version: str = "v1", replicas: int = REPLICAS) -> dict:
    """The user's app as a Flagger user has it: one Deployment (its Pods run on the emulator's kubelet)."""
    labels = {"app": DEPLOYMENT}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": DEPLOYMENT, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{
                    "name": CONTAINER, "image": app_image(version),
                    "ports": [{"name": "http", "containerPort": CONTAINER_PORT}],
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1},
                }]},
            },
        },
    }


def app_service() -> dict:
    """The Service the user's route sends the app's traffic to (the controller takes it over)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": DEPLOYMENT, "namespace": NAMESPACE, "labels": {"app": DEPLOYMENT}},
        "spec": {"selector": {"app": DEPLOYMENT},
                 "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}]},
    }


def app_route() -> dict:
    """The user's route before Routeshift: everything to the app's Service."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": ROUTE, "namespace": NAMESPACE},
        "spec": {
            "parentRefs": [{"name": GATEWAY, "sectionName": "http"}],
            "hostnames": [HOSTNAME],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                       "backendRefs": [{"name": DEPLOYMENT, "port": SERVICE_PORT}]}],
        },
    }


def workload_canary(*, strategy: dict, analysis: dict, progress_deadline_seconds: int) -> dict:
    """The Canary on the Deployment: initialization creates podinfo-primary and takes over the route."""
    return {
        "apiVersion": "routeshift.dev/v1alpha1",
        "kind": "Canary",
        "metadata": {"name": CANARY, "namespace": NAMESPACE},
        "spec": {
            "routeRef": {"name": ROUTE},
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": DEPLOYMENT},
            "service": {"port": SERVICE_PORT, "targetPort": "http"},
            "strategy": strategy,
            "analysis": analysis,
            "progressDeadlineSeconds": progress_deadline_seconds,
        },
    }


def workload_objects() -> list[dict]:
    """Everything but the Canary in workload form, in an order a real API server accepts."""
    return [namespace(), gateway_class(), gateway(), deployment(), app_service(), app_route()]


def stack_objects(stable: Backend, canary_backend: Backend) -> list[dict]:
    """Everything but the Canary, in an order a real API server accepts."""
    return [
        namespace(), gateway_class(), gateway(),
        *service(stable), *service(canary_backend),
        route(stable, canary_backend),
    ]
