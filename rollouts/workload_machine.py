"""The state machine for workload-form Canaries: the route machine plus the Deployments' lifecycle.

A Canary with ``targetRef`` rolls out revisions of the user's Deployment (Flagger's model):

- **Initialization** creates ``<target>-primary`` (the target's pod template, labels
  rewritten) and the Services ``<target>-primary`` and ``<target>-canary``, waits until the
  primary is ready, records the route's backendRefs to the app's Service and then replaces
  them by primary (all traffic) + canary (none), lets the route machine settle that, and
  scales the target to zero.
- **A new revision** of the target's pod template is a new release: the target is scaled up
  as the canary and no weight moves until it is ready (``observedGeneration``,
  ``updatedReplicas``, ``availableReplicas``); a canary that never gets ready is rolled back
  by the progress deadline, or at once when its Deployment reports
  ``ProgressDeadlineExceeded``, naming the Pods' problem (crash loop, image pull, not
  schedulable). Then the steps and analysis run exactly as in the Service form.
- **Promotion** copies the template to the primary, waits for the primary's rollout, sends
  all traffic to the primary and scales the canary to zero. **Rollback** sends all traffic
  to the primary, scales the canary to zero and names the failed revision in status.
- **Deletion** scales the target back up, waits for it, hands the route its original
  backendRefs back (byte-identical spec) and deletes what initialization created.
- With ``trackConfigs`` a revision covers the referenced ConfigMaps and Secrets too
  (``rollouts.config_tracking``): the primary reads copies of them, written before the
  primary itself whenever the primary is (re)created from a revision, deleted with it.

The route machine (``rollouts.machine``) sees the spec in Service form (primary as stable,
the target's Service as canary, the template revision as release) and is reused as is;
this subclass adds the workload decisions around its phases. Pure, like the route machine.
"""

from __future__ import annotations

import datetime

from rollouts import actions, config_tracking, machine, model, steps, workloads
from rollouts.machine import Decision, _Machine
from rollouts.model import ConditionStatus as C, Phase
from rollouts.observations import Observations
from rollouts.workloads import WorkloadObservation

_IDLE = frozenset({Phase.INITIALIZED, Phase.SUCCEEDED, Phase.FAILED})


def decide(spec: model.CanarySpec, status: model.CanaryStatus, observations: Observations, *, owner: str,
           namespace: str, now: datetime.datetime) -> Decision:
    """Decide for a workload-form ``spec`` (``targetRef`` set); ``observations.workload`` is required."""
    return Decision(*WorkloadMachine(spec, status, observations, now, owner=owner, namespace=namespace).run())


def pods_matter(status: model.CanaryStatus) -> bool:
    """True while a Deployment this Canary runs may be on its way to ready (initialization, a
    canary revision not ready yet, a promotion, a rollback, a deletion): then its Pods say why
    it is not (crash loop, image pull, unschedulable), and Pods are not watched, so the
    adapter polls instead of sleeping until the next due time."""
    if status.phase in (model.Phase.INITIALIZED, model.Phase.SUCCEEDED, model.Phase.FAILED):
        return False
    return not (status.phase == model.Phase.PROGRESSING and status.workload is not None
                and status.workload.canary_ready)


def quiet(spec: model.CanarySpec, status: model.CanaryStatus, target: dict | None, *, release: str | None,
          generation: int, annotations: dict) -> bool:
    """An idle workload Canary whose target has no new revision (``release``: its template's and
    tracked configuration's) and is scaled down: nothing to do."""
    route_spec = workloads.service_form(spec, release)
    return (target is not None and workloads.replicas(target) == 0 and status.workload is not None
            and machine.quiet(route_spec, status, generation=generation, annotations=annotations))


