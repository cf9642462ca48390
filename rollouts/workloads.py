"""Workload form, the Deployment side: names, revisions, the objects the controller owns, readiness.

A Canary with ``targetRef`` runs the live version as a copy of the user's Deployment,
``<target>-primary``, and uses the user's Deployment itself as the canary, scaled up only
while a revision is rolled out (Flagger's model). Everything here is pure: Deployment,
Service and Pod bodies in, decisions and bodies out, so the state machine can decide
about workloads in table tests exactly as it does about routes.

The primary's selector and pod labels are the target's with ``-primary`` appended to every
selector value, so the two Deployments (and their Services) never select each other's
pods. A revision is a hash of the pod template: a change of image, env or anything else in
the template is a new revision; a change of ``replicas`` is not. With ``trackConfigs`` the
hash covers the referenced ConfigMaps' and Secrets' content too (``rollouts.config_tracking``).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from rollouts import config_tracking, model
from rollouts.config_tracking import ConfigRef
from rollouts.route_kinds import RouteKind

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "routeshift"
CANARY_LABEL = f"{model.GROUP}/canary"
REVISION_ANNOTATION = f"{model.GROUP}/revision"
PRIMARY_SUFFIX = "-primary"
CANARY_SUFFIX = "-canary"

# Fields of the target's spec that the primary copies besides the template.
_COPIED_SPEC_FIELDS = ("strategy", "minReadySeconds", "progressDeadlineSeconds", "revisionHistoryLimit")


@dataclasses.dataclass(frozen=True)
class Names:
    """The objects a workload-form Canary works with."""

    target: str
    primary: str  # Deployment and Service of the live version
    canary: str  # Service selecting the target's pods
    app: str  # the Service the user's route sent the app's traffic to before adoption

    def primary_ref(self, spec: model.CanarySpec) -> model.BackendRef:
        return model.BackendRef(name=self.primary, port=spec.service.port)

    def canary_ref(self, spec: model.CanarySpec) -> model.BackendRef:
        return model.BackendRef(name=self.canary, port=spec.service.port)


def names(spec: model.CanarySpec) -> Names:
    target = spec.target_ref.name
    return Names(target=target, primary=f"{target}{PRIMARY_SUFFIX}", canary=f"{target}{CANARY_SUFFIX}",
                 app=spec.service.name or target)


def service_form(spec: model.CanarySpec, release: str | None) -> model.CanarySpec:
    """The spec as the route machine sees it: primary as stable, the target's Service as canary.

    ``release`` is the revision of the target's pod template, so that a changed template
    starts a rollout exactly as a changed ``spec.release`` does in the Service form.
    """
    n = names(spec)
    return spec.model_copy(update={"stable": n.primary_ref(spec), "canary": n.canary_ref(spec), "release": release})


# --------------------------------------------------------------------------- revisions


def template(deployment: Mapping[str, Any]) -> dict[str, Any]:
    return (deployment.get("spec") or {}).get("template") or {}


def revision(pod_template: Mapping[str, Any], config_hash: str | None = None) -> str:
    """A short, stable hash of a pod template (and of its tracked configuration, when there is any):
    equal inputs, equal revisions; without tracked configuration, the template's hash alone."""
    canonical = json.dumps(pod_template, sort_keys=True, separators=(",", ":"))
    if config_hash:
        canonical += f"|{config_hash}"
    return hashlib.sha256(canonical.encode()).hexdigest()[:10]


def images(pod_template: Mapping[str, Any]) -> dict[str, str]:
    """Container name -> image, init containers included."""
    spec = pod_template.get("spec") or {}
    containers = list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
    return {c.get("name", "?"): c.get("image", "") for c in containers}


def describe_images(found: Mapping[str, str]) -> str:
    return ", ".join(f"{name}={image}" for name, image in found.items()) or "no containers"


