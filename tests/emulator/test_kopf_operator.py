"""The real kopf operator against the emulator: finalizer, status, Events, deletion, retries."""

import kopf
import pytest

from routeshift.testing.polling import until

FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"


@pytest.fixture
def registry():
    registry = kopf.OperatorRegistry()
    registry.deleted = []

    @kopf.on.create("test.routeshift.dev", "v1", "widgets", registry=registry, backoff=0.1)
    async def created(body, spec, patch, **_):
        for step in range(3):
            kopf.info(body, reason="Sizing", message=f"sizing step {step}")
        patch.status["phase"] = "Ready"
        patch.status["size"] = spec["size"] * 2

    @kopf.on.delete("test.routeshift.dev", "v1", "widgets", registry=registry, backoff=0.1)
    async def removed(name, **_):
        registry.deleted.append(name)

    return registry


def _phase(k8s_api, widgets, name):
    return (k8s_api.get(widgets, "default", name) or {}).get("status", {}).get("phase")


def test_operator_adds_finalizer_patches_status_posts_events_and_handles_deletion(
        k8s_api, widgets, make_widget, kopf_runner, registry):
    kopf_runner(registry)
    make_widget("w1", size=2)

    until(lambda: _phase(k8s_api, widgets, "w1") == "Ready", timeout=10)
    widget = k8s_api.get(widgets, "default", "w1")
    assert FINALIZER in widget["metadata"]["finalizers"]
    assert widget["status"]["size"] == 4
    assert widget["spec"] == {"size": 2}, "the status patch must not touch the spec"

    def sizing_events():
        events = k8s_api.objects("v1/events", "default", field_selector="involvedObject.name=w1,reason=Sizing")
        return events if len(events) == 3 else None
    events = until(sizing_events, timeout=10)
    assert sorted(e["message"] for e in events) == ["sizing step 0", "sizing step 1", "sizing step 2"]
    assert all(e["metadata"]["name"].startswith("kopf-event-") for e in events), "generateName must be honoured"
    assert all(e["involvedObject"]["uid"] == widget["metadata"]["uid"] for e in events)

    deleting = k8s_api.delete(widgets, "default", "w1")
    assert deleting["metadata"]["deletionTimestamp"], "the finalizer must hold the object back"
    until(lambda: k8s_api.get(widgets, "default", "w1") is None, timeout=10)
    assert registry.deleted == ["w1"]


def test_injected_503_on_one_patch_is_retried_and_the_handler_completes(
        k8s_api, widgets, make_widget, kopf_runner, registry):
    fault = k8s_api.faults.inject(method="PATCH", path=r"/widgets/w1$", status=503, times=1)
    kopf_runner(registry)
    make_widget("w1")

    until(lambda: _phase(k8s_api, widgets, "w1") == "Ready", timeout=10)
    assert fault.fired == 1
    patches = [status for method, path, status in k8s_api.requests() if method == "PATCH" and "/widgets/w1" in path]
    assert patches[0] == 503
    assert 200 in patches[1:]
