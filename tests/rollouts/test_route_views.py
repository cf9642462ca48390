"""A Canary's route observations are reused only while the cache holds the very same route."""

from __future__ import annotations

import copy

from canary_builders import httproute, spec
from rollouts import routes
from rollouts.reconciler import RouteViews
from rollouts.route_kinds import RouteId

REF = RouteId("default", "web")


def fresh(route, canary_spec):
    return routes.observe(route, namespace="default", name="web", stable=canary_spec.stable,
                          canary=canary_spec.canary, owner="web")


def test_the_same_route_object_is_observed_once():
    views, canary_spec, route = RouteViews(), spec(), httproute(90, 10)
    first = views.observe(route, REF, canary_spec, "web")
    assert first == fresh(route, canary_spec)
    assert views.observe(route, REF, canary_spec, "web") is first


def test_a_route_the_cache_replaced_is_observed_again():
    views, canary_spec = RouteViews(), spec()
    before = views.observe(httproute(90, 10), REF, canary_spec, "web")
    written = httproute(80, 20)
    written["metadata"]["generation"] = 2  # the gateway has not caught up with it yet
    after = views.observe(written, REF, canary_spec, "web")
    assert after == fresh(written, canary_spec)
    assert after.rules != before.rules and after.acceptance != before.acceptance


def test_an_equal_copy_is_a_new_object_and_observed_again():
    views, canary_spec, route = RouteViews(), spec(), httproute(90, 10)
    first = views.observe(route, REF, canary_spec, "web")
    assert views.observe(copy.deepcopy(route), REF, canary_spec, "web") is not first


def test_new_backends_observe_the_route_again():
    views, route = RouteViews(), httproute(90, 10)
    views.observe(route, REF, spec(), "web")
    swapped = spec(stable={"name": "web-v2", "port": 80}, canary={"name": "web-v1", "port": 80})
    assert views.observe(route, REF, swapped, "web").rules == ((10, 90),)


def test_a_missing_route_is_not_found():
    assert not RouteViews().observe(None, REF, spec(), "web").found


def test_the_routes_of_a_new_spec_are_worked_out_again():
    views, first = RouteViews(), spec()
    assert views.refs(first, "default") == (REF,)
    several = spec(routeRefs=[{"name": "web-api"}])
    assert views.refs(several, "default") == (REF, RouteId("default", "web-api"))
