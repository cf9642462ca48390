"""The Kubernetes objects the demo creates: one namespace with a Gateway, a route and a Canary.

They are what a platform team would write for a real service. In workload form: a
GatewayClass for the Routeshift proxy, a Gateway, the app's Deployment and Service, an
HTTPRoute to that Service (for the gRPC app a GRPCRoute, the Service port declaring
``appProtocol: kubernetes.io/h2c``), and a Canary with ``targetRef``; the emulator's
controllers and kubelet run the Pods as local processes. In Service form: an HTTPRoute
sending everything to ``stable``, two selector-less Services with hand-written
EndpointSlices pointing at demo app processes on 127.0.0.1, and a Canary naming both.
Pure functions returning dicts; the stack applies them.
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
GRPC_APP_IMAGE = "ghcr.io/routeshift/demo-grpc-app"
GRPC_PORT = 50051
REPLICAS = 2


@dataclasses.dataclass(frozen=True)
class App:
    """What differs between the demo's HTTP app and its gRPC app in workload form."""

    image: str  # repository; the tag is the release
    route_kind: str  # HTTPRoute | GRPCRoute
    port_name: str  # of the container port and of the Service ports
    container_port: int
    service_port: int
    readiness_probe: dict
    app_protocol: str | None = None  # of the Service ports: how the gateway speaks to the app


HTTP_APP = App(APP_IMAGE, "HTTPRoute", "http", CONTAINER_PORT, SERVICE_PORT,
               {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1})
# The gateway reaches a gRPC backend over cleartext HTTP/2 only when the Service port says so.
GRPC_APP = App(GRPC_APP_IMAGE, "GRPCRoute", "grpc", GRPC_PORT, GRPC_PORT,
               {"tcpSocket": {"port": "grpc"}, "periodSeconds": 1}, app_protocol="kubernetes.io/h2c")
APPS = {"http": HTTP_APP, "grpc": GRPC_APP}


# What each demo image does when the emulator's kubelet runs it: v3 is the faulty release
# (5 % of requests answered 500, or of gRPC calls ended with UNAVAILABLE), as in the
# Service-form scenarios.
IMAGE_FAULTS = {f"{APP_IMAGE}:v3": "0.05", f"{GRPC_APP_IMAGE}:v3": "0.05"}


def app_image(version: str, app: App = HTTP_APP) -> str:
    return f"{app.image}:{version}"


def deployment(version: str = "v1", replicas: int = REPLICAS, app: App = HTTP_APP) -> dict:
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
                    "name": CONTAINER, "image": app_image(version, app),
                    "ports": [{"name": app.port_name, "containerPort": app.container_port}],
                    "readinessProbe": app.readiness_probe,
                }]},
            },
        },
    }


def _app_protocol(app: App) -> dict:
    return {"appProtocol": app.app_protocol} if app.app_protocol else {}


def app_service(app: App = HTTP_APP) -> dict:
    """The Service the user's route sends the app's traffic to (the controller takes it over)."""
    port = {"name": app.port_name, "port": app.service_port, "targetPort": app.port_name, "protocol": "TCP",
            **_app_protocol(app)}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": DEPLOYMENT, "namespace": NAMESPACE, "labels": {"app": DEPLOYMENT}},
        "spec": {"selector": {"app": DEPLOYMENT}, "ports": [port]},
    }


def app_route(app: App = HTTP_APP) -> dict:
    """The user's route before Routeshift: everything to the app's Service (a GRPCRoute rule
    without matches takes every gRPC call)."""
    rule: dict = {"backendRefs": [{"name": DEPLOYMENT, "port": app.service_port}]}
    if app.route_kind == "HTTPRoute":
        rule = {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], **rule}
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": app.route_kind,
        "metadata": {"name": ROUTE, "namespace": NAMESPACE},
        "spec": {
            "parentRefs": [{"name": GATEWAY, "sectionName": "http"}],
            "hostnames": [HOSTNAME],
            "rules": [rule],
        },
    }


def workload_canary(*, strategy: dict, analysis: dict, progress_deadline_seconds: int, app: App = HTTP_APP) -> dict:
    """The Canary on the Deployment: initialization creates podinfo-primary and takes over the route."""
    return {
        "apiVersion": "routeshift.dev/v1alpha1",
        "kind": "Canary",
        "metadata": {"name": CANARY, "namespace": NAMESPACE},
        "spec": {
            "routeRef": {"name": ROUTE, "kind": app.route_kind},
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": DEPLOYMENT},
            "service": {"port": app.service_port, "targetPort": app.port_name, "portName": app.port_name,
                        **_app_protocol(app)},
            "strategy": strategy,
            "analysis": analysis,
            "progressDeadlineSeconds": progress_deadline_seconds,
        },
    }


def workload_objects(app: App = HTTP_APP) -> list[dict]:
    """Everything but the Canary in workload form, in an order a real API server accepts."""
    return [namespace(), gateway_class(), gateway(), deployment(app=app), app_service(app), app_route(app)]


def stack_objects(stable: Backend, canary_backend: Backend) -> list[dict]:
    """Everything but the Canary, in an order a real API server accepts."""
    return [
        namespace(), gateway_class(), gateway(),
        *service(stable), *service(canary_backend),
        route(stable, canary_backend),
    ]
