"""How one controller replica copes with many Canaries in flight: reconcile latency and RSS.

    .venv/bin/python bench/controller_scale.py [--canaries 500] [--duration 150]
    .venv/bin/python bench/controller_scale.py --workloads [--canaries 200]
    .venv/bin/python bench/controller_scale.py --canaries 2000 --rolling 200

DESIGN.md section 7 and issue 4 ask that one replica drive 500 Canaries at once, with its
memory under 200 MB. Tests cannot answer that (they run one or two Canaries), so this
script builds the situation for real on loopback and measures it:

- the API emulator runs as its own process (``routeshift api-server``), so the controller's
  RSS is its own; the controller runs as ``routeshift controller``, as deployed;
- N Services pairs, N HTTPRoutes and N Canaries (default steps 5, 10, 20, 50, 100, an
  analysis interval without metrics, so each step dwells one interval and needs no
  Prometheus); a single watch on httproutes stands in for the Gateway and accepts every new
  route generation (``status.parents`` Accepted with ``observedGeneration``);
- whenever a Canary reaches Succeeded, the next release is patched in (services swapped, as
  a pipeline does), so the Canaries stay in flight for the whole window.

With ``--rolling N`` the window starts after a warm-up in which every Canary rolls out once,
and then only N are in flight at a time, each next release going to the Canary idle longest:
a fleet where some apps deploy while most sit at their last release, which tells what an idle
Canary costs. Without it, every Canary is in flight all the time (the worst case).

With ``--workloads`` every app is a Deployment (one Pod of an image the emulator's kubelet
marks ready without a process) with a Service and a route to it, and every Canary has
``targetRef``: initialization creates the primaries and adopts the routes, and each next
release is a new image in the Deployment's template, as ``kubectl set image`` does.

Measured: the time from a spec change (creation, release patch) until the Canary's status
carries it (``status.release`` and ``observedGeneration``), seen through a watch; the time
between successive route writes of a rollout against the dwell interval, split into the
stand-in gateway's acceptance, the controller's start of the dwell (``status.stepSettledAt``)
and the rest; what became of the controller's Events (``routeshift_events_total``); the controller's
own ``routeshift_reconcile_duration_seconds`` histogram; VmRSS/VmHWM and CPU of the
controller (and the emulator's CPU, since both share the machine) from ``/proc``. Every
process is stopped by PID at the end, also on Ctrl-C. The last line is
``controller scale: N canaries, spec change -> status p50 X ms, p99 Y ms, step overshoot p99 S s, peak RSS Z MB``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime
import itertools
import json
import os
import pathlib
import signal
import sys
import tempfile
import time
import urllib.request

import aiohttp
import yaml

from rollouts import workloads
from routeshift.testing import processes
from routeshift.testing.prometheus import PrometheusServer

ROOT = pathlib.Path(__file__).resolve().parent.parent
NAMESPACE = "scale"
ROUTES = f"/apis/gateway.networking.k8s.io/v1/namespaces/{NAMESPACE}/httproutes"
CANARIES = f"/apis/routeshift.dev/v1alpha1/namespaces/{NAMESPACE}/canaries"
SERVICES = f"/api/v1/namespaces/{NAMESPACE}/services"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments"
# The emulator's kubelet runs no process for this image: hundreds of Pods cost no CPU.
NO_PROCESS_IMAGE = "ghcr.io/routeshift/no-process"
MERGE = {"Content-Type": "application/merge-patch+json"}
# Phases in which a rollout runs (rollouts.model.ACTIVE_PHASES, read from status text here).
IN_FLIGHT = {"Progressing", "Paused", "WaitingPromotion", "Promoting", "Finalising", "RollingBack"}
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs, from the first line of /proc/stat."""
    values = [int(v) for v in pathlib.Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Proc:
    """VmRSS/VmHWM and CPU time of one process, from /proc."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak_rss = self.hwm = 0.0
        self.rss: list[float] = []

    def restart_peak(self) -> None:
        """Forget the peak so far (the kernel's VmHWM too): the measured window starts now."""
        try:
            pathlib.Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            pass  # not allowed here: VmHWM then still covers the warm-up
        self.peak_rss = self.hwm = 0.0
        self.rss.clear()
        self.sample()

    def memory(self) -> tuple[float, float]:
        fields = {}
        for line in pathlib.Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024  # kB -> MB
        return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)

    def sample(self) -> None:
        try:
            rss, hwm = self.memory()
        except OSError:
            return  # exited; the last sample stands
        self.rss.append(rss)
        self.peak_rss, self.hwm = max(self.peak_rss, rss), max(self.hwm, hwm)

    def cpu_seconds(self) -> float:
        try:
            stat = pathlib.Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return float("nan")
        fields = stat.rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICK  # utime + stime


class Rollouts:
    """What the bench asked for and what the Canaries' status and the routes show."""

    def __init__(self) -> None:
        self.pending: dict[str, tuple[str, float, str]] = {}  # name -> (release, asked at, kind)
        self.expected: dict[str, str] = {}  # name -> the release its status must reach
        self.started: dict[str, float] = {}  # name -> when its current release was asked for
        self.phase: dict[str, str] = {}
        self.release: dict[str, str] = {}
        self.canary_backend: dict[str, str] = {}
        self.rounds: dict[str, int] = {}
        self.last_write: dict[str, tuple[float, int, int]] = {}  # route -> (t, canary weight, generation)
        self.accepted_at: dict[tuple[str, int], float] = {}  # (route, generation) -> when it was accepted
        self.accepted_wall: dict[str, float] = {}  # route -> wall-clock time of its latest acceptance
        self.settled: dict[str, str] = {}  # name -> the stepSettledAt its status showed last
        self.meant_to_fail: set[tuple[str, str]] = set()  # --failing: (name, release) meant to fail
        self.restart_measurements()

    def restart_measurements(self) -> None:
        """Keep what the Canaries are, forget what was measured (also the warm-up of ``--rolling``)."""
        self.pickup: dict[str, list[float]] = {"create": [], "release": []}
        self.succeeded: list[float] = []  # rollout durations (asked -> Succeeded)
        self.reached_success: set[str] = set()
        self.failed: set[tuple[str, str]] = set()
        self.step_times: list[float] = []
        # The two parts of a step's overshoot: the stand-in gateway's (write -> its Accepted
        # status written) and the controller's (Accepted written -> next write, minus the dwell).
        self.accept_times: list[float] = []
        self.after_accept: list[float] = []
        # The controller's part, first half: Accepted written -> the dwell's start in the status
        # (stepSettledAt, wall clock); the rest is the end of the dwell -> the next route write.
        self.accept_to_dwell: list[float] = []
        self.rolled_back: list[float] = []  # --failing: failed analysis (accepted + dwell) -> rollback write
        self.release_patch: list[float] = []  # the bench's own release PATCH, sent -> answered by the API
        self.failed_as_meant = 0
        self.route_writes = 0

    def asked(self, name: str, release: str, kind: str, at: float) -> None:
        # Each release name is used once per Canary, so status.release == release means the
        # controller acted on this very change (status.release is set in the same status
        # write as observedGeneration).
        self.pending[name] = (release, at, kind)
        self.expected[name] = release
        self.started[name] = at

    def canary_event(self, obj: dict, at: float) -> str | None:
        """Record one watched Canary; returns its name when it just succeeded its release."""
        name = obj["metadata"]["name"]
        status = obj.get("status") or {}
        wanted = self.pending.get(name)
        if wanted and status.get("release") == wanted[0]:
            self.pickup[wanted[2]].append(at - wanted[1])
            del self.pending[name]
        settled = status.get("stepSettledAt")
        if settled and settled != self.settled.get(name):
            self.settled[name] = settled
            accepted = self.accepted_wall.pop(name, None)
            if accepted is not None:
                started = datetime.datetime.fromisoformat(settled.replace("Z", "+00:00")).timestamp()
                self.accept_to_dwell.append(started - accepted)
        phase, release = status.get("phase"), status.get("release")
        previous = (self.phase.get(name), self.release.get(name))
        self.phase[name], self.release[name] = phase, release
        if (phase, release) == previous or release != self.expected.get(name):
            return None
        if phase == "Succeeded":
            self.succeeded.append(at - self.started[name])
            self.reached_success.add(name)
            return name
        if phase == "Initialized" and obj["spec"].get("targetRef"):
            return name  # workload form: initialized on the running revision, ready for a new image
        if phase == "Failed":
            if (name, release) in self.meant_to_fail:
                self.failed_as_meant += 1
                self.canary_backend[name] = obj["spec"]["stable"]["name"]  # still live: the next release's stable
                return name  # rolled back as the bench meant: the next release follows
            self.failed.add((name, release))
        return None

    def route_written(self, name: str, route: dict, at: float) -> None:
        """A new route generation: the controller wrote weights. Time the weight steps."""
        self.route_writes += 1
        canary = self.canary_backend.get(name)
        weights = {ref.get("name"): ref.get("weight", 1) for rule in route["spec"]["rules"]
                   for ref in rule.get("backendRefs") or []}
        weight = weights.get(canary, 0)
        last = self.last_write.get(name)
        if last is not None and 0 < last[1] < 100 and weight > last[1]:
            self.step_times.append(at - last[0])  # a weight step of the same rollout: dwell + overhead
            accepted = self.accepted_at.pop((name, last[2]), None)
            if accepted is not None:
                self.accept_times.append(accepted - last[0])
                self.after_accept.append(at - accepted)
        elif last is not None and 0 < last[1] < 100 and weight == 0:
            # A rollback; with --failing its step's first interval failed the analysis, due one
            # dwell after the step was accepted.
            accepted = self.accepted_at.pop((name, last[2]), None)
            if accepted is not None and (name, self.expected.get(name)) in self.meant_to_fail:
                self.rolled_back.append(at - accepted)
        self.last_write[name] = (at, weight, route["metadata"]["generation"])

    def route_accepted(self, name: str, generation: int, at: float) -> None:
        self.accepted_at[(name, generation)] = at
        self.accepted_wall[name] = time.time()

    def in_flight(self) -> int:
        return sum(1 for phase in self.phase.values() if phase in IN_FLIGHT)


def objects(i: int, interval: float) -> tuple[str, list[dict], dict, dict]:
    """The Services, HTTPRoute and Canary of app ``i``."""
    name = f"app-{i:04d}"
    blue, green = f"{name}-blue", f"{name}-green"
    services = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": svc},
                 "spec": {"ports": [{"port": 80}]}} for svc in (blue, green)]
    route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": name},
             "spec": {"parentRefs": [{"name": "gw"}], "hostnames": [f"{name}.example.com"], "rules": [
                 {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                  "backendRefs": [{"name": blue, "port": 80, "weight": 100}, {"name": green, "port": 80, "weight": 0}]},
                 {"matches": [{"path": {"type": "PathPrefix", "value": "/static"}}],
                  "backendRefs": [{"name": "cdn", "port": 80}]}]}}
    canary = {"apiVersion": "routeshift.dev/v1alpha1", "kind": "Canary", "metadata": {"name": name},
              "spec": {"routeRef": {"name": name}, "stable": {"name": blue, "port": 80},
                       "canary": {"name": green, "port": 80}, "release": "r1",
                       "analysis": {"interval": f"{int(interval * 1000)}ms"}}}
    return name, services, route, canary


