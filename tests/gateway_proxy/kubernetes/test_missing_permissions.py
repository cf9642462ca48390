"""A cluster that grants less than everything: the proxy keeps routing and says what it lacks.

The chart grants Secrets only when TLS termination is on, and a GatewayClass status write may
be refused by RBAC; neither may stop HTTP routing, nor turn into a loop of refused requests.
"""

from __future__ import annotations

import gw_harness
import kube_harness
from routeshift.testing.polling import until


def _world(k8s_api, echo_factory):
    echo = echo_factory("app")
    kube_harness.create_all(k8s_api, [
        kube_harness.gateway_class(), gw_harness.gateway(), *kube_harness.echo_backend("app", echo),
        gw_harness.route("r", [gw_harness.rule([gw_harness.backend("app")])]),
    ])


def test_without_access_to_secrets_http_routes_still_serve(k8s_api, kube_proxy, echo_factory):
    k8s_api.faults.inject(method="GET", path=r"^/api/v1/secrets$", status=403, times=None, reason="Forbidden")
    _world(k8s_api, echo_factory)
    proxy = kube_proxy()
    until(lambda: kube_harness.backends(proxy, 1) == {"app": 1}, 5, description="served without Secrets")
    errors = until(lambda: proxy.call(lambda: dict(proxy.runtime.errors)), 5)
    assert list(errors) == ["watch secrets.v1"] and "403" in errors["watch secrets.v1"]


def test_a_refused_status_write_is_reported_and_not_repeated(k8s_api, kube_proxy, echo_factory):
    k8s_api.faults.inject(method="PATCH", path=r"/gatewayclasses/routeshift/status$", status=403, times=None,
                          reason="Forbidden")
    _world(k8s_api, echo_factory)
    proxy = kube_proxy()
    until(lambda: kube_harness.route_parents(k8s_api, "r"), 5, description="route status written")
    until(lambda: "status of GatewayClass routeshift" in proxy.call(lambda: dict(proxy.runtime.errors)), 5)

    for index in range(10):  # events that make the proxy recompute every status
        k8s_api.patch(kube_harness.SERVICES, "default", "app", {"metadata": {"labels": {"n": str(index)}}})
    last = k8s_api.get(kube_harness.SERVICES, "default", "app")["metadata"]["resourceVersion"]
    watcher = proxy.call(lambda: next(w for k, w in proxy.mode.watchers.items() if k.plural == "services"))
    until(lambda: proxy.call(lambda: watcher.resource_version == last and proxy.mode.idle), 5)
    attempts = [e for e in k8s_api.requests() if e[0] == "PATCH" and "/gatewayclasses/" in e[1]]
    assert [status for _, _, status in attempts] == [403]
