"""``dryRun=All`` computes the result (and validates it) without changing anything."""

MERGE = {"Content-Type": "application/merge-patch+json"}


def test_dry_run_create_patch_and_delete_do_not_mutate(http, make_widget, widgets_url, k8s_api, widgets):
    widget = make_widget("w1", size=1)
    version = widget["metadata"]["resourceVersion"]

    created = http.post(f"{widgets_url}?dryRun=All", json={"apiVersion": "test.routeshift.dev/v1", "kind": "Widget",
                                                           "metadata": {"name": "w2"}, "spec": {"size": 2}})
    patched = http.patch(f"{widgets_url}/w1?dryRun=All", json={"spec": {"size": 7}}, headers=MERGE)
    deleted = http.delete(f"{widgets_url}/w1?dryRun=All")

    assert (created.status_code, patched.status_code, deleted.status_code) == (201, 200, 200)
    assert patched.json()["spec"] == {"size": 7}, "the dry-run result shows the would-be object"
    assert k8s_api.get(widgets, "default", "w2") is None
    current = k8s_api.get(widgets, "default", "w1")
    assert current["spec"] == {"size": 1}
    assert current["metadata"]["resourceVersion"] == version


def test_dry_run_still_validates(http, make_widget, widgets_url):
    make_widget("w1")
    response = http.patch(f"{widgets_url}/w1?dryRun=All", json={"spec": {"size": -5}}, headers=MERGE)
    assert response.status_code == 422
