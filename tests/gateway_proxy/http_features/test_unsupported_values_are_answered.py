"""Values of retry, CORS and sessionPersistence the proxy cannot serve are never silently ignored.

In Kubernetes mode the route's parent status says ``Accepted=False`` with reason
``UnsupportedValue`` (every rule refused) or names the refused rule; a rule that cannot be
programmed answers 500 rather than serving without the feature; ``/config`` shows why; and a
file that is not even well-formed is refused by the loader, which keeps the last good config.
"""

from __future__ import annotations

import pytest

import gw_harness as g
from gateway_proxy import attachment, resources
from gateway_proxy.kubernetes import status as kube_status

CLASS = kube_status.GatewayClass("routeshift", kube_status.CONTROLLER, 1)
BACKENDS = g.service("svc", 1)

BAD_RULES = [
    pytest.param({"retry": {"codes": [302]}}, "retry codes [302] are outside 400-599", id="retry-code"),
    pytest.param({"retry": {"attempts": -2}}, "retry attempts -2 is negative", id="retry-attempts"),
    pytest.param({"filters": [{"type": "CORS", "cors": {"allowOrigins": ["*", "https://a.com"]}}]},
                 "allowOrigins cannot contain '*'", id="cors-star-and-origin"),
    pytest.param({"filters": [{"type": "CORS", "cors": {"allowMethods": ["FETCH"]}}]}, "is not an HTTP method",
                 id="cors-method"),
    pytest.param({"sessionPersistence": {"type": "Query"}}, "is not Cookie or Header", id="session-type"),
    pytest.param({"sessionPersistence": {"cookieConfig": {"lifetimeType": "Permanent"}}},
                 "absoluteTimeout must be specified", id="permanent-without-absolute"),
]


def _rule(extra: dict) -> dict:
    item = g.rule([g.backend("svc")])
    item.update(extra)
    return item


def _accepted(documents):
    objects = [resources.parse(d, "test") for d in documents]
    statuses = kube_status.compute(attachment.Config.of([o for o in objects if o is not None]), (CLASS,))
    (parent,) = statuses.routes[("default", "r")]
    return next(c for c in parent.conditions if c.type == "Accepted")


@pytest.mark.parametrize("extra, message", BAD_RULES)
def test_route_status_says_unsupported_value(extra, message):
    condition = _accepted([g.gateway(), *BACKENDS, g.route("r", [_rule(extra)])])
    assert (condition.status, condition.reason) == ("False", "UnsupportedValue")
    assert message in condition.message


def test_one_refused_rule_of_several_is_named_in_the_accepted_message():
    condition = _accepted([g.gateway(), *BACKENDS, g.route("r", [_rule({}), _rule({"retry": {"codes": [302]}})])])
    assert (condition.status, condition.reason) == ("True", "Accepted")
    assert "rule 1: retry codes [302]" in condition.message


def test_served_values_are_accepted():
    condition = _accepted([g.gateway(), *BACKENDS, g.route("r", [_rule({
        "retry": {"codes": [500, 503], "attempts": 2, "backoff": "100ms"},
        "sessionPersistence": {"sessionName": "s", "absoluteTimeout": "1h", "idleTimeout": "10m"},
        "filters": [{"type": "CORS", "cors": {"allowOrigins": ["https://*.example.com"], "maxAge": 60}}]})])])
    assert (condition.status, condition.reason) == ("True", "Accepted")


def test_a_refused_rule_answers_500_and_config_says_why(gw, echo_factory):
    g.deploy(gw, {"svc": echo_factory("svc")}, [g.route("r", [_rule({"retry": {"codes": [302]}})])])
    assert gw.request(path="/")[0] == 500
    described = gw.runtime.compiled.describe()["routes"]["default/r"]["rules"]["0"]
    assert described["problem"] == "retry codes [302] are outside 400-599"


def test_cors_on_a_backend_ref_is_refused_for_that_backend(gw, echo_factory):
    item = g.rule([dict(g.backend("svc"), filters=[{"type": "CORS", "cors": {"allowOrigins": ["*"]}}])])
    g.deploy(gw, {"svc": echo_factory("svc")}, [g.route("r", [item])])
    assert gw.request(path="/", headers={"Origin": "https://a.com"})[0] == 500


def test_a_malformed_value_is_refused_by_the_loader_which_keeps_the_last_good_config(gw, echo_factory):
    echo = echo_factory("svc")
    g.deploy(gw, {"svc": echo}, [g.route("r", [g.rule([g.backend("svc")])])])
    broken = g.route("r", [_rule({"retry": {"codes": [503], "backoff": "soon"}})])
    gw.write("config.yaml", [g.gateway(), *g.service("svc", echo.port), broken])
    assert "invalid duration 'soon'" in gw.runtime.errors["config.yaml"]
    assert gw.request(path="/")[0] == 200  # the last good table still serves
