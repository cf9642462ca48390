"""Finalizers and deletionTimestamp; namespaces that take their contents with them."""

import pytest

MERGE = {"Content-Type": "application/merge-patch+json"}


def test_delete_with_finalizers_marks_and_removing_the_last_finalizer_deletes(http, make_widget, widgets_url):
    make_widget("w1", finalizers=["a/one", "b/two"])

    marked = http.delete(f"{widgets_url}/w1")
    assert marked.status_code == 200
    assert marked.json()["metadata"]["deletionTimestamp"]
    again = http.delete(f"{widgets_url}/w1").json()
    assert again["metadata"]["resourceVersion"] == marked.json()["metadata"]["resourceVersion"]

    one_left = http.patch(f"{widgets_url}/w1", json={"metadata": {"finalizers": ["b/two"]}}, headers=MERGE)
    assert one_left.status_code == 200
    assert http.get(f"{widgets_url}/w1").status_code == 200

    gone = http.patch(f"{widgets_url}/w1", json={"metadata": {"finalizers": None}}, headers=MERGE)
    assert gone.status_code == 200
    assert http.get(f"{widgets_url}/w1").status_code == 404


def test_no_new_finalizers_on_an_object_being_deleted(http, make_widget, widgets_url):
    make_widget("w1", finalizers=["a/one"])
    http.delete(f"{widgets_url}/w1").raise_for_status()
    response = http.patch(f"{widgets_url}/w1", json={"metadata": {"finalizers": ["a/one", "c/new"]}}, headers=MERGE)
    assert response.status_code == 422


def test_deleting_a_namespace_deletes_its_contents_and_waits_for_finalizers(http, k8s_api, widgets):
    http.post("/api/v1/namespaces", json={"metadata": {"name": "team"}}).raise_for_status()
    http.post("/api/v1/namespaces/team/configmaps", json={"metadata": {"name": "cm"}}).raise_for_status()
    k8s_api.create(widgets, {"metadata": {"name": "held", "finalizers": ["x/y"]}, "spec": {"size": 1}}, "team")

    terminating = http.delete("/api/v1/namespaces/team").json()
    assert terminating["status"]["phase"] == "Terminating"
    assert http.get("/api/v1/namespaces/team/configmaps/cm").status_code == 404
    refused = http.post("/api/v1/namespaces/team/configmaps", json={"metadata": {"name": "late"}})
    assert refused.status_code == 403

    k8s_api.patch(widgets, "team", "held", {"metadata": {"finalizers": None}})
    assert http.get("/api/v1/namespaces/team").status_code == 404


@pytest.mark.parametrize("grace", [None, {"gracePeriodSeconds": 0, "propagationPolicy": "Background"}])
def test_delete_without_finalizers_removes_at_once(http, make_widget, widgets_url, grace):
    make_widget("w1")
    response = http.request("DELETE", f"{widgets_url}/w1", json=grace) if grace else http.delete(f"{widgets_url}/w1")
    assert response.status_code == 200
    assert http.get(f"{widgets_url}/w1").status_code == 404


def _owned(name, *owners):
    references = [{"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"],
                   "uid": owner["metadata"]["uid"]} for owner in owners]
    return {"metadata": {"name": name, "ownerReferences": references}}


def test_dependents_are_garbage_collected_with_their_owner_unless_orphaned(http, k8s_api):
    url = "/api/v1/namespaces/default/configmaps"
    owner = http.post(url, json={"metadata": {"name": "owner"}}).json()
    other = http.post(url, json={"metadata": {"name": "other"}}).json()
    http.post(url, json=_owned("child", owner)).raise_for_status()
    http.post(url, json=_owned("grandchild", http.get(f"{url}/child").json())).raise_for_status()
    http.post(url, json=_owned("shared", owner, other)).raise_for_status()

    http.delete(f"{url}/owner").raise_for_status()

    assert http.get(f"{url}/child").status_code == 404
    assert http.get(f"{url}/grandchild").status_code == 404
    shared = http.get(f"{url}/shared").json()
    assert [r["name"] for r in shared["metadata"]["ownerReferences"]] == ["other"]

    http.post(url, json=_owned("kept", other)).raise_for_status()
    http.request("DELETE", f"{url}/other", json={"propagationPolicy": "Orphan"}).raise_for_status()
    assert http.get(f"{url}/kept").status_code == 200