def replicas(deployment: Mapping[str, Any]) -> int:
    value = (deployment.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def match_labels(deployment: Mapping[str, Any]) -> dict[str, str] | None:
    """The selector's matchLabels, or None when the selector uses anything else (unsupported)."""
    selector = (deployment.get("spec") or {}).get("selector") or {}
    labels = selector.get("matchLabels") or {}
    if selector.get("matchExpressions") or not labels:
        return None
    return dict(labels)


def primary_labels(selector: Mapping[str, str]) -> dict[str, str]:
    return {key: f"{value}{PRIMARY_SUFFIX}" for key, value in selector.items()}


def _selects(selector: Mapping[str, str] | None, labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# --------------------------------------------------------------------------- owned objects


@dataclasses.dataclass(frozen=True)
class Owner:
    """The Canary that owns what the controller creates (owner reference and labels)."""

    namespace: str
    name: str
    uid: str | None

    def metadata(self, name: str, labels: Mapping[str, str] | None = None,
                 annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "name": name, "namespace": self.namespace,
            "labels": {**(labels or {}), MANAGED_BY_LABEL: MANAGED_BY, CANARY_LABEL: self.name},
        }
        if annotations:
            meta["annotations"] = dict(annotations)
        if self.uid:
            meta["ownerReferences"] = [{"apiVersion": f"{model.GROUP}/{model.VERSION}", "kind": model.KIND,
                                        "name": self.name, "uid": self.uid, "controller": True,
                                        "blockOwnerDeletion": True}]
        return meta


def owned_by(obj: Mapping[str, Any] | None, owner_name: str) -> bool:
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == MANAGED_BY and labels.get(CANARY_LABEL) == owner_name


def primary_deployment(target: Mapping[str, Any], *, name: str, owner: Owner, replica_count: int,
                       pod_template: Mapping[str, Any] | None = None,
                       configs: Mapping[ConfigRef, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The primary Deployment running ``pod_template`` (default: the target's) with rewritten labels,
    reading the primary copies of the tracked ``configs``."""
    selector = match_labels(target) or {}
    labels = primary_labels(selector)
    original = pod_template if pod_template is not None else template(target)
    config_hash = config_tracking.fingerprint(configs or {})
    source = config_tracking.primary_template(original, (configs or {}).keys(), config_hash)
    pod_meta = source.setdefault("metadata", {})
    pod_meta["labels"] = {**(pod_meta.get("labels") or {}), **labels}
    spec: dict[str, Any] = {"replicas": replica_count, "selector": {"matchLabels": labels}, "template": source}
    for field in _COPIED_SPEC_FIELDS:
        if field in (target.get("spec") or {}):
            spec[field] = copy.deepcopy(target["spec"][field])
    target_labels = (target.get("metadata") or {}).get("labels") or {}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": owner.metadata(name, {**target_labels, **labels},
                                       {REVISION_ANNOTATION: revision(original, config_hash)}),
            "spec": spec}


def service(name: str, *, selector: Mapping[str, str], spec: model.CanarySpec, owner: Owner) -> dict[str, Any]:
    ports = spec.service
    port: dict[str, Any] = {"name": ports.port_name, "port": ports.port, "protocol": "TCP",
                            "targetPort": ports.effective_target_port()}
    if ports.app_protocol:
        port["appProtocol"] = ports.app_protocol
    return {"apiVersion": "v1", "kind": "Service", "metadata": owner.metadata(name),
            "spec": {"type": "ClusterIP", "selector": dict(selector), "ports": [port]}}


def primary_revision(primary: Mapping[str, Any] | None) -> str | None:
    return (((primary or {}).get("metadata") or {}).get("annotations") or {}).get(REVISION_ANNOTATION)


# --------------------------------------------------------------------------- readiness


@dataclasses.dataclass(frozen=True)
class Rollout:
    """How far a Deployment's rollout is, as ``kubectl rollout status`` would judge it."""

    ready: bool
    summary: str  # "2/2 available", "1/2 updated, 0/2 available (CrashLoopBackOff ...)"
    stuck: str = ""  # Progressing=False reason and message, e.g. ProgressDeadlineExceeded


def rollout(deployment: Mapping[str, Any] | None, *, pods_problem: str = "") -> Rollout:
    if deployment is None:
        return Rollout(False, "not found")
    meta, status = deployment.get("metadata") or {}, deployment.get("status") or {}
    want = replicas(deployment)
    updated = int(status.get("updatedReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    total = int(status.get("replicas") or 0)
    observed = status.get("observedGeneration")
    current = observed is not None and int(observed) >= int(meta.get("generation") or 1)
    stuck = ""
    for condition in status.get("conditions") or [] if current else []:  # an older generation's verdict is stale
        if condition.get("type") == "Progressing" and condition.get("status") == "False":
            stuck = f"{condition.get('reason', '')}: {condition.get('message', '')}".strip(": ")
    ready = current and want > 0 and updated >= want and available >= want and total == updated
    if not current:
        summary = "waiting for the Deployment controller to observe the latest generation"
    else:
        summary = f"{available}/{want} available" if updated >= want else f"{updated}/{want} updated, " \
                                                                         f"{available}/{want} available"
        if total > updated:
            summary += f", {total - updated} old replica(s) terminating"
    detail = "; ".join(part for part in (pods_problem, stuck) if part)
    if detail and not ready:
        summary = f"{summary} ({detail})"
    return Rollout(ready, summary, stuck)


_POD_WAITING_PROBLEMS = ("CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError",
                         "CreateContainerError", "InvalidImageName", "RunContainerError")


def pods_problem(pods: Iterable[Mapping[str, Any]]) -> str:
    """The most telling reason why these Pods are not ready, or "" when none is visible."""
    found: list[str] = []
    for pod in pods:
        status = pod.get("status") or {}
        for condition in status.get("conditions") or []:
            if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
                found.append(f"{condition.get('reason', 'Unschedulable')}: {condition.get('message', '')}".strip(": "))
        for container in status.get("containerStatuses") or []:
            waiting = (container.get("state") or {}).get("waiting") or {}
            reason = waiting.get("reason", "")
            if reason in _POD_WAITING_PROBLEMS:
                restarts = int(container.get("restartCount") or 0)
                detail = f" ({restarts} restarts)" if restarts else ""
                message = waiting.get("message", "")
                found.append(f"{reason}: container {container.get('name', '?')}{detail}"
                             + (f": {message}" if message else ""))
    if not found:
        return ""
    first = found[0]
    return first if len(found) == 1 else f"{first} (and {len(found) - 1} more)"


# --------------------------------------------------------------------------- bad input


def problem(spec: model.CanarySpec, target: Mapping[str, Any] | None, primary: Mapping[str, Any] | None,
            services: Mapping[str, Mapping[str, Any] | None], neighbours: Iterable[Mapping[str, Any]], *,
            namespace: str, owner: str) -> tuple[str, str] | None:
    """(reason, message) when the controller must not touch anything, else None."""
    n = names(spec)
    if target is None:
        return "TargetNotFound", f"Deployment {namespace}/{n.target} (targetRef) not found"
    selector = match_labels(target)
    if selector is None:
        return "UnsupportedSelector", (f"Deployment {n.target}: only a selector with matchLabels (and no "
                                       "matchExpressions) can be copied to the primary")
    wanted = spec.service.effective_target_port()
    declared = [(p.get("containerPort"), p.get("name")) for c in (template(target).get("spec") or {}).get(
        "containers") or [] for p in c.get("ports") or []]
    if not any(wanted in (number, name) for number, name in declared):
        listed = ", ".join(f"{number}" + (f" ({name})" if name else "") for number, name in declared) or "none"
        return "PortNotFound", (f"Deployment {n.target} declares no container port {wanted!r} "
                                f"(service.targetPort); declared: {listed}")
    if primary is not None and not owned_by(primary, owner):
        return "PrimaryConflict", f"Deployment {n.primary} exists and is not managed by this Canary"
    for name, found in services.items():
        if found is not None and not owned_by(found, owner):
            return "ServiceConflict", f"Service {name} exists and is not managed by this Canary"
    mine = primary_labels(selector)
    for other in neighbours:
        other_name = (other.get("metadata") or {}).get("name")
        if other_name in (n.target, n.primary):
            continue
        other_selector = match_labels(other) or {}
        other_labels = (template(other).get("metadata") or {}).get("labels") or {}
        if _selects(other_selector, mine) or _selects(mine, other_labels):
            return "SelectorClash", (f"Deployment {other_name} would share pods with the primary "
                                     f"{n.primary} (selector {_labels(mine)}): rename its labels or the target's")
    return None


def _labels(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


# --------------------------------------------------------------------------- what the adapter saw


@dataclasses.dataclass(frozen=True)
class RouteAdoption:
    """One route as initialization and deletion see it."""

    namespace: str
    name: str
    found: bool
    app_refs: tuple[tuple[int, int, dict[str, Any]], ...] = ()  # refs to the app's Service
    adopted: bool = False  # some rule references both primary and canary
    kind: RouteKind = RouteKind.HTTP_ROUTE

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclasses.dataclass(frozen=True)
class WorkloadObservation:
    """The Deployments, Services, tracked configuration and routes of a workload-form Canary, as just read.

    ``configs`` holds the target's tracked ConfigMaps and Secrets (empty unless
    ``trackConfigs``), ``config_problem`` why they could not be read; ``primary_copies`` the
    primary's copies, read only on deletion.
    """

    uid: str | None
    target: Mapping[str, Any] | None
    primary: Mapping[str, Any] | None
    services: Mapping[str, Mapping[str, Any] | None]  # primary and canary Service names -> object
    neighbours: tuple[Mapping[str, Any], ...] = ()  # every Deployment in the namespace
    target_pods_problem: str = ""
    primary_pods_problem: str = ""
    routes: tuple[RouteAdoption, ...] = ()
    configs: Mapping[ConfigRef, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    config_problem: str = ""
    primary_copies: Mapping[ConfigRef, Mapping[str, Any] | None] = dataclasses.field(default_factory=dict)

    @property
    def target_revision(self) -> str | None:
        return release_of(self.target, self.configs)

    def target_rollout(self) -> Rollout:
        return rollout(self.target, pods_problem=self.target_pods_problem)

    def primary_rollout(self) -> Rollout:
        return rollout(self.primary, pods_problem=self.primary_pods_problem)


def release_of(target: Mapping[str, Any] | None,
               configs: Mapping[ConfigRef, Mapping[str, Any]] | None = None) -> str | None:
    """The release a workload-form Canary rolls out: the revision of the target's template and
    tracked configuration."""
    return None if target is None else revision(template(target), config_tracking.fingerprint(configs or {}))


def service_differs(found: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> bool:
    if found is None:
        return True
    have, want = found.get("spec") or {}, desired["spec"]
    return have.get("selector") != want["selector"] or [
        {k: p.get(k) for k in ("name", "port", "targetPort", "appProtocol")} for p in have.get("ports") or []] != [
        {k: p.get(k) for k in ("name", "port", "targetPort", "appProtocol")} for p in want["ports"]]
