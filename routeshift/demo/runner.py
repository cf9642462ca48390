"""``routeshift demo``: run a scenario on the whole stack and say whether it ended as it should.

The runner plays the release pipeline. In workload form (the default scenario) a release
is one ``kubectl set image`` on the app's Deployment, as a Flagger user ships; in Service
form it deploys the new version to the idle app and starts the rollout with one patch of
the Canary (naming the live Service ``stable`` and the idle one ``canary``, as the release
model says). Then it watches the controller drive the rollout to its end while the load
generator keeps real traffic flowing through the gateway. Exit code 0 only when every
release ended as expected.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import datetime
import json
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.live import Live

from rollouts import workloads
from routeshift.demo import grpc_load
from routeshift.demo import load as load_generation
from routeshift.demo import manifests, scenarios, view
from routeshift.demo.stack import Stack, StackError

REFRESH_SECONDS = 0.5
FINAL_PHASES = {"Succeeded": scenarios.Outcome.PROMOTED, "Failed": scenarios.Outcome.ROLLED_BACK}


@dataclasses.dataclass
class ReleaseResult:
    release: scenarios.Release
    outcome: scenarios.Outcome | None
    seconds: float
    reason: str
    # For each canary weight the controller set: replies counted per version while it held.
    observed_by_weight: dict[int, collections.Counter] = dataclasses.field(default_factory=dict)
    final_status: dict = dataclasses.field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "version": self.release.version,
            "expected": self.release.expect.value,
            "outcome": self.outcome.value if self.outcome else None,
            "asExpected": self.as_expected,
            "seconds": round(self.seconds, 1),
            "reason": self.reason,
            "observedByWeight": {str(weight): dict(counts) for weight, counts in sorted(self.observed_by_weight.items())},
            "finalStatus": self.final_status,
        }

    @property
    def as_expected(self) -> bool:
        return self.outcome == self.release.expect


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="routeshift demo", description="Run a rollout scenario on the whole stack on this machine.")
    parser.add_argument("--scenario", choices=sorted(scenarios.SCENARIOS), default="default",
                        help="what to roll out (default: a healthy release, then a faulty one)")
    parser.add_argument("--speed", type=float, default=1.0, help="shorten every interval by this factor")
    parser.add_argument("--plain", action="store_true", help="line-oriented output, no live redraw")
    parser.add_argument("--keep-running", action="store_true", help="leave the stack up until Ctrl-C")
    parser.add_argument("--cluster", action="store_true",
                        help="use the cluster of KUBECONFIG / the current context instead of the API emulator")
    parser.add_argument("--workdir", type=Path, default=None, help="where logs and the kubeconfig go")
    args = parser.parse_args(argv)
    if args.speed <= 0:
        parser.error("--speed must be positive")
    return args


class Traffic:
    """Keeps the last few one-second windows of the load generator's tally."""

    def __init__(self, generator: load_generation.LoadGenerator | grpc_load.GrpcLoadGenerator,
                 windows: int = 3) -> None:
        self.generator = generator
        self.windows: collections.deque = collections.deque(maxlen=windows)
        self.last_take = time.monotonic()

    def sample(self) -> tuple[dict[str, float], float, float, load_generation.Tally | None, float]:
        """(shares by version, req/s, share of server failures: 5xx, or failed gRPC calls) over
        the recent windows, the window that closed with this call (if one did), and how many
        seconds the recent windows span."""
        now = time.monotonic()
        closed = None
        if now - self.last_take >= 1.0:
            closed = self.generator.tally.take()
            self.windows.append((now - self.last_take, closed))
            self.last_take = now
        seconds = sum(w[0] for w in self.windows)
        versions: collections.Counter = collections.Counter()
        statuses: collections.Counter = collections.Counter()
        for _, tally in self.windows:
            versions.update(tally.by_version)
            statuses.update(tally.by_status)
        answered = sum(versions.values())
        shares = {version: count / answered for version, count in versions.items()} if answered else {}
        total = sum(statuses.values())
        errors = sum(count for code, count in statuses.items() if self.generator.failed(code))
        return shares, (total / seconds if seconds else 0.0), (errors / total if total else 0.0), closed, seconds


