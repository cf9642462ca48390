"""The demo's scenarios: which releases are rolled out, how each behaves, how each must end.

A scenario is data: a strategy, an analysis, the load, and a list of releases, and which
form of Canary it uses. In workload form (the default scenario, Flagger's model) the app
is one Deployment and each release is ``kubectl set image``: the controller runs the rest.
In Service form each release is deployed to the idle app, then started the way a
pipeline would, with one patch of the Canary. The ``grpc`` scenario is the workload form
with a gRPC app behind a GRPCRoute, judged on ``grpc-status``. Every release must end as
expected: healthy releases promoted, faulty ones rolled back by analysis. Intervals scale
with ``--speed`` so CI can run the same scenarios faster.
"""

from __future__ import annotations

import dataclasses
import enum


class Outcome(str, enum.Enum):
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled back"


@dataclasses.dataclass(frozen=True)
class Release:
    """One release: what the new version does and how its rollout must end."""

    version: str
    expect: Outcome
    error_rate: float = 0.0
    latency_ms: float = 0.0

    @property
    def description(self) -> str:
        faults = []
        if self.error_rate:
            faults.append(f"{self.error_rate:.0%} errors")
        if self.latency_ms:
            faults.append(f"+{self.latency_ms:.0f} ms latency")
        return f"{self.version} ({', '.join(faults) or 'healthy'})"


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    releases: tuple[Release, ...]
    strategy_kind: str = "progressive"  # progressive | blueGreen | abTesting
    rate: float = 150.0  # requests per second offered through the gateway
    preview_share: float = 0.0  # share of requests carrying the preview header (blue-green, A/B)
    min_sample_size: int = 40
    interval_seconds: float = 8.0
    # What an insufficient-traffic hold becomes after ``hold_intervals`` intervals.
    hold_intervals: int = 40
    hold_outcome: str = "Inconclusive"
    # Workload form: a Canary with targetRef on the Deployment "podinfo", releases by image.
    workload: bool = False
    protocol: str = "http"  # http | grpc: the app, its route kind and how its calls are judged
    steps: tuple[int, ...] = ()  # progressive canary weights; empty: the controller's default

    def interval(self, speed: float) -> int:
        """The analysis interval at ``speed`` in whole seconds: at least 3 s, so that a
        rate() window always holds a few of Prometheus' 1 s scrapes."""
        return max(3, round(self.interval_seconds / speed))

    def sample_floor(self, speed: float) -> int:
        """minSampleSize at ``speed``: the window shrinks with the interval, so does the
        number of requests it can hold at a given rate."""
        return max(5, round(self.min_sample_size * self.interval(speed) / self.interval_seconds))


PREVIEW_HEADER = "X-Canary"
PREVIEW_VALUE = "always"

HEALTHY = Release("v2", Outcome.PROMOTED)
ERRORS = Release("v3", Outcome.ROLLED_BACK, error_rate=0.05)

SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario("default", "the app is one Deployment: `kubectl set image` to v2 (healthy) is promoted, "
                 "to v3 (5% errors) rolled back", (HEALTHY, ERRORS), workload=True),
        Scenario("services", "Service form: a healthy release is deployed behind the idle Service and promoted, "
                 "then a faulty one (5% errors) is rolled back", (HEALTHY, ERRORS)),
        Scenario("healthy", "a healthy release goes 5 → 10 → 20 → 50 → 100 and is promoted", (HEALTHY,)),
        Scenario("errors", "a release answering 5% errors is caught and rolled back",
                 (Release("v2", Outcome.ROLLED_BACK, error_rate=0.05),)),
        Scenario("latency", "a release 400 ms slower is caught by the p99 check and rolled back",
                 (Release("v2", Outcome.ROLLED_BACK, latency_ms=400),)),
        Scenario("thin-traffic", "little traffic: steps hold on too few samples instead of failing; after "
                 "the hold deadline thin traffic is accepted and the release promoted",
                 (HEALTHY,), rate=12.0, min_sample_size=20, hold_intervals=3, hold_outcome="Successful"),
        Scenario("blue-green", "the idle release is analysed through a preview header, then swapped in one write",
                 (HEALTHY,), strategy_kind="blueGreen", preview_share=0.3),
        Scenario("ab", "requests with the A/B header go to the new release while it is analysed, then it is promoted",
                 (HEALTHY,), strategy_kind="abTesting", preview_share=0.3),
        Scenario("grpc", "a gRPC app behind a GRPCRoute, in steps of 10 and 50%: `kubectl set image` to v2 "
                 "(healthy) is promoted, to v3 (5% of calls UNAVAILABLE) rolled back by grpc-success-rate",
                 (HEALTHY, ERRORS), workload=True, protocol="grpc", steps=(10, 50)),
    )
}


def strategy(scenario: Scenario) -> dict:
    """The Canary ``spec.strategy`` for a scenario."""
    match_ = {"headers": [{"name": PREVIEW_HEADER, "value": PREVIEW_VALUE}]}
    if scenario.strategy_kind == "blueGreen":
        return {"blueGreen": {"preview": match_, "iterations": 2}}
    if scenario.strategy_kind == "abTesting":
        return {"abTesting": {"match": match_, "iterations": 2}}
    if scenario.steps:
        return {"progressive": {"steps": list(scenario.steps)}}
    return {"progressive": {}}  # the default steps: 5, 10, 20, 50, then promotion to 100


def analysis(scenario: Scenario, *, speed: float, prometheus_url: str) -> dict:
    """The Canary ``spec.analysis``: the two built-in checks against the demo's Prometheus
    (gRPC calls end with HTTP 200 whatever happened: their success is read from grpc-status)."""
    interval = scenario.interval(speed)
    success_rate = "grpc-success-rate" if scenario.protocol == "grpc" else "request-success-rate"
    return {
        "interval": f"{interval}s",
        "threshold": 3,
        "consecutiveFailureLimit": 2,
        "minSampleSize": scenario.sample_floor(speed),
        "holdDeadline": f"{interval * scenario.hold_intervals}s",
        "holdOutcome": scenario.hold_outcome,
        "provider": {"address": prometheus_url},
        "metrics": [
            {"name": success_rate, "thresholdRange": {"min": 99}},
            {"name": "request-duration-p99", "thresholdRange": {"max": 250}},
        ],
    }
