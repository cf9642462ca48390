"""Deleting a Canary whose spec no longer parses still hands traffic back, through the real kopf.

Someone edits a Canary mid-rollout into a shape the API server accepts but the controller
refuses (here: stable and canary the same Service), then deletes it. The route must end
at 100 % on the live backend without the controller's own rules, as for any deletion,
using what the status recorded of the last valid spec. When even the status cannot say
which routes were shaped, the finalizer still goes, and a Warning Event says that
traffic was NOT restored and why.
"""

from __future__ import annotations

import copy

import pytest

from operator_harness import CANARIES, ROUTES, ScriptedAnalysis, canary, phase
from routeshift.testing.polling import until

# Valid for the CRD schema, refused by the model: the controller cannot act on it.
BREAK_SPEC = {"spec": {"canary": {"name": "web-v1", "port": 80}}}


def _stalled(cluster) -> dict | None:
    conditions = ((cluster.get(CANARIES, "default", "web") or {}).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Stalled" and c["status"] == "True"), None)


def _events(cluster, reason: str) -> list[dict]:
    return [e for e in cluster.objects("v1/events", "default")
            if e["reason"] == reason and e["involvedObject"]["name"] == "web"]


def _break_spec(cluster) -> None:
    cluster.patch(CANARIES, "default", "web", BREAK_SPEC)
    until(lambda: (_stalled(cluster) or {}).get("reason") == "InvalidSpec", timeout=10,
          description="the controller saw the invalid spec")


@pytest.mark.parametrize(
    ("strategy", "moved"),
    [
        pytest.param({"progressive": {"steps": [30, 60], "pauses": [{"atWeight": 30}]}},
                     lambda route, gateway: gateway.weights(route) == (70, 30), id="paused-at-30-percent"),
        pytest.param({"abTesting": {"match": {"headers": [{"name": "x-beta", "value": "1"}]}, "iterations": 1000}},
                     lambda route, gateway: len(route["spec"]["rules"]) == 3, id="ab-match-rule"),
    ],
)
def test_deleting_a_canary_whose_spec_no_longer_parses_restores_stable(cluster, gateway, start, strategy, moved):
    before = copy.deepcopy(cluster.get(ROUTES, "default", "web")["spec"])
    start(ScriptedAnalysis(gateway=gateway))
    cluster.create(CANARIES, canary(strategy=strategy), "default")
    until(lambda: moved(cluster.get(ROUTES, "default", "web"), gateway), timeout=20,
          description="the rollout moved traffic")
    _break_spec(cluster)
    cluster.delete(CANARIES, "default", "web")
    until(lambda: cluster.get(CANARIES, "default", "web") is None, timeout=20, description="canary gone")
    after = cluster.get(ROUTES, "default", "web")["spec"]
    assert gateway.weights(cluster.get(ROUTES, "default", "web")) == (100, 0)
    assert after == before  # the controller's own rule is gone, the user's filters and rules are intact
    (terminating,) = until(lambda: _events(cluster, "Terminating"), timeout=10, description="Terminating event")
    assert "spec is invalid" in terminating["message"] and "recorded in status" in terminating["message"]


def test_deleting_when_status_recorded_no_routes_warns_that_traffic_was_not_restored(cluster, gateway, start):
    start(ScriptedAnalysis(gateway=gateway))
    cluster.create(CANARIES, canary(strategy={"progressive": {"steps": [30, 60], "pauses": [{"atWeight": 30}]}}),
                   "default")
    until(lambda: phase(cluster) == "Paused", timeout=20, description="paused at 30%")
    _break_spec(cluster)
    # As written by a controller that did not record routing yet.
    cluster.patch(CANARIES, "default", "web", {"status": {"routing": None}}, subresource="status")
    until(lambda: "routing" not in cluster.get(CANARIES, "default", "web")["status"], timeout=5,
          description="routing gone from status")
    cluster.delete(CANARIES, "default", "web")
    until(lambda: cluster.get(CANARIES, "default", "web") is None, timeout=20,
          description="the finalizer does not hold the Canary forever")
    (warning,) = until(lambda: _events(cluster, "TrafficNotRestored"), timeout=10,
                       description="an Event says traffic was not restored")
    assert warning["type"] == "Warning"
    assert "NOT restored" in warning["message"] and "different Services" in warning["message"]
    assert gateway.weights(cluster.get(ROUTES, "default", "web")) == (70, 30)  # honestly left as it was