class Demo:
    def __init__(self, args: argparse.Namespace, console: Console) -> None:
        self.args = args
        self.console = console
        self.scenario = scenarios.SCENARIOS[args.scenario]
        cluster = Path(os.environ.get("KUBECONFIG", Path.home() / ".kube" / "config")) if args.cluster else None
        self.app = manifests.APPS[self.scenario.protocol]
        self.stack = Stack(args.workdir, cluster_kubeconfig=cluster, log=self._say, workload=self.scenario.workload,
                           app=self.app)
        self.live_service = "podinfo-blue"

    def _say(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False)

    async def run(self) -> int:
        scenario = self.scenario
        self._say(f"routeshift demo: {scenario.name}: {scenario.summary}")
        self._say(f"logs and kubeconfig in {self.stack.workdir}")
        endpoints = await asyncio.to_thread(self.stack.start)
        self._say(f"export KUBECONFIG={endpoints.kubeconfig}   # kubectl / kubectl canary on this stack")
        await asyncio.to_thread(self._create_canary)
        generator = self._load_generator(endpoints.gateway)
        generator.start()
        unit = "gRPC calls" if scenario.protocol == "grpc" else "req"
        self._say(f"load        {scenario.rate:g} {unit}/s through the gateway to {manifests.HOSTNAME}")
        results = []
        try:
            for release in scenario.releases:
                results.append(await self._roll_out(release, Traffic(generator)))
            if self.args.keep_running:
                self._say("stack left running (--keep-running); Ctrl-C stops every process")
                await asyncio.Event().wait()
        finally:
            await generator.stop()
        return self._summarise(results)

    def _load_generator(self, gateway: str) -> load_generation.LoadGenerator | grpc_load.GrpcLoadGenerator:
        scenario = self.scenario
        if scenario.protocol == "grpc":
            # h2c prior knowledge on the gateway's one listener socket, as a gRPC client connects.
            return grpc_load.GrpcLoadGenerator(gateway.removeprefix("http://"), authority=manifests.HOSTNAME,
                                               rate=scenario.rate)
        return load_generation.LoadGenerator(
            f"{gateway}/", host=manifests.HOSTNAME, rate=scenario.rate,
            preview_headers={scenarios.PREVIEW_HEADER: scenarios.PREVIEW_VALUE},
            preview_share=scenario.preview_share)

    def _create_canary(self) -> None:
        blue, green = self.stack.backends["blue"], self.stack.backends["green"]
        prometheus = self.stack.endpoints.prometheus
        settings = dict(strategy=scenarios.strategy(self.scenario),
                        analysis=scenarios.analysis(self.scenario, speed=self.args.speed, prometheus_url=prometheus),
                        progress_deadline_seconds=max(60, round(600 / self.args.speed)))
        if self.scenario.workload:
            self.stack.apply([manifests.workload_canary(**settings, app=self.app)])
        else:
            self.stack.apply([manifests.canary(blue, green, **settings)])
        self.stack.wait_for_canary(lambda canary: (canary.get("status") or {}).get("phase") == "Initialized",
                                   timeout=60)

    def _deploy(self, release: scenarios.Release) -> str:
        """Ship the release the way the scenario's pipeline would; returns what status.release will say."""
        if self.scenario.workload:
            # The image's behaviour (v3's errors) comes from the emulator's image catalogue.
            deployment = self.stack.set_image(manifests.app_image(release.version, self.app))
            return workloads.release_of(deployment)
        stable = self.live_service
        idle = "podinfo-green" if stable == "podinfo-blue" else "podinfo-blue"
        self.stack.set_app(idle, version=release.version, errorRate=release.error_rate, latencyMs=release.latency_ms)
        self.stack.patch_canary({"spec": {
            "release": release.version,
            "stable": {"name": stable, "port": manifests.SERVICE_PORT},
            "canary": {"name": idle, "port": manifests.SERVICE_PORT},
        }})
        self.live_service = idle  # taken back below unless promoted
        return release.version

    async def _roll_out(self, release: scenarios.Release, traffic: Traffic) -> ReleaseResult:
        self._say(f"release {release.description}: expected to be {release.expect.value}")
        started = time.monotonic()
        # The controller's clock stamps the decision log; on one machine it is ours.
        since = datetime.datetime.now(datetime.timezone.utc)
        live_before = self.live_service
        expected = await asyncio.to_thread(self._deploy, release)
        deadline = started + max(120.0, 900.0 / self.args.speed)
        printer = view.PlainPrinter(self.console) if self.args.plain else None
        live = None if self.args.plain else Live(console=self.console, refresh_per_second=4, transient=False)
        outcome, reason = None, "timed out"
        observed_by_weight: dict[int, collections.Counter] = {}
        window_weight = None  # the canary weight set when the current traffic window opened
        status: dict = {}
        with live or contextlib.nullcontext():
            while time.monotonic() < deadline:
                canary = await asyncio.to_thread(self.stack.get_canary)
                deployments = await asyncio.to_thread(self._deployments)
                status = canary.get("status") or {}
                weight = (status.get("weights") or {}).get("canary") if status.get("release") == expected else None
                observed, rps, errors, closed, window = traffic.sample()
                if closed is not None:
                    # A window counts for a weight only if that weight held from its start to its end.
                    if weight is not None and weight == window_weight and closed_before_next_step(
                            status, datetime.datetime.now(datetime.timezone.utc)):
                        observed_by_weight.setdefault(weight, collections.Counter()).update(closed.by_version)
                    window_weight = weight
                snapshot = view.from_canary(canary, scenario=self.scenario.name, release=release.version,
                                            observed=observed, observed_rps=rps, error_share=errors,
                                            started=started, since=since, window_seconds=window or None,
                                            deployments=deployments, failure_label=traffic.generator.FAILURE_LABEL)
                if live is not None:
                    live.update(view.render(snapshot))
                else:
                    printer.update(snapshot)
                if status.get("release") == expected and status.get("phase") in FINAL_PHASES:
                    outcome = FINAL_PHASES[status["phase"]]
                    reason = status.get("message", "")
                    break
                await asyncio.sleep(REFRESH_SECONDS)
        if outcome != scenarios.Outcome.PROMOTED:
            self.live_service = live_before
        result = ReleaseResult(release, outcome, time.monotonic() - started, reason, observed_by_weight, status)
        verdict = "as expected" if result.as_expected else f"NOT as expected ({release.expect.value})"
        self._say(f"release {release.version}: {outcome.value if outcome else 'no outcome'} after "
                  f"{result.seconds:.0f}s, {verdict}: {reason}")
        return result

    def _deployments(self) -> dict[str, dict | None]:
        """Workload form: the primary and the target, for the view's revisions and replicas."""
        if not self.scenario.workload:
            return {}
        names = (f"{manifests.DEPLOYMENT}-primary", manifests.DEPLOYMENT)
        return {name: self.stack.get_deployment(name) for name in names}

    def _summarise(self, results: list[ReleaseResult]) -> int:
        ok = bool(results) and all(result.as_expected for result in results)
        summary = {"scenario": self.scenario.name, "passed": ok, "releases": [r.as_json() for r in results]}
        (self.stack.workdir / "summary.json").write_text(json.dumps(summary, indent=2))
        parts = [f"{r.release.version} {r.outcome.value if r.outcome else 'no outcome'} in {r.seconds:.0f}s"
                 for r in results]
        self._say(f"demo {self.scenario.name}: {'PASSED' if ok else 'FAILED'}: {'; '.join(parts)}")
        return 0 if ok else 1


def closed_before_next_step(status: dict, closed_at: datetime.datetime) -> bool:
    """Whether a traffic window that closed at ``closed_at`` closed before the controller could
    move the route on from the weight ``status`` shows.

    The next step comes at ``nextAnalysisAt`` at the earliest, and its weight reaches the status
    only once the gateway has accepted it (the controller defers that write up to 2 s): a window
    closing in between saw both weights while the status still shows the first. Without a due
    time (no step is dwelling) the weight is held until something else changes it.
    """
    due = status.get("nextAnalysisAt")
    if not due:
        return True
    return closed_at < datetime.datetime.fromisoformat(due)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(highlight=False, width=None if not args.plain else 200)
    demo = Demo(args, console)
    loop = asyncio.new_event_loop()
    task = loop.create_task(demo.run())
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        console.print("demo interrupted: stopping every process it started", markup=False)
        return 130
    except StackError as error:
        console.print(f"demo failed to start: {error}", markup=False)
        return 1
    finally:
        demo.stack.stop()
        loop.close()
