"""Workload form, the Kubernetes I/O: read the Deployments, Pods, Services and routes; carry out actions.

Thin like ``rollouts.patching``: what to read is fixed by ``rollouts.workloads``' needs and
what to write is decided by ``rollouts.workload_machine``; this module only performs it.
Writes follow the same discipline as route weights: an object is replaced with the
resourceVersion it was read at (a 409 re-reads and retries), a route is changed by a
resourceVersion-guarded JSON patch planned from the copy just read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import urllib.parse
from collections.abc import Mapping
from typing import Any

from rollouts import actions, config_tracking, errors, model, patching, route_adoption, workloads
from rollouts.config_tracking import ConfigRef
from rollouts.route_kinds import RouteId
from rollouts.workloads import RouteAdoption, WorkloadObservation

logger = logging.getLogger(__name__)

_CONFLICT_RETRIES = 5
_PLURALS = {"Deployment": "deployments", "Service": "services", config_tracking.CONFIG_MAP: "configmaps",
            config_tracking.SECRET: "secrets"}
_DATA_FIELDS = ("data", "binaryData", "type")  # what a ConfigMap or Secret holds instead of a spec


@dataclasses.dataclass(frozen=True)
class Read:
    """Objects this module already read in one reconciliation (routes by RouteId, Services by
    (namespace, name)), so that the route-side observation does not GET them a second time."""

    routes: Mapping[RouteId, dict[str, Any] | None]
    services: Mapping[tuple[str, str], dict[str, Any] | None]


def deployment_path(namespace: str, name: str | None = None) -> str:
    base = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    return base if name is None else f"{base}/{name}"


def _path(api_version: str, plural: str, namespace: str, name: str | None = None) -> str:
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    base = f"{prefix}/namespaces/{namespace}/{plural}"
    return base if name is None else f"{base}/{name}"


async def read_target(cluster: patching.Cluster, namespace: str, spec: model.CanarySpec) -> dict[str, Any] | None:
    return await cluster.get_deployment(namespace, spec.target_ref.name)


async def read_configs(cluster: patching.Cluster, namespace: str, spec: model.CanarySpec,
                       target: Mapping[str, Any] | None) -> tuple[dict[ConfigRef, Mapping[str, Any]], str]:
    """The target's tracked ConfigMaps and Secrets (``trackConfigs``), read concurrently; else none.

    The second item says why they could not all be read (RBAC): a revision computed from
    part of them would start a rollout of a change nobody made, so the machine must not act.
    """
    if not spec.track_configs or target is None:
        return {}, ""
    try:
        found = await _read_refs(cluster, namespace, config_tracking.references(workloads.template(target)))
    except errors.ApiError as error:
        if error.status != 403:
            raise
        return {}, (f"trackConfigs: the controller may not read what the Pods of {spec.target_ref.name} reference "
                    f"({error}); grant it (chart: controller.configTracking) or turn trackConfigs off")
    return config_tracking.tracked(found), ""


async def _read_refs(cluster: patching.Cluster, namespace: str,
                     refs: tuple[ConfigRef, ...]) -> dict[ConfigRef, Mapping[str, Any] | None]:
    found = await asyncio.gather(*(cluster.get(_path("v1", ref.plural, namespace, ref.name)) for ref in refs))
    return dict(zip(refs, found))


async def _primary_copies(cluster: patching.Cluster, namespace: str,
                          primary: Mapping[str, Any] | None) -> dict[ConfigRef, Mapping[str, Any] | None]:
    """The configuration copies the primary reads (named ``<name>-primary``): deletion removes them."""
    if primary is None:
        return {}
    refs = tuple(ref for ref in config_tracking.references(workloads.template(primary))
                 if ref.name.endswith(config_tracking.PRIMARY_SUFFIX))
    return await _read_refs(cluster, namespace, refs)


async def _pods(cluster: patching.Cluster, namespace: str, deployment: Mapping[str, Any] | None) -> list[dict]:
    selector = workloads.match_labels(deployment) if deployment else None
    if not selector:
        return []
    query = urllib.parse.urlencode({"labelSelector": ",".join(f"{k}={v}" for k, v in sorted(selector.items()))})
    found = await cluster.get(f"/api/v1/namespaces/{namespace}/pods?{query}")
    return list((found or {}).get("items") or [])


async def observe(cluster: patching.Cluster, namespace: str, uid: str | None, spec: model.CanarySpec,
                  target: dict[str, Any] | None, route_spec: model.CanarySpec, *, initializing: bool,
                  configs: Mapping[ConfigRef, Mapping[str, Any]], config_problem: str = "",
                  deleting: bool = False) -> tuple[WorkloadObservation, Read]:
    """Everything the workload machine looks at, fetched concurrently (the target and its tracked
    ``configs`` are already read), and the routes and Services it read on the way.

    The namespace's other Deployments (for a selector clash) are listed only while
    initializing and before the primary exists: that is when the primary's labels are
    chosen. A list is the costliest read of all (every Deployment of the namespace, whole),
    and 200 Canaries initializing at once would otherwise list 200 times per round.
    """
    names = workloads.names(spec)
    refs = spec.routes(namespace)
    primary, primary_svc, canary_svc, *fetched = await asyncio.gather(
        cluster.get_deployment(namespace, names.primary),
        cluster.get_service(namespace, names.primary),
        cluster.get_service(namespace, names.canary),
        *(cluster.get_route(*ref) for ref in refs))
    target_rollout, primary_rollout = workloads.rollout(target), workloads.rollout(primary)
    # Pods only matter while a Deployment is not ready: they say why (crash loop, image pull ...).
    target_pods, primary_pods, copies, neighbours = await asyncio.gather(
        _pods(cluster, namespace, target) if target and not target_rollout.ready else _ready([]),
        _pods(cluster, namespace, primary) if primary and not primary_rollout.ready else _ready([]),
        _primary_copies(cluster, namespace, primary) if deleting else _ready({}),
        cluster.get(deployment_path(namespace)) if initializing and primary is None else _ready({}))
    routes = tuple(
        RouteAdoption(namespace=ref.namespace, name=ref.name, found=route is not None,
                      app_refs=route_adoption.app_refs(route, names.app, namespace=namespace),
                      adopted=route_adoption.adopted(route, route_spec.stable, route_spec.canary), kind=ref.kind)
        for ref, route in zip(refs, fetched))
    observation = WorkloadObservation(
        uid=uid, target=target, primary=primary, services={names.primary: primary_svc, names.canary: canary_svc},
        neighbours=tuple((neighbours or {}).get("items") or ()),
        target_pods_problem=workloads.pods_problem(target_pods),
        primary_pods_problem=workloads.pods_problem(primary_pods), routes=routes, configs=configs,
        config_problem=config_problem, primary_copies=copies)
    return observation, Read(routes=dict(zip(refs, fetched)),
                             services={(namespace, names.primary): primary_svc, (namespace, names.canary): canary_svc})


async def _ready(value: Any) -> Any:
    """``value`` as an awaitable, for a read a ``gather`` skips."""
    return value


async def execute(cluster: patching.Cluster, action: actions.WorkloadAction, *, owner: str) -> None:
    """Carry out one workload action; idempotent, so a retry after a crash is harmless."""
    match action:
        case actions.ApplyObject(body=body):
            await _apply(cluster, body)
        case actions.ScaleDeployment(namespace=ns, name=name, replicas=replicas):
            cluster.wrote(await cluster.request("PATCH", deployment_path(ns, name),
                                                body={"spec": {"replicas": replicas}},
                                                content_type=patching.MERGE_PATCH))
        case actions.DeleteObject(api_version=version, plural=plural, namespace=ns, name=name):
            try:
                await cluster.request("DELETE", _path(version, plural, ns, name))
            except errors.NotFound:
                pass
        case actions.AdoptRoute(namespace=ns, name=name, kind=kind):
            await cluster.update_route(ns, name, lambda route: route_adoption.adopt_patch(route, action, namespace=ns),
                                       kind)
        case actions.ReleaseRoute(namespace=ns, name=name, kind=kind):
            await cluster.update_route(ns, name, lambda route: route_adoption.release_patch(route, action), kind)
    logger.info("canary %s: %s", owner, _describe(action))


def _describe(action: actions.WorkloadAction) -> str:
    match action:
        case actions.ApplyObject():
            return f"applied {action.label}"
        case actions.ScaleDeployment(namespace=ns, name=name, replicas=replicas):
            return f"scaled Deployment {ns}/{name} to {replicas}"
        case actions.DeleteObject(kind=kind, namespace=ns, name=name):
            return f"deleted {kind} {ns}/{name}"
        case actions.AdoptRoute(namespace=ns, name=name, app=app, kind=kind):
            return f"handed the backendRefs to {app} in {kind.value} {ns}/{name} to primary and canary"
        case actions.ReleaseRoute(namespace=ns, name=name, kind=kind):
            return f"restored the original backendRefs of {kind.value} {ns}/{name}"
    return repr(action)


async def _apply(cluster: patching.Cluster, body: dict[str, Any]) -> None:
    """Create, or replace spec/labels/annotations/owner of the live object (keeping its status)."""
    meta = body["metadata"]
    plural = _PLURALS[body["kind"]]
    path = _path(body["apiVersion"], plural, meta["namespace"], meta["name"])
    for attempt in range(1, _CONFLICT_RETRIES + 2):
        live = await cluster.get(path)
        try:
            if live is None:
                cluster.wrote(await cluster.request("POST", _path(body["apiVersion"], plural, meta["namespace"]),
                                                    body=body))
                return
            cluster.wrote(await cluster.request("PUT", path, body=_replacement(live, body)))
            return
        except errors.Conflict as error:  # 409: a stale resourceVersion, or created meanwhile
            logger.info("%s %s/%s changed under us (%s); re-reading, attempt %d", body["kind"], meta["namespace"],
                        meta["name"], error, attempt)
            await asyncio.sleep(min(0.05 * attempt, 0.5))
    raise errors.Conflict(409, f"{body['kind']} {meta['namespace']}/{meta['name']}: still conflicting")


def _replacement(live: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    meta = dict(live.get("metadata") or {})
    wanted = desired["metadata"]
    meta["labels"] = {**(meta.get("labels") or {}), **(wanted.get("labels") or {})}
    if wanted.get("annotations"):
        meta["annotations"] = {**(meta.get("annotations") or {}), **wanted["annotations"]}
    if wanted.get("ownerReferences"):
        meta["ownerReferences"] = wanted["ownerReferences"]
    replacement = {"apiVersion": desired["apiVersion"], "kind": desired["kind"], "metadata": meta}
    if desired["kind"] in (config_tracking.CONFIG_MAP, config_tracking.SECRET):
        replacement.update({field: desired[field] for field in _DATA_FIELDS if field in desired})
        return replacement
    spec = dict(desired["spec"])
    if desired["kind"] == "Service":
        # The API server allocated these; a replacement must keep them.
        for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if field in (live.get("spec") or {}):
                spec[field] = live["spec"][field]
    replacement["spec"] = spec
    return replacement