def workload_objects(i: int, interval: float) -> tuple[str, list[dict], dict, dict, dict]:
    """Workload form: the Deployment, the app's Service, the route to it and the Canary of app ``i``."""
    name = f"app-{i:04d}"
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                           "template": {"metadata": {"labels": {"app": name}},
                                        "spec": {"containers": [container(1)]}}}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
               "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
    route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": name},
             "spec": {"parentRefs": [{"name": "gw"}], "hostnames": [f"{name}.example.com"], "rules": [
                 {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                  "backendRefs": [{"name": name, "port": 80}]}]}}
    canary = {"apiVersion": "routeshift.dev/v1alpha1", "kind": "Canary", "metadata": {"name": name},
              "spec": {"routeRef": {"name": name}, "targetRef": {"name": name},
                       "service": {"port": 80, "targetPort": "http"},
                       "analysis": {"interval": f"{int(interval * 1000)}ms"}}}
    return name, [service], route, canary, deployment


def container(round_: int) -> dict:
    return {"name": "app", "image": f"{NO_PROCESS_IMAGE}:r{round_}", "ports": [{"name": "http", "containerPort": 80}]}


async def call(http: aiohttp.ClientSession, method: str, path: str, body=None, headers=None, ok=(200, 201)) -> dict:
    async with http.request(method, path, data=None if body is None else json.dumps(body),
                            headers=headers or {"Content-Type": "application/json"}) as response:
        text = await response.text()
        if response.status not in ok:
            raise RuntimeError(f"{method} {path}: {response.status} {text[:300]}")
        return json.loads(text) if text else {}


