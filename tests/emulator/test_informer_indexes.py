"""The workload controllers' cache answers label and selector look-ups as a scan would.

The EndpointSlice controller asks "which Pods does this Service select" and "which Services
select this Pod" at every Pod change; the cache answers from indexes kept at every change.
A relabelled Pod, a Service whose selector changed and a deleted object must leave no trace
in them, or a Service would keep the endpoints of a Pod it no longer selects.
"""

from types import SimpleNamespace

import pytest

from routeshift.emulator import eventlog
from routeshift.emulator.workloads import informers, objects

STORAGE = {informers.PODS: SimpleNamespace(group="", plural="pods"),
           informers.SERVICES: SimpleNamespace(group="", plural="services")}


def pod(name, labels, ns="default"):
    return {"metadata": {"name": name, "namespace": ns, "labels": labels}}


def service(name, selector, ns="default"):
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"selector": selector} if selector else {}}


def change(kind, obj, kind_of_change="MODIFIED"):
    return eventlog.Change(resource_version=1, storage=STORAGE[kind], type=kind_of_change, object=obj, previous=None)


def cache_of(*writes):
    cache = informers.Cache()
    for kind, obj, kind_of_change in writes:
        cache.apply(change(kind, obj, kind_of_change))
    return cache


def scan_selected(cache, namespace, selector):
    return sorted(objects.key_of(p) for p in cache.list(informers.PODS, namespace)
                  if objects.map_selector_matches(selector, objects.labels(p)))


def scan_selecting(cache, namespace, labels):
    return sorted(objects.key_of(s) for s in cache.list(informers.SERVICES, namespace)
                  if objects.map_selector_matches((s.get("spec") or {}).get("selector"), labels))


WRITES = {
    "plain": [(informers.PODS, pod("a", {"app": "web", "track": "primary"}), "ADDED"),
              (informers.PODS, pod("b", {"app": "web", "track": "canary"}), "ADDED"),
              (informers.PODS, pod("c", {"app": "api"}), "ADDED"),
              (informers.SERVICES, service("web", {"app": "web"}), "ADDED"),
              (informers.SERVICES, service("web-primary", {"app": "web", "track": "primary"}), "ADDED"),
              (informers.SERVICES, service("manual", None), "ADDED")],
    "relabelled-pod": [(informers.PODS, pod("a", {"app": "web", "track": "primary"}), "ADDED"),
                       (informers.PODS, pod("a", {"app": "web", "track": "canary"}), "MODIFIED"),
                       (informers.SERVICES, service("web-primary", {"app": "web", "track": "primary"}), "ADDED"),
                       (informers.SERVICES, service("web-canary", {"app": "web", "track": "canary"}), "ADDED")],
    "reselected-service": [(informers.PODS, pod("a", {"app": "web"}), "ADDED"),
                           (informers.PODS, pod("b", {"app": "api"}), "ADDED"),
                           (informers.SERVICES, service("s", {"app": "web"}), "ADDED"),
                           (informers.SERVICES, service("s", {"app": "api"}), "MODIFIED")],
    "deleted": [(informers.PODS, pod("a", {"app": "web"}), "ADDED"),
                (informers.SERVICES, service("s", {"app": "web"}), "ADDED"),
                (informers.PODS, pod("a", {"app": "web"}), "DELETED"),
                (informers.SERVICES, service("s", {"app": "web"}), "DELETED")],
    "other-namespace": [(informers.PODS, pod("a", {"app": "web"}, ns="other"), "ADDED"),
                        (informers.SERVICES, service("s", {"app": "web"}, ns="other"), "ADDED")],
}
SELECTORS = [{"app": "web"}, {"app": "web", "track": "primary"}, {"track": "canary"}, {"app": "api"}, {}]


@pytest.mark.parametrize("writes", WRITES.values(), ids=WRITES.keys())
@pytest.mark.parametrize("namespace", ["default", "other"])
def test_label_and_selector_lookups_agree_with_a_scan(writes, namespace):
    cache = cache_of(*writes)
    for selector in SELECTORS:
        found = sorted(objects.key_of(p) for p in cache.labelled(informers.PODS, namespace, selector))
        assert found == scan_selected(cache, namespace, selector), selector
        found = sorted(objects.key_of(s) for s in cache.selecting(namespace, selector))
        assert found == scan_selecting(cache, namespace, selector), selector


def test_the_pods_a_service_selects_follow_a_relabelling():
    cache = cache_of(*WRITES["relabelled-pod"])
    assert cache.labelled(informers.PODS, "default", {"app": "web", "track": "primary"}) == []
    assert [objects.key_of(s) for s in cache.selecting("default", {"app": "web", "track": "canary"})] == [
        ("default", "web-canary")]


def test_a_reload_from_nothing_forgets_every_index():
    cache = cache_of(*WRITES["plain"])
    cache.load(SimpleNamespace(types=SimpleNamespace(all=lambda: [])))
    assert cache.labelled(informers.PODS, "default", {"app": "web"}) == []
    assert cache.selecting("default", {"app": "web"}) == []
