"""Watches resume from their resourceVersion, and list again only when the API says 410 Gone."""

from __future__ import annotations

import gw_harness
import kube_harness
from routeshift.testing.polling import until

ROUTES_PATH = "/apis/gateway.networking.k8s.io/v1/httproutes"


def _world(k8s_api, echo_factory):
    stable, canary = echo_factory("stable"), echo_factory("canary")
    kube_harness.create_all(k8s_api, [
        kube_harness.gateway_class(), gw_harness.gateway(),
        *kube_harness.echo_backend("stable", stable), *kube_harness.echo_backend("canary", canary),
        gw_harness.route("app", [gw_harness.rule([gw_harness.backend("stable", 1), gw_harness.backend("canary", 0)])]),
    ])


def _weights(k8s_api, stable, canary):
    k8s_api.patch(kube_harness.ROUTES, "default", "app", {"spec": {"rules": [{"backendRefs": [
        {"name": "stable", "port": 80, "weight": stable}, {"name": "canary", "port": 80, "weight": canary}]}]}})


def _route_watcher(proxy):
    return proxy.call(lambda: next(w for k, w in proxy.mode.watchers.items() if k.plural == "httproutes"))


def test_an_ended_watch_resumes_without_listing_again(k8s_api, kube_proxy, echo_factory):
    _world(k8s_api, echo_factory)
    proxy = kube_proxy(watch_timeout=1)
    until(lambda: kube_harness.backends(proxy, 1) == {"stable": 1}, 5)
    watcher = _route_watcher(proxy)
    # Two 1 s watches end; the emulator logs a watch request when its stream ends.
    until(lambda: proxy.call(lambda: watcher.watches >= 3), 5, description="the 1 s watches ended and resumed")

    _weights(k8s_api, 0, 1)
    until(lambda: kube_harness.backends(proxy, 1) == {"canary": 1}, 5)
    assert proxy.call(lambda: watcher.lists) == 1
    resumed = [path for method, path, status in k8s_api.requests()
               if method == "GET" and path.startswith(ROUTES_PATH + "?") and "watch=true" in path]
    assert len(resumed) >= 2
    assert all("resourceVersion=0" not in path and "resourceVersion=&" not in path for path in resumed)


def test_a_compacted_resource_version_makes_the_watcher_list_again(k8s_api, kube_proxy, echo_factory):
    _world(k8s_api, echo_factory)
    proxy = kube_proxy(watch_timeout=1)
    until(lambda: kube_harness.backends(proxy, 1) == {"stable": 1}, 5)
    watcher = _route_watcher(proxy)

    # Keep the watcher away while the route changes and history is compacted past its position.
    fault = k8s_api.faults.inject(method="GET", path=ROUTES_PATH + "$", status=503, times=None)
    until(lambda: proxy.call(lambda: watcher.error), 5, description="the watch ended and could not reconnect")
    until(lambda: "watch httproutes.v1.gateway.networking.k8s.io" in proxy.call(lambda: dict(proxy.runtime.errors)), 5,
          description="the failing watch reported on the admin endpoint")
    stale = proxy.call(lambda: watcher.resource_version)
    _weights(k8s_api, 0, 1)
    assert k8s_api.compact() > int(stale)
    k8s_api.faults.remove(fault)

    until(lambda: kube_harness.backends(proxy, 1) == {"canary": 1}, 5, description="change seen after relisting")
    assert proxy.call(lambda: watcher.lists) == 2
    assert proxy.call(lambda: watcher.error) is None
    until(lambda: not proxy.call(lambda: dict(proxy.runtime.errors)), 5, description="watch error cleared")