async def watch(http: aiohttp.ClientSession, path: str, on_event, stop: asyncio.Event) -> None:
    """List then watch ``path`` until ``stop``; ``on_event(type, obj, t)`` for every object change."""
    version = None
    while not stop.is_set():
        if version is None:
            listed = await call(http, "GET", path)
            now = time.monotonic()
            for obj in listed.get("items") or []:
                on_event("ADDED", obj, now)
            version = listed["metadata"]["resourceVersion"]
        url = f"{path}?watch=true&allowWatchBookmarks=true&timeoutSeconds=60&resourceVersion={version}"
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as response:
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                now = time.monotonic()
                for line in lines:
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event["type"] == "ERROR":
                        version = None  # 410 Gone: re-list
                        break
                    version = event["object"]["metadata"]["resourceVersion"]
                    if event["type"] != "BOOKMARK":
                        on_event(event["type"], event["object"], now)
                if version is None or stop.is_set():
                    break


class Gateway:
    """Accept every new route generation, like a Gateway that reports observedGeneration."""

    def __init__(self, http: aiohttp.ClientSession, rollouts: Rollouts):
        self.http, self.rollouts = http, rollouts
        self.accepted: dict[str, int] = {}
        self.queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()

    def on_event(self, kind: str, route: dict, at: float) -> None:
        if kind == "DELETED":
            return
        name, generation = route["metadata"]["name"], route["metadata"]["generation"]
        if self.accepted.get(name, 0) >= generation:
            return  # our own status write, or a generation already accepted
        if name in self.accepted:
            self.rollouts.route_written(name, route, at)
        self.accepted[name] = generation
        self.queue.put_nowait((name, generation))

    async def acceptor(self) -> None:
        while True:
            name, generation = await self.queue.get()
            condition = {"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
                         "observedGeneration": generation, "lastTransitionTime": "2026-01-01T00:00:00Z"}
            parent = {"parentRef": {"name": "gw"}, "controllerName": "routeshift.dev/gateway-proxy",
                      "conditions": [condition]}
            await call(self.http, "PATCH", f"{ROUTES}/{name}/status", {"status": {"parents": [parent]}},
                       headers=MERGE)
            self.rollouts.route_accepted(name, generation, time.monotonic())


