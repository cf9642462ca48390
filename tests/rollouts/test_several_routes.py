"""A Canary over several HTTPRoutes moves them together and waits for the slowest."""

from __future__ import annotations

from canary_builders import T0, at, spec
from rollouts import actions, machine, model
from rollouts.observations import Acceptance, Observations, RouteObservation
from rollouts.route_kinds import RouteId


def _route(name, stable, canary, acceptance=Acceptance.ACCEPTED):
    return RouteObservation("default", name, generation=2, rules=((stable, canary),), acceptance=acceptance)


def _two_routes():
    return spec(routeRef=None, routeRefs=[{"name": "web"}, {"name": "api", "namespace": "default"}])


def test_routes_are_deduplicated_in_spec_order():
    canary = spec(routeRefs=[{"name": "api"}, {"name": "web", "namespace": "default"}])
    assert canary.routes("default") == (RouteId("default", "web"), RouteId("default", "api"))


def test_each_route_that_differs_gets_its_own_write():
    canary = _two_routes()
    obs = Observations(1, (_route("web", 100, 0), _route("api", 95, 5)))
    decided = machine.decide(canary, model.CanaryStatus(), obs, now=T0)
    writes = [a for a in decided.actions if isinstance(a, actions.SetRouteWeights)]
    assert [(w.name, w.stable_weight, w.canary_weight) for w in writes] == [("web", 95, 5)]


def test_the_step_dwells_only_once_every_route_is_accepted():
    canary = _two_routes()
    status = machine.decide(canary, model.CanaryStatus(), Observations(1, (_route("web", 100, 0),
                                                                           _route("api", 100, 0))), now=T0).status
    lagging = Observations(1, (_route("web", 95, 5), _route("api", 95, 5, Acceptance.PENDING)))
    status = machine.decide(canary, status, lagging, now=at(1)).status
    assert status.step_settled_at is None
    assert "default/api" in status.message
    both = Observations(1, (_route("web", 95, 5), _route("api", 95, 5)))
    status = machine.decide(canary, status, both, now=at(2)).status
    assert status.step_settled_at == at(2)


def test_a_rollback_writes_every_route_once():
    canary = _two_routes()
    obs = Observations(1, (_route("web", 95, 5), _route("api", 95, 5)))
    status = machine.decide(canary, model.CanaryStatus(), obs, now=T0).status
    decided = machine.decide(canary, status, Observations(1, obs.routes, annotations={"routeshift.dev/abort": "x"}),
                             now=at(1))
    writes = [a for a in decided.actions if isinstance(a, actions.SetRouteWeights)]
    assert sorted((w.name, w.stable_weight) for w in writes) == [("api", 100), ("web", 100)]
