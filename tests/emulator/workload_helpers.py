"""Objects and probes shared by the workload controller tests."""

import os

from routeshift.emulator.workloads import images

DEPLOYMENTS, REPLICASETS, PODS = "apps/v1/deployments", "apps/v1/replicasets", "v1/pods"
SLICES, SERVICES = "discovery.k8s.io/v1/endpointslices", "v1/services"
DEMO_V1, DEMO_V2 = f"{images.DEMO_APP}:v1", f"{images.DEMO_APP}:v2"
PORT = 9898


def deployment(name="web", image=DEMO_V1, replicas=2, *, container=None, **spec):
    app = {"name": "app", "image": image, "ports": [{"name": "http", "containerPort": PORT}],
           "env": [{"name": "GREETING", "value": "hello"}], **(container or {})}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [app]}}, **spec}}


def service(name="web"):
    return {"metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}


def status(api, resource, name, namespace="default"):
    found = api.get(resource, namespace, name)
    return None if found is None else found.get("status") or {}


def available(api, name="web"):
    return (status(api, DEPLOYMENTS, name) or {}).get("availableReplicas", 0)


def condition(obj_status, kind):
    return next((c for c in (obj_status or {}).get("conditions") or [] if c["type"] == kind), {})


def pods(api, name="web"):
    return api.objects(PODS, "default", label_selector=f"app={name}")


def alive(pid):
    """Whether a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        return os.path.exists(f"/proc/{pid}")


def pids_of(api, name="web"):
    return {pod: pid for (_, pod, _), pid in api.container_pids().items() if pod.startswith(f"{name}-")}
