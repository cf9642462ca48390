"""How long a Canary sleeps when nothing wakes it: until time alone can change its decision.

With the watch caches a change of anything the Canary reads wakes it, so it sleeps until
the next due moment (end of the dwell, acceptance timeout, progress deadline, end of a
timed pause), at most the resync interval. Without them it polls, as it always did; so
does a workload-form Canary while its Pods, which are not watched, may say why a
Deployment is not ready.
"""

import datetime

import pytest

from rollouts import model, operator, patching
from rollouts.caches.cached_cluster import CachedCluster
from rollouts.reconciler import Controller

NOW = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.timezone.utc)


def at(seconds: float) -> datetime.datetime:
    return NOW + datetime.timedelta(seconds=seconds)


def spec(**extra) -> model.CanarySpec:
    return model.parse_spec({"routeRef": {"name": "web"}, "stable": {"name": "a", "port": 80},
                             "canary": {"name": "b", "port": 80}, "acceptanceTimeoutSeconds": 60,
                             "progressDeadlineSeconds": 600, "analysis": {"interval": "1m"}, **extra})


WORKLOAD = model.parse_spec({"routeRef": {"name": "web"}, "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                                                       "name": "app"},
                             "service": {"port": 80}, "analysis": {"interval": "1m"}})


def controller(cached: bool) -> Controller:
    connection = patching.Connection(server="http://127.0.0.1:1")
    cluster = CachedCluster(connection) if cached else patching.Cluster(connection)
    return Controller(cluster=cluster, poll_interval=5.0, resync_interval=30.0, clock=lambda: NOW)


@pytest.mark.parametrize(("status", "canary_spec", "cached", "expected", "decided_at"), [
    pytest.param(dict(next_analysis_at=at(20)), spec(), True, 20.01, None, id="cache: until the dwell ends"),
    pytest.param(dict(next_analysis_at=at(3600), step_started_at=at(-50)), spec(), True, 10.01, None,
                 id="cache: the acceptance timeout comes first"),
    pytest.param(dict(next_analysis_at=at(3600), step_started_at=at(-100), last_progress_at=at(-590)), spec(),
                 True, 10.01, None, id="cache: the progress deadline comes first"),
    pytest.param(dict(next_analysis_at=at(3600)), spec(), True, 30.0, None, id="cache: at most the resync interval"),
    pytest.param(dict(), spec(), True, 30.0, None, id="cache: idle, nothing due"),
    pytest.param(dict(next_analysis_at=at(-5), step_started_at=at(-120)), spec(), True, 30.0, None,
                 id="cache: everything due is past, the next change wakes it"),
    pytest.param(dict(step=1, step_settled_at=at(-5), phase=model.Phase.PROGRESSING),
                 spec(strategy={"progressive": {"steps": [10, 20], "pauses": [{"atWeight": 10, "duration": "12s"}]}}),
                 True, 7.01, None, id="cache: the end of a timed pause"),
    pytest.param(dict(next_analysis_at=at(-1), step_started_at=at(-6)), spec(), True, 0.0, at(-2),
                 id="cache: the dwell ended while the reconciliation ran: at once"),
    pytest.param(dict(next_analysis_at=at(-1), step_started_at=at(-6)), spec(), True, 30.0, at(-1),
                 id="cache: the dwell ended when the decision was taken: decided already"),
    pytest.param(dict(next_analysis_at=at(20)), spec(), False, 5.0, None, id="no cache: the poll interval"),
    pytest.param(dict(next_analysis_at=at(-1)), spec(), False, 0.0, at(-2),
                 id="no cache: the dwell ended while the reconciliation ran: at once"),
    pytest.param(dict(next_analysis_at=at(2)), spec(), False, 2.01, None, id="no cache: sooner when the dwell ends sooner"),
    pytest.param(dict(), None, True, 30.0, None, id="cache: a spec that does not parse"),
    pytest.param(dict(phase=model.Phase.PROGRESSING, next_analysis_at=at(20), workload={"canaryReady": False}),
                 WORKLOAD, True, 5.0, None, id="cache, workload: polls while the canary's Pods may say why it is not ready"),
    pytest.param(dict(phase=model.Phase.PROGRESSING, next_analysis_at=at(20), workload={"canaryReady": True}),
                 WORKLOAD, True, 20.01, None, id="cache, workload: a ready canary sleeps until its dwell ends"),
    pytest.param(dict(phase=model.Phase.SUCCEEDED), WORKLOAD, True, 30.0, None, id="cache, workload: idle"),
    pytest.param(dict(phase=model.Phase.SUCCEEDED), WORKLOAD.model_copy(update={"track_configs": True}), True, 5.0, None,
                 id="cache, workload: idle, polls the ConfigMaps and Secrets it tracks (not watched)"),
])
def test_sleep(status, canary_spec, cached, expected, decided_at):
    sleep = operator._sleep_for(controller(cached), model.CanaryStatus(**status), canary_spec, decided_at)
    assert sleep == pytest.approx(expected, abs=1e-6)