def wait_for(predicate, timeout: float, what: str, process=None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:g}s")
        time.sleep(0.05)


def healthy(port: int) -> bool:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).status == 200
    except OSError:
        return False


async def scenario(args, work: pathlib.Path, started: list) -> dict:
    python = sys.executable
    kubeconfig = work / "kubeconfig"
    api = processes.start([python, "-m", "routeshift", "--log-level", "WARNING", "api-server", "--port",
                           str(processes.free_port()), "--kubeconfig", str(kubeconfig)],
                          log_path=work / "api-server.log", cwd=ROOT)
    started.append(api)
    wait_for(kubeconfig.exists, 30, "the API emulator", api)
    server = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    rollouts = Rollouts()
    stop = asyncio.Event()
    # The bench's own requests, the stand-in gateway's status writes, and a few watches and releases.
    connector = aiohttp.TCPConnector(limit=args.concurrency + args.gateway_workers + 8)
    async with aiohttp.ClientSession(base_url=server, connector=connector) as http:
        for path in sorted((ROOT / "crds").glob("*.yaml")):
            await call(http, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                       yaml.safe_load(path.read_text()))
        await call(http, "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                        "metadata": {"name": NAMESPACE}})
        if args.workloads:
            built = [workload_objects(i, args.interval) for i in range(args.canaries)]
            apps = [(name, services, route, canary) for name, services, route, canary, _ in built]
            deployments = {name: deployment for name, *_, deployment in built}
        else:
            apps = [objects(i, args.interval) for i in range(args.canaries)]
            deployments = {}
        limit = asyncio.Semaphore(args.concurrency)

        async def create(path: str, body: dict) -> dict:
            async with limit:
                return await call(http, "POST", path, body)

        setup = time.monotonic()
        await asyncio.gather(*(create(SERVICES, svc) for _, services, _, _ in apps for svc in services))
        created_deployments = dict(zip(deployments, await asyncio.gather(
            *(create(DEPLOYMENTS, body) for body in deployments.values()))))
        await asyncio.gather(*(create(ROUTES, route) for _, _, route, _ in apps))
        gateway = Gateway(http, rollouts)
        tasks = [asyncio.create_task(watch(http, ROUTES, gateway.on_event, stop))]
        tasks += [asyncio.create_task(gateway.acceptor()) for _ in range(args.gateway_workers)]
        setup = time.monotonic() - setup

        metrics_port = processes.free_port()
        prometheus = []
        if args.failing:
            # Real Prometheus, no scrape targets: the failing releases query the constant vector(1).
            server_ = PrometheusServer(work / "prometheus").start()
            started.append(server_)
            prometheus = ["--prometheus-url", server_.url]
        controller = processes.start(
            [python, "-m", "routeshift", "--log-level", args.log_level, "controller", "--kubeconfig", str(kubeconfig),
             "--namespace", NAMESPACE, "--metrics-address", f"127.0.0.1:{metrics_port}",
             "--poll-interval", str(args.poll_interval), *([] if args.watch_cache else ["--no-watch-cache"]),
             *prometheus],
            log_path=work / "controller.log", cwd=ROOT)
        started.append(controller)
        wait_for(lambda: healthy(metrics_port), 60, "the controller's /healthz", controller)
        proc, api_proc = Proc(controller.pid), Proc(api.pid)
        proc.sample()
        idle_rss = proc.peak_rss

        next_round = asyncio.Queue()

        def on_canary(kind: str, obj: dict, at: float) -> None:
            if kind != "DELETED":
                done = rollouts.canary_event(obj, at)
                if done is not None:
                    next_round.put_nowait(done)

        tasks.append(asyncio.create_task(watch(http, CANARIES, on_canary, stop)))
        cpu0 = (proc.cpu_seconds(), api_proc.cpu_seconds(), time.monotonic(), time.process_time(), machine_busy())

        async def create_canary(name: str, body: dict) -> None:
            async with limit:
                at = time.monotonic()
                if args.workloads:
                    # The release is the revision of the Deployment's template, as stored.
                    rollouts.asked(name, workloads.release_of(created_deployments[name]), "create", at)
                    rollouts.canary_backend[name] = f"{name}-canary"
                else:
                    rollouts.asked(name, "r1", "create", at)
                    rollouts.canary_backend[name] = body["spec"]["canary"]["name"]
                await call(http, "POST", CANARIES, body)

        begun = time.monotonic()
        await asyncio.gather(*(create_canary(name, body) for name, _, _, body in apps))
        created_in = time.monotonic() - begun
        idle: collections.deque[str] = collections.deque()
        if args.rolling:
            # Warm-up: every Canary rolls out its first release; the window starts once all are
            # Succeeded, and from then on only --rolling of them are in flight at a time.
            wait_until = time.monotonic() + args.warm_up
            while len(rollouts.reached_success) < args.canaries:
                if time.monotonic() > wait_until:
                    raise RuntimeError(f"warm-up: {len(rollouts.reached_success)} of {args.canaries} Canaries "
                                       f"Succeeded within {args.warm_up:g}s")
                if controller.poll() is not None:
                    raise RuntimeError(f"the controller exited; see {work}/controller.log")
                await asyncio.sleep(0.5)
            while not next_round.empty():
                idle.append(next_round.get_nowait())
            idle.extend(sorted(set(rollouts.phase) - set(idle)))
            rollouts.restart_measurements()
            proc.restart_peak()
            cpu0 = (proc.cpu_seconds(), api_proc.cpu_seconds(), time.monotonic(), time.process_time(), machine_busy())
            begun = time.monotonic()
            for _ in range(args.rolling):
                next_round.put_nowait(None)  # start that many rollouts on idle Canaries
        deadline = begun + args.duration

        async def release_again() -> None:
            # A pipeline: the next release behind the idle Service, stable and canary swapped.
            while True:
                name = await next_round.get()
                if args.rolling:
                    # The next release goes to the Canary that has waited longest, so that every
                    # Canary takes turns while --rolling of them are in flight.
                    if name is not None:
                        idle.append(name)
                    name = idle.popleft()
                if time.monotonic() > deadline - args.interval * 6:
                    continue  # could not finish inside the window: leave it Succeeded
                rollouts.rounds[name] = rollouts.rounds.get(name, 1) + 1
                if args.workloads:
                    # kubectl set image: a new template, the controller does the rest.
                    asked_at = time.monotonic()
                    patched = await call(http, "PATCH", f"{DEPLOYMENTS}/{name}", {"spec": {"template": {"spec": {
                        "containers": [container(rollouts.rounds[name])]}}}}, headers=MERGE)
                    rollouts.asked(name, workloads.release_of(patched), "release", asked_at)
                    rollouts.release_patch.append(time.monotonic() - asked_at)
                    continue
                blue, green = f"{name}-blue", f"{name}-green"
                stable, canary = (green, blue) if rollouts.canary_backend[name] == green else (blue, green)
                release = f"r{rollouts.rounds[name]}"
                rollouts.canary_backend[name] = canary
                analysis = {"metrics": []}
                if args.failing and next(released) % round(1 / args.failing) == 0:
                    # This release's analysis fails at its first interval: real Prometheus answers
                    # 1 for vector(1), above the bound; one failed interval is enough to roll back.
                    analysis = {"threshold": 1, "minSampleSize": 0, "metrics": [
                        {"name": "error-rate", "query": "vector(1)", "thresholdRange": {"max": 0.5}}]}
                    rollouts.meant_to_fail.add((name, release))
                asked_at = time.monotonic()
                rollouts.asked(name, release, "release", asked_at)
                await call(http, "PATCH", f"{CANARIES}/{name}", {"spec": {
                    "release": release, "stable": {"name": stable, "port": 80},
                    "canary": {"name": canary, "port": 80}, "analysis": analysis}}, headers=MERGE)
                rollouts.release_patch.append(time.monotonic() - asked_at)

        released = itertools.count(1)  # releases asked for after the first, to pick every --failing'th
        tasks += [asyncio.create_task(release_again()) for _ in range(4)]
        scrapes: list[float] = []
        if args.scrape_interval:
            tasks.append(asyncio.create_task(scrape_every(args.scrape_interval, metrics_port, scrapes)))
        in_flight: list[int] = []
        all_in_flight_at = None
        while time.monotonic() < deadline:
            proc.sample()
            api_proc.sample()
            in_flight.append(rollouts.in_flight())
            if all_in_flight_at is None and len(rollouts.started) == args.canaries and \
                    all(p in IN_FLIGHT | {"Succeeded"} for p in rollouts.phase.values()) and \
                    len(rollouts.phase) == args.canaries:
                all_in_flight_at = time.monotonic() - begun
            if controller.poll() is not None:
                raise RuntimeError(f"the controller exited with {controller.returncode}; see {work}/controller.log")
            for task in tasks:
                if task.done():
                    task.result()  # a watch or the acceptor failed: stop with its error
            await asyncio.sleep(0.5)
        cpu1 = (proc.cpu_seconds(), api_proc.cpu_seconds(), time.monotonic(), time.process_time(), machine_busy())
        proc.sample()
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
        events = len((await call(http, "GET", f"/api/v1/namespaces/{NAMESPACE}/events")).get("items") or [])
        never_picked = list(rollouts.pending)
        window = cpu1[2] - cpu0[2]
        return dict(rollouts=rollouts, proc=proc, idle_rss=idle_rss, setup=setup, created_in=created_in,
                    in_flight=in_flight, all_in_flight_at=all_in_flight_at, never_picked=never_picked,
                    cpu_controller=(cpu1[0] - cpu0[0]) / window, cpu_api=(cpu1[1] - cpu0[1]) / window,
                    cpu_bench=(cpu1[3] - cpu0[3]) / window,
                    machine=(cpu1[4][0] - cpu0[4][0]) / max(cpu1[4][1] - cpu0[4][1], 1) * os.cpu_count(),
                    reconciles=histogram(metrics, "routeshift_reconcile_duration_seconds"), events=events,
                    api_requests=labelled(metrics, "routeshift_api_requests_total"),
                    cache_reads=labelled(metrics, "routeshift_cache_reads_total"),
                    event_results={labels["result"]: n for labels, n in labelled(metrics, "routeshift_events_total")},
                    events_queued=next((float(line.split()[-1]) for line in metrics.splitlines()
                                        if line.startswith("routeshift_events_queued ")), 0.0),
                    scrapes=scrapes, work=work)


async def scrape_every(interval: float, port: int, took: list[float]) -> None:
    """Prometheus's part: GET /metrics every ``interval`` seconds; ``took`` gets each scrape's seconds."""
    async with aiohttp.ClientSession() as http:
        while True:
            started = time.monotonic()
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                await response.read()
            took.append(time.monotonic() - started)
            await asyncio.sleep(max(0.0, interval - took[-1]))


def histogram(text: str, name: str) -> tuple[int, float, float, float, float]:
    """(count, sum, p50, p99, top finite bucket) of an unlabelled histogram, interpolated in buckets."""
    buckets, count, total = [], 0, 0.0
    for line in text.splitlines():
        if line.startswith(f"{name}_bucket{{"):
            bound = line.split('le="')[1].split('"')[0]
            buckets.append((float(bound), float(line.rsplit(" ", 1)[1])))
        elif line.startswith(f"{name}_count "):
            count = int(float(line.rsplit(" ", 1)[1]))
        elif line.startswith(f"{name}_sum "):
            total = float(line.rsplit(" ", 1)[1])

    def quantile(q: float) -> float:
        rank, lower, below = q * count, 0.0, 0.0
        for bound, cumulative in buckets:
            if cumulative >= rank:
                if bound == float("inf"):
                    return float("inf")  # above the top bucket: only a lower bound is known
                return lower + (bound - lower) * (rank - below) / max(cumulative - below, 1)
            lower, below = bound, cumulative
        return float("nan")

    finite = [bound for bound, _ in buckets if bound != float("inf")]
    return count, total, quantile(0.5), quantile(0.99), max(finite, default=float("nan"))


def labelled(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """The samples of a labelled counter: (labels by name, value)."""
    found = []
    for line in text.splitlines():
        if line.startswith(f"{name}{{"):
            labels, value = line[len(name) + 1:].rsplit("} ", 1)
            pairs = (part.split("=", 1) for part in labels.split(","))
            found.append(({key: raw.strip('"') for key, raw in pairs}, float(value)))
    return found


def per_reconcile(requests: list[tuple[dict[str, str], float]], reconciles: int) -> str:
    """API requests per reconcile: reads of routes/Services/Deployments, other reads, writes (watches left out)."""
    objects = ("httproutes", "grpcroutes", "services", "deployments")
    reads = sum(n for labels, n in requests if labels["verb"] == "GET" and labels["resource"] in objects)
    other = sum(n for labels, n in requests if labels["verb"] == "GET" and labels["resource"] not in objects)
    writes = sum(n for labels, n in requests if labels["verb"] not in ("GET", "WATCH"))
    per = max(reconciles, 1)
    return (f"{(reads + other + writes) / per:.2f} (object reads {reads / per:.2f}, other reads {other / per:.2f}, "
            f"writes {writes / per:.2f})")


def bucketed(seconds: float, top: float) -> str:
    return f"> {top * 1000:.0f} ms (top bucket)" if seconds == float("inf") else f"{seconds * 1000:.0f} ms"


def report(args, r: dict) -> None:
    rollouts: Rollouts = r["rollouts"]
    proc: Proc = r["proc"]
    pickups = rollouts.pickup["create"] + rollouts.pickup["release"]
    ms = lambda xs, q: percentile(xs, q) * 1000  # noqa: E731
    count, total, rec50, rec99, top = r["reconciles"]
    in_flight = r["in_flight"]
    rows = [
        ("canaries (one controller replica)",
         f"{args.canaries}" + (" in workload form (targetRef Deployments)" if args.workloads else "")),
        ("poll interval / analysis interval", f"{args.poll_interval:g} s / {args.interval:g} s (no metrics)"),
        ("setup: services + routes created", f"{r['setup']:.1f} s; canaries created in {r['created_in']:.1f} s"),
        ("measured window", f"{args.duration:g} s" + (f", after a warm-up in which every Canary rolled out once; "
                                                       f"{args.rolling} in flight at a time" if args.rolling else "")),
        ("canaries in flight (max / mean)",
         f"{max(in_flight, default=0)} / {sum(in_flight) / max(len(in_flight), 1):.0f}"),
        ("all canaries rolling out after",
         "never" if r["all_in_flight_at"] is None else f"{r['all_in_flight_at']:.1f} s"),
        ("spec change -> status, creation burst",
         f"p50 {ms(rollouts.pickup['create'], .5):.0f} ms, p99 {ms(rollouts.pickup['create'], .99):.0f} ms "
         f"(n={len(rollouts.pickup['create'])})"),
        ("spec change -> status, release patch",
         f"p50 {ms(rollouts.pickup['release'], .5):.0f} ms, p99 {ms(rollouts.pickup['release'], .99):.0f} ms "
         f"(n={len(rollouts.pickup['release'])})"),
        ("  of which: the release PATCH itself (API)",
         f"p50 {ms(rollouts.release_patch, .5):.0f} ms, p99 {ms(rollouts.release_patch, .99):.0f} ms"),
        ("spec changes never picked up", f"{len(r['never_picked'])}"),
        ("weight step, write -> next write",
         f"p50 {percentile(rollouts.step_times, .5):.2f} s, p99 {percentile(rollouts.step_times, .99):.2f} s "
         f"(dwell {args.interval:g} s; n={len(rollouts.step_times)})"),
        ("step overshoot beyond the dwell",
         f"p50 {percentile(rollouts.step_times, .5) - args.interval:.2f} s, "
         f"p99 {percentile(rollouts.step_times, .99) - args.interval:.2f} s "
         f"(target < {5 if args.canaries > 500 else 2} s)"),
        ("  of which: write -> Accepted (stand-in gateway)",
         f"p50 {percentile(rollouts.accept_times, .5):.2f} s, p99 {percentile(rollouts.accept_times, .99):.2f} s"),
        ("  of which: Accepted -> next write, minus dwell",
         f"p50 {percentile(rollouts.after_accept, .5) - args.interval:.2f} s, "
         f"p99 {percentile(rollouts.after_accept, .99) - args.interval:.2f} s (the controller's part)"),
        ("    of which: Accepted -> the dwell starts",
         f"p50 {percentile(rollouts.accept_to_dwell, .5):.2f} s, p99 {percentile(rollouts.accept_to_dwell, .99):.2f} s "
         f"(status.stepSettledAt, n={len(rollouts.accept_to_dwell)})"),
        ("route writes by the controller", f"{rollouts.route_writes}"),
        ("rollouts succeeded (canaries with >= 1)", f"{len(rollouts.succeeded)} ({len(rollouts.reached_success)})"),
        ("rollout duration, asked -> Succeeded",
         f"p50 {percentile(rollouts.succeeded, .5):.1f} s, p99 {percentile(rollouts.succeeded, .99):.1f} s"),
        ("rollouts Failed (not meant to)", f"{len(rollouts.failed)}"),
        *([("releases meant to fail, rolled back", f"{rollouts.failed_as_meant} of {len(rollouts.meant_to_fail)} asked "
                                                   f"(every {round(1 / args.failing)}th release)"),
           ("failed analysis -> rollback write",
            f"p50 {percentile(rollouts.rolled_back, .5) - args.interval:.2f} s, "
            f"p99 {percentile(rollouts.rolled_back, .99) - args.interval:.2f} s (target < 2 s; from the end of the "
            f"failed interval, i.e. one dwell after the stand-in gateway accepted the step)")]
          if args.failing else []),
        ("controller reconcile duration (own histogram)",
         f"p50 {bucketed(rec50, top)}, p99 {bucketed(rec99, top)}, {count} reconciles, "
         f"{count / max(args.duration, 1):.0f}/s, mean {total / max(count, 1) * 1000:.1f} ms"),
        ("API requests per reconcile", per_reconcile(r["api_requests"], count)
         + ("" if args.watch_cache else "  [--no-watch-cache]")),
        ("reads answered by the cache / the API",
         f"{sum(n for labels, n in r['cache_reads'] if labels['source'] == 'cache'):.0f} / "
         f"{sum(n for labels, n in r['cache_reads'] if labels['source'] == 'api'):.0f}"),
        ("Kubernetes Events in the namespace", f"{r['events']}"),
        ("  the controller's Events posted / refused / dropped / waiting",
         " / ".join(f"{r['event_results'].get(result, 0):.0f}" for result in ("posted", "failed", "dropped"))
         + f" / {r['events_queued']:.0f} (at the end; posted counts from the start, warm-up included)"),
        ("scrapes of /metrics during the window",
         f"every {args.scrape_interval:g} s: {len(r['scrapes'])}, p50 {ms(r['scrapes'], .5):.0f} ms, "
         f"max {max(r['scrapes'], default=0) * 1000:.0f} ms" if args.scrape_interval else "none (--scrape-interval)"),
        ("CPU, of one core: controller / emulator / bench",
         f"{r['cpu_controller']:.0%} / {r['cpu_api']:.0%} / {r['cpu_bench']:.0%} "
         f"(whole machine {r['machine']:.0%} of {os.cpu_count()} cores)"
         + ("  <- the emulator is saturated: latencies include its queue" if r["cpu_api"] > 0.9 else "")),
        ("controller RSS idle / end / peak VmHWM",
         f"{r['idle_rss']:.0f} / {proc.rss[-1] if proc.rss else float('nan'):.0f} / {proc.hwm:.0f} MB "
         f"(target < {300 if args.canaries > 500 else 250 if args.workloads else 200} MB)"),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print(f"logs: {r['work']}")
    overshoot = percentile(rollouts.step_times, .99) - args.interval
    print(f"controller scale: {args.canaries} canaries, spec change -> status p50 {ms(pickups, .5):.0f} ms, "
          f"p99 {ms(pickups, .99):.0f} ms, step overshoot p99 {overshoot:.2f} s, peak RSS {proc.hwm:.0f} MB")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--canaries", type=int, default=500)
    parser.add_argument("--duration", type=float, default=150.0, help="measured window after the canaries exist")
    parser.add_argument("--interval", type=float, default=5.0, help="analysis interval: each step's dwell")
    parser.add_argument("--failing", type=float, default=0.0,
                        help="this fraction of the releases after the first fail their analysis (a real Prometheus "
                             "is started for them) and are rolled back; times the rollback")
    parser.add_argument("--rolling", type=int, default=0,
                        help="after a warm-up in which every Canary rolls out once, keep only this many in flight "
                             "(each next release goes to the Canary idle longest); 0: all, always")
    parser.add_argument("--warm-up", type=float, default=900.0, help="with --rolling: the longest the warm-up may take")
    parser.add_argument("--poll-interval", type=float, default=5.0, help="controller --poll-interval (its default)")
    parser.add_argument("--concurrency", type=int, default=32, help="parallel API requests of the bench itself")
    parser.add_argument("--gateway-workers", type=int, default=32,
                        help="route status writes of the stand-in gateway in flight at once: with 8, a wave of "
                             "2,000 route writes waited up to 5 s (p99) for its acceptance, which the step "
                             "overshoot includes")
    parser.add_argument("--log-level", default="INFO", help="controller log level (INFO as deployed)")
    parser.add_argument("--scrape-interval", type=float, default=0.0,
                        help="GET the controller's /metrics every this many seconds during the window, as "
                             "Prometheus does (0: no scrapes)")
    parser.add_argument("--no-watch-cache", dest="watch_cache", action="store_false",
                        help="run the controller with --no-watch-cache (every read from the API server), to compare")
    parser.add_argument("--workloads", action="store_true",
                        help="workload form: Canaries with targetRef on Deployments, releases by new images")
    args = parser.parse_args(argv)
    if args.failing and (args.workloads or not 0 < args.failing <= 1):
        parser.error("--failing takes a fraction in (0, 1], and only in the Service form (not with --workloads)")
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-controller-scale-"))
    started: list = []
    # SIGTERM behaves like Ctrl-C (also when started in the background, where SIGINT comes
    # in ignored): the finally below stops every child by PID.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    try:
        result = asyncio.run(scenario(args, work, started))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        for process in reversed(started):
            if isinstance(process, PrometheusServer):
                process.stop()
            else:
                processes.stop(process, grace=10)
    report(args, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
