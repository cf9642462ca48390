"""The local kubelet: registers the one Node and runs the Pods bound to it as local processes.

Each Pod bound to the node gets a worker (as the kubelet's pod workers): it gives the Pod
its own loopback IP, starts its containers through :mod:`runtime`, and writes the Pod's
status (:mod:`podstatus`) whenever a container changes. Deletion is graceful as on a node:
the API server only sets ``deletionTimestamp``; the worker stops the containers (SIGTERM,
SIGKILL after ``terminationGracePeriodSeconds``, capped) and then removes the Pod with a
zero grace period. A Pod removed at once (``--force``) has its processes killed. On stop,
every process is killed; nothing the kubelet started outlives the emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
import pathlib
import shutil
import tempfile
from typing import Any

import kmock

from routeshift.emulator import discovery
from routeshift.emulator.workloads import (environment, informers, network, objects, podstatus, runtime,
                                           scheduling, settings, writes)

logger = logging.getLogger(__name__)
HOST_IP = "127.0.0.1"
_NODE_KEY = ("", "<node>")


def _now() -> str:
    return objects.rfc3339(datetime.datetime.now(tz=datetime.UTC))


class Kubelet:
    """The node agent; a controller of Pods whose ``spec.nodeName`` is its node."""

    watches = (informers.PODS, informers.NODES)

    def __init__(self, cache: informers.Cache, writer: writes.Writer, config: settings.WorkloadSettings) -> None:
        self.cache = cache
        self.writer = writer
        self.config = config
        self.node_name = config.node_name
        self.queue = informers.Queue()
        self.catalogue = config.catalogue()
        self.network = network.PodNetwork(config.pod_network)
        self._own_logs = config.log_dir is None
        self.log_root = pathlib.Path(config.log_dir or tempfile.mkdtemp(prefix="routeshift-kubelet-"))
        self.workers: dict[str, PodWorker] = {}  # by Pod uid: a recreated Pod of the same name is another Pod

    # ---------------------------------------------------------------- node

    def register(self) -> None:
        """Create the Node if it is missing and report it Ready; mark it as a graceful-deletion node."""
        self.writer.ops.kubelet_nodes.add(self.node_name)
        node = self.writer.read(informers.NODES, None, self.node_name)
        if node is None:
            node = self.writer.create(informers.NODES, scheduling.node(self.node_name, self.config.node_labels))
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        status = scheduling.node_status(self.node_name, host_ip=HOST_IP, cpus=os.cpu_count() or 1,
                                        memory_bytes=memory, pods=10000,
                                        kubelet_version=discovery.SERVER_VERSION["gitVersion"],
                                        previous=node.get("status"), now=_now())
        self.writer.update_status(informers.NODES, node, status)

    # ---------------------------------------------------------------- events

    def changed(self, kind: informers.Kind, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
        if kind == informers.NODES:
            if after is None and before is not None and objects.meta(before).get("name") == self.node_name:
                self.queue.add(_NODE_KEY)  # someone deleted our Node: register again, as a kubelet does
            return
        for pod in (before, after):
            if pod is not None and (pod.get("spec") or {}).get("nodeName") == self.node_name:
                self.queue.add(objects.key_of(pod))
                return

    def resync(self) -> None:
        for pod in self.cache.list(informers.PODS):
            if (pod.get("spec") or {}).get("nodeName") == self.node_name:
                self.queue.add(objects.key_of(pod))

    def sync(self, key: tuple[str, str]) -> float | None:
        if key == _NODE_KEY:
            self.register()
            return None
        pod = self.cache.get(informers.PODS, *key)
        for pod_uid, worker in list(self.workers.items()):
            if worker.key == key and (pod is None or objects.uid(pod) != pod_uid):
                worker.gone()
        if pod is None or (pod.get("spec") or {}).get("nodeName") != self.node_name:
            return None
        worker = self.workers.get(objects.uid(pod))
        if worker is None:
            if (pod.get("status") or {}).get("phase") in objects.TERMINAL_PHASES and not objects.deleting(pod):
                return None  # ran to completion: nothing left to run
            worker = PodWorker(self, pod)
            self.workers[worker.uid] = worker
            worker.start()
        worker.poke()
        return None

    # ---------------------------------------------------------------- for tests and shutdown

    def pids(self) -> dict[tuple[str, str, str], int]:
        """(namespace, pod, container) → PID of each running container process."""
        found = {}
        for worker in self.workers.values():
            for container in worker.containers:
                if container.pid is not None:
                    found[(*worker.key, container.name)] = container.pid
        return found

    async def shutdown(self) -> None:
        """Stop every container (SIGTERM, SIGKILL after ``stop_timeout``) and forget the node."""
        self.writer.ops.kubelet_nodes.discard(self.node_name)
        workers = list(self.workers.values())
        try:
            await asyncio.gather(*(worker.shutdown(self.config.stop_timeout) for worker in workers),
                                 return_exceptions=True)
        finally:
            for worker in workers:  # whatever resisted, or was started meanwhile
                for container in worker.containers:
                    container.kill()
            self.network.close()
            if self._own_logs:
                shutil.rmtree(self.log_root, ignore_errors=True)


class PodWorker:
    """Runs one Pod: its IP, its containers, its status, its graceful end."""

    def __init__(self, kubelet: Kubelet, pod: dict[str, Any]) -> None:
        self.kubelet = kubelet
        self.key = objects.key_of(pod)
        self.uid = objects.uid(pod)
        self.ip: str | None = None
        self.start_time = _now()
        self.containers: list[runtime.Container] = []
        self._wake = asyncio.Event()
        self._gone = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"pod {self.key[0]}/{self.key[1]}")

    def poke(self) -> None:
        self._wake.set()

    def gone(self) -> None:
        """The Pod was removed without waiting for us: kill its processes now."""
        self._gone = True
        for container in self.containers:
            container.kill()
        self.poke()

    def _current(self) -> dict[str, Any] | None:
        pod = self.kubelet.writer.read(informers.PODS, *self.key)
        return pod if pod is not None and objects.uid(pod) == self.uid else None

    async def _run(self) -> None:
        try:
            pod = self._current()
            if pod is None:
                return
            self.ip = self.kubelet.network.allocate()
            self.containers = [self._container(spec, pod) for spec in (pod.get("spec") or {}).get("containers") or ()]
            if not objects.deleting(pod):
                for container in self.containers:
                    container.start()
            while True:
                self._wake.clear()
                pod = self._current()
                if pod is None or self._gone:
                    await asyncio.gather(*(container.stop(0) for container in self.containers))
                    return
                if objects.deleting(pod):
                    await self._terminate(pod)
                    return
                self._write(pod)
                await self._wake.wait()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("the pod worker for %s/%s failed", *self.key)
            for container in self.containers:
                container.kill()
        finally:
            if self.ip is not None:
                self.kubelet.network.release(self.ip)
            self.kubelet.workers.pop(self.uid, None)

    def _container(self, spec: dict[str, Any], pod: dict[str, Any]) -> runtime.Container:
        assert self.ip is not None
        writer = self.kubelet.writer

        def lookup(plural: str, namespace: str, name: str) -> dict[str, Any] | None:
            return writer.read(("", plural), namespace, name)
        env = environment.resolve(spec, pod, pod_ip=self.ip, host_ip=HOST_IP, lookup=lookup)
        meta = objects.meta(pod)
        log_dir = self.kubelet.log_root / f"{meta.get('namespace')}_{meta.get('name')}_{self.uid}"
        return runtime.Container(spec, pod=pod, host=self.ip, env=env, log_dir=log_dir, config=self.kubelet.config,
                                 catalogue=self.kubelet.catalogue, changed=self.poke)

    def _write(self, pod: dict[str, Any]) -> None:
        status = podstatus.build(pod, [container.view() for container in self.containers], pod_ip=self.ip,
                                 host_ip=HOST_IP, start_time=self.start_time, now=_now())
        try:
            self.kubelet.writer.update_status(informers.PODS, pod, status)
        except kmock.KubernetesError as error:  # the Pod went away meanwhile: the next turn sees it
            logger.debug("status of pod %s/%s not written: %s", *self.key, error)

    async def _terminate(self, pod: dict[str, Any]) -> None:
        grace = objects.meta(pod).get("deletionGracePeriodSeconds") or 0
        grace = min(float(grace), self.kubelet.config.termination_grace_cap)
        await asyncio.gather(*(container.stop(grace) for container in self.containers))
        pod = self._current()
        if pod is None:
            return
        self._write(pod)
        pod = self._current()
        if pod is None:
            return
        with contextlib.suppress(kmock.KubernetesError):
            self.kubelet.writer.delete(informers.PODS, pod, grace_period=0)

    async def shutdown(self, grace: float) -> None:
        await asyncio.gather(*(container.stop(grace) for container in self.containers), return_exceptions=True)
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
