"""The garbage collector: objects whose owners are all gone are deleted, for any kind."""

from routeshift.testing.polling import until

CONFIGMAPS = "v1/configmaps"


def owned(name, *owners, kind="ConfigMap", api_version="v1"):
    return {"metadata": {"name": name, "ownerReferences": [
        {"apiVersion": api_version, "kind": kind, "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"]}
        for owner in owners]}}


def test_an_object_created_for_a_vanished_owner_is_collected(k8s_api):
    ghost = {"metadata": {"name": "ghost", "uid": "0b7e1c2a-0000-4000-8000-000000000000"}}
    live = k8s_api.create(CONFIGMAPS, {"metadata": {"name": "live"}}, "default")
    k8s_api.create(CONFIGMAPS, owned("orphan", ghost), "default")
    k8s_api.create(CONFIGMAPS, owned("half", ghost, live), "default")
    until(lambda: k8s_api.get(CONFIGMAPS, "default", "orphan") is None, timeout=5, description="collected")
    assert k8s_api.get(CONFIGMAPS, "default", "half") is not None, "one live owner keeps it"


def test_objects_owned_by_a_custom_resource_go_with_it(k8s_api, widgets):
    widget = k8s_api.create(widgets, {"metadata": {"name": "w"}, "spec": {"size": 1}}, "default")
    k8s_api.create(CONFIGMAPS, owned("w-config", widget, kind="Widget", api_version="test.routeshift.dev/v1"),
                   "default")
    k8s_api.delete(widgets, "default", "w")
    until(lambda: k8s_api.get(CONFIGMAPS, "default", "w-config") is None, timeout=5, description="collected")


def test_orphaning_strips_the_reference_instead(k8s_api, http):
    owner = k8s_api.create(CONFIGMAPS, {"metadata": {"name": "owner"}}, "default")
    k8s_api.create(CONFIGMAPS, owned("kept", owner), "default")
    http.request("DELETE", "/api/v1/namespaces/default/configmaps/owner",
                 json={"propagationPolicy": "Orphan"}).raise_for_status()
    kept = k8s_api.get(CONFIGMAPS, "default", "kept")
    assert "ownerReferences" not in kept["metadata"]