class WorkloadMachine(_Machine):
    def __init__(self, spec: model.CanarySpec, status: model.CanaryStatus, obs: Observations,
                 now: datetime.datetime, *, owner: str, namespace: str):
        assert obs.workload is not None, "workload form needs a WorkloadObservation"
        self.w: WorkloadObservation = obs.workload
        self.workload_spec = spec
        self.names = workloads.names(spec)
        self.namespace = namespace
        self.owner = workloads.Owner(namespace=namespace, name=owner, uid=self.w.uid)
        self.owner_name = owner
        # While initializing, a changed template is not a release yet (the primary may not exist).
        release = status.release if status.phase == Phase.INITIALIZING else self.w.target_revision
        super().__init__(workloads.service_form(spec, release), status, obs, now)

    # ------------------------------------------------------------------ entry

    def run(self):
        status, w = self.status, self.w
        if not self.obs.deleting and w.target is not None and status.workload is None:
            # First sight: the target's revision is what runs today, not something to roll out.
            status.workload = model.WorkloadStatus(
                revision=w.target_revision, images=workloads.images(workloads.template(w.target)),
                replicas=max(workloads.replicas(w.target), 1))
            status.release = w.target_revision
        ws = status.workload
        if (ws is not None and not self.obs.deleting and status.phase in _IDLE and w.target_revision is not None
                and w.target_revision != status.release and w.target_revision == ws.revision):
            # Changed back to what the primary runs: nothing to roll out.
            status.release = w.target_revision
            self.j.log(f"{self.names.target} is back at revision {ws.revision}, which the primary runs: "
                       "nothing to roll out")
        return super().run()

    def _problem(self) -> tuple[str, str] | None:
        w = self.w
        found = workloads.problem(self.workload_spec, w.target, w.primary, w.services, w.neighbours,
                                  namespace=self.namespace, owner=self.owner_name)
        if found is not None:
            return found
        if w.config_problem:
            return "ConfigNotReadable", w.config_problem
        if self.status.phase != Phase.INITIALIZING:
            return super()._problem()
        for route in w.routes:
            if not route.found:
                return "RouteNotFound", f"{route.kind.value} {route.label} not found"
            if not route.app_refs and not route.adopted:
                return "AppNotInRoute", (f"{route.kind.value} {route.label} has no backendRef to Service "
                                         f"{self.names.app} "
                                         "(service.name, default the targetRef's name): nothing to take over")
        return None

    # ------------------------------------------------------------------ initialization

    def _initialize(self) -> None:
        status, j, w = self.status, self.j, self.w
        ws = status.workload
        assert ws is not None and w.target is not None
        if status.step_started_at is None:
            status.step_started_at = self.now
        if w.target_revision != ws.revision and w.primary is None:
            # Changed before the primary existed: the primary starts from the newest template.
            ws.revision, status.release = w.target_revision, w.target_revision
            ws.images = workloads.images(workloads.template(w.target))
        if self._ensure_objects(pod_template=workloads.template(w.target) if w.primary is None else None):
            j.hold(f"initializing: creating {self.names.primary} and Services {self.names.primary}, "
                   f"{self.names.canary}")
            return
        primary = w.primary_rollout()
        if not primary.ready:
            self._initialization_late(f"waiting for Deployment {self.names.primary}: {primary.summary}")
            return
        pending = [r for r in w.routes if not r.adopted]
        if pending:
            recorded = {(a.namespace, a.name, a.kind) for a in ws.adopted_routes}
            unrecorded = [r for r in pending if (r.namespace, r.name, r.kind) not in recorded]
            if unrecorded:
                # Recorded first, written next time: a crash between the two cannot lose the originals.
                for route in unrecorded:
                    ws.adopted_routes.append(model.AdoptedRoute(
                        namespace=route.namespace, name=route.name, kind=route.kind,
                        original_refs=[{"rule": r, "index": i, "ref": ref} for r, i, ref in route.app_refs]))
                j.hold(f"initializing: recorded the backendRefs to {self.names.app} in "
                       f"{', '.join(r.label for r in unrecorded)}; handing them to {self.names.primary}")
                return
            for route in pending:
                j.actions.append(actions.AdoptRoute(
                    namespace=route.namespace, name=route.name, app=self.names.app,
                    primary=self.spec.stable, canary=self.spec.canary, kind=route.kind))
            j.hold(f"initializing: pointing {', '.join(r.label for r in pending)} at {self.names.primary} "
                   f"(100%) and {self.names.canary} (0%)")
            return
        super()._initialize()  # settles primary 100%; the target is scaled down once INITIALIZED

    def _initialization_late(self, why: str) -> None:
        """Hold; once the progress deadline passed, say so with Stalled (nothing to roll back to yet)."""
        j = self.j
        if j.seconds_since(self.status.step_started_at) > self.spec.progress_deadline_seconds:
            self.stall = ("PrimaryNotReady", why)
        j.hold(f"initializing: {why}")

    def _ensure_objects(self, *, pod_template: dict | None) -> bool:
        """Create the primary (from ``pod_template``) and the Services when missing; True if any was."""
        w, names, spec = self.w, self.names, self.workload_spec
        wrote = False
        if w.primary is None and pod_template is not None:
            self._write_primary(pod_template)
            wrote = True
        selector = workloads.match_labels(w.target) or {}
        for name, labels in ((names.primary, workloads.primary_labels(selector)), (names.canary, selector)):
            desired = workloads.service(name, selector=labels, spec=spec, owner=self.owner)
            if workloads.service_differs(w.services.get(name), desired):
                self.j.actions.append(actions.ApplyObject(desired))
                wrote = True
        return wrote

    def _write_primary(self, pod_template: dict | None = None) -> None:
        """The primary's copies of the tracked configuration first, then the primary reading them."""
        w = self.w
        for ref, found in w.configs.items():
            self.j.actions.append(actions.ApplyObject(config_tracking.primary_copy(
                ref, found, self.owner.metadata(ref.primary.name))))
        self.j.actions.append(actions.ApplyObject(workloads.primary_deployment(
            w.target, name=self.names.primary, owner=self.owner, replica_count=self.status.workload.replicas,
            pod_template=pod_template, configs=w.configs)))

    def _scale_target(self, replicas: int) -> None:
        if self.w.target is not None and workloads.replicas(self.w.target) != replicas:
            self.j.actions.append(actions.ScaleDeployment(self.namespace, self.names.target, replicas))

    # ------------------------------------------------------------------ idle phases

    def _step_phase(self) -> None:
        super()._step_phase()
        if self.status.phase in _IDLE and self.w.target_revision == self.status.release:
            # Between rollouts the target is only a template: its pods would serve nobody.
            self._scale_target(0)

    # ------------------------------------------------------------------ rollout

    def _start(self, reason: str) -> None:
        w, ws = self.w, self.status.workload
        canary_images = workloads.images(workloads.template(w.target)) if w.target is not None else {}
        tracked = "".join(f", {ref.label}" for ref in w.configs)
        super()._start(f"revision {self.spec.release} of {self.names.target} "
                       f"({workloads.describe_images(canary_images)}{tracked}) detected"
                       if reason.startswith("release") else reason)
        ws.canary_images = canary_images
        ws.canary_ready = False

    def _progress(self, depth: int) -> None:
        status = self.status
        if not (self.spec.paused or status.manual_pause) and not self._canary_ready():
            return
        super()._progress(depth)

    def _canary_ready(self) -> bool:
        """Scale the canary up and hold (weights at stable until it is first ready) until it is."""
        status, j, ws = self.status, self.j, self.status.workload
        self._scale_target(ws.replicas)
        found = self.w.target_rollout()
        if found.ready and self.w.target_revision == status.release:
            if not ws.canary_ready:
                ws.canary_ready = True
                status.last_progress_at = self.now
                j.log(f"canary {self.names.target} ready ({found.summary}): rolling out revision {status.release}")
            return True
        why = f"waiting for canary Deployment {self.names.target} to be ready: {found.summary}"
        if found.stuck:
            self._rollback(f"canary {self.names.target} did not become ready: {found.summary}", result="failed")
            return False
        if self._deadline_exceeded():
            return False
        if not ws.canary_ready:
            j.set_weights(0)
            self._settle(steps.STABLE_ONLY, timeout_from=status.step_started_at)
        j.hold(why)
        return False

    def _promoted(self) -> None:
        super()._promoted()
        self.j.log(f"{self.names.canary} carries all traffic; copying revision {self.status.release} to "
                   f"{self.names.primary}")

    def _finalise(self) -> None:
        status, j, w, ws = self.status, self.j, self.w, self.status.workload
        if w.target_revision != status.release:
            # Changed again while promoting: what was analysed is no longer what the target runs.
            status.live_backend = self.spec.stable
            self._start(f"revision {w.target_revision} of {self.names.target} replaced {status.release} "
                        "while promoting")
            self._progress(depth=0)
            return
        if workloads.primary_revision(w.primary) != status.release:
            self._write_primary()
            j.hold(f"promoting: copying revision {status.release} to {self.names.primary}")
            return
        primary = w.primary_rollout()
        if not primary.ready:
            j.hold(f"promoting: waiting for Deployment {self.names.primary}: {primary.summary}")
            return
        j.set_weights(0)
        settled, why = self._settle(steps.STABLE_ONLY, timeout_from=None)
        if not settled and not all(r.carries(self._shaped(steps.STABLE_ONLY)) for r in self.obs.routes):
            j.hold(f"promoting: {why}")
            return
        self._scale_target(0)
        ws.revision, ws.images, ws.canary_ready = status.release, dict(ws.canary_images), False
        status.previous_backend = None
        status.live_backend = self.spec.stable
        status.finished_at = self.now
        status.result = "succeeded"
        j.condition("Promoted", C.TRUE, "Succeeded", f"revision {status.release} promoted")
        j.actions.append(actions.RecordRolloutResult("succeeded", j.seconds_since(status.rollout_started_at)))
        j.transition(Phase.SUCCEEDED, f"revision {status.release} ({workloads.describe_images(ws.images)}) "
                     f"promoted: {self.names.primary} runs it and serves all traffic", event_reason="Succeeded")

    def _rollback(self, reason: str, *, result: str, verdict=None) -> None:
        ws = self.status.workload
        if ws is not None and self.status.release:
            ws.failed = model.FailedRevision(revision=self.status.release, images=dict(ws.canary_images),
                                             reason=reason, time=self.now)
        super()._rollback(reason, result=result, verdict=verdict)

    def _rolling_back(self) -> None:
        super()._rolling_back()  # once FAILED, _step_phase scales the canary down
        if self.status.phase == Phase.FAILED:
            self.status.workload.canary_ready = False

    def _undo(self) -> None:
        self.j.event("OperationRejected", "undo: not available for a Deployment target: the primary already runs "
                     "the promoted revision; roll back by changing the Deployment's template", warning=True)

    # ------------------------------------------------------------------ deletion

    def _terminate(self) -> None:
        """Target back up, route handed back as the user wrote it, created objects removed."""
        status, j, w, ws = self.status, self.j, self.w, self.status.workload
        names = self.names
        if status.phase == Phase.TERMINATED:
            return  # done already: kopf may run the delete handler once more from an older event
        if ws is None:
            j.transition(Phase.TERMINATED, "never took over the Deployment: nothing to restore",
                         event_reason="Terminated")
            return
        if status.phase != Phase.TERMINATING:
            j.transition(Phase.TERMINATING, f"deleted: scaling {names.target} back up and handing "
                         f"{', '.join(a.namespace + '/' + a.name for a in ws.adopted_routes) or 'the routes'} back",
                         event_reason="Terminating")
            status.step_started_at = self.now
        adopted = [r for r in w.routes if r.found and r.adopted]
        self._scale_target(ws.replicas or 1)
        if adopted and w.target is not None:
            target = w.target_rollout()
            waited = j.seconds_since(status.step_started_at)
            if not target.ready and waited < self.spec.progress_deadline_seconds:
                j.hold(f"deleted: waiting for {names.target} to be ready before handing the route back: "
                       f"{target.summary}")
                return
            if not target.ready:
                j.event("HandedBackUnready", f"{names.target} is not ready after {int(waited)}s "
                        f"({target.summary}); handing the routes back anyway", warning=True)
        if adopted and any(r.rules and not r.carries(steps.STABLE_ONLY) for r in self.obs.routes):
            # Controller-owned rules and mirror filters go first, with the weights at the primary.
            j.set_weights(0)
            self._write(steps.STABLE_ONLY, only=[r for r in self.obs.routes if r.rules])
            j.hold("deleted: removing the controller's rules before handing the routes back")
            return
        records = {(a.namespace, a.name, a.kind): a for a in ws.adopted_routes}
        for route in adopted:
            record = records.get((route.namespace, route.name, route.kind))
            if record is None:
                continue
            j.actions.append(actions.ReleaseRoute(
                namespace=route.namespace, name=route.name, primary=self.spec.stable, canary=self.spec.canary,
                original=tuple((o["rule"], o["index"], o["ref"]) for o in record.original_refs), kind=route.kind))
        if adopted:
            j.hold(f"deleted: handing {', '.join(r.label for r in adopted)} back to {names.app}")
            return
        for name in (names.primary,):
            if w.primary is not None:
                j.actions.append(actions.DeleteObject("apps/v1", "Deployment", "deployments", self.namespace, name))
        for name, found in w.services.items():
            if found is not None and workloads.owned_by(found, self.owner_name):
                j.actions.append(actions.DeleteObject("v1", "Service", "services", self.namespace, name))
        for ref, found in w.primary_copies.items():
            if found is not None and workloads.owned_by(found, self.owner_name):
                j.actions.append(actions.DeleteObject("v1", ref.kind, ref.plural, self.namespace, ref.name))
        j.set_weights(0)
        j.transition(Phase.TERMINATED, f"routes handed back to {names.app}, {names.target} scaled to "
                     f"{ws.replicas}, {names.primary} and its Services deleted", event_reason="Terminated")
