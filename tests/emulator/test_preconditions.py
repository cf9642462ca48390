"""Optimistic concurrency over real HTTP: 409 on stale versions, 422 on failed JSON-patch tests."""

MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def test_merge_patch_with_a_stale_resource_version_gets_409(http, make_widget, widgets_url):
    widget = make_widget("w1")
    stale = widget["metadata"]["resourceVersion"]
    http.patch(f"{widgets_url}/w1", json={"spec": {"size": 2}}, headers=MERGE).raise_for_status()

    response = http.patch(f"{widgets_url}/w1", json={"metadata": {"resourceVersion": stale}, "spec": {"size": 3}},
                          headers=MERGE)

    assert response.status_code == 409
    status = response.json()
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "Conflict", 409)
    assert "the object has been modified" in status["message"]
    assert http.get(f"{widgets_url}/w1").json()["spec"]["size"] == 2


def test_put_with_a_stale_resource_version_gets_409_and_a_current_one_succeeds(http, make_widget, widgets_url):
    widget = make_widget("w1")
    http.patch(f"{widgets_url}/w1", json={"spec": {"size": 2}}, headers=MERGE).raise_for_status()

    assert http.put(f"{widgets_url}/w1", json={**widget, "spec": {"size": 9}}).status_code == 409

    current = http.get(f"{widgets_url}/w1").json()
    replaced = http.put(f"{widgets_url}/w1", json={**current, "spec": {"size": 9}})
    assert replaced.status_code == 200
    assert replaced.json()["spec"] == {"size": 9}


def test_failed_json_patch_test_gets_422_and_changes_nothing(http, make_widget, widgets_url):
    widget = make_widget("w1")
    http.patch(f"{widgets_url}/w1", json={"spec": {"size": 2}}, headers=MERGE).raise_for_status()

    response = http.patch(f"{widgets_url}/w1", headers=JSON_PATCH, json=[
        {"op": "test", "path": "/metadata/resourceVersion", "value": widget["metadata"]["resourceVersion"]},
        {"op": "add", "path": "/metadata/finalizers", "value": ["x/y"]},
    ])

    assert response.status_code == 422
    assert response.json()["reason"] == "Invalid"
    assert "finalizers" not in http.get(f"{widgets_url}/w1").json()["metadata"]


def test_json_patch_with_a_current_test_applies(http, make_widget, widgets_url):
    widget = make_widget("w1")
    response = http.patch(f"{widgets_url}/w1", headers=JSON_PATCH, json=[
        {"op": "test", "path": "/metadata/resourceVersion", "value": widget["metadata"]["resourceVersion"]},
        {"op": "add", "path": "/metadata/finalizers", "value": ["x/y"]},
    ])
    assert response.status_code == 200
    assert response.json()["metadata"]["finalizers"] == ["x/y"]


def test_delete_with_stale_preconditions_gets_409(http, make_widget, widgets_url):
    widget = make_widget("w1")
    http.patch(f"{widgets_url}/w1", json={"spec": {"size": 2}}, headers=MERGE).raise_for_status()

    stale_version = http.request("DELETE", f"{widgets_url}/w1", json={
        "kind": "DeleteOptions", "apiVersion": "v1",
        "preconditions": {"resourceVersion": widget["metadata"]["resourceVersion"]}})
    wrong_uid = http.request("DELETE", f"{widgets_url}/w1", json={"preconditions": {"uid": "not-the-uid"}})

    assert (stale_version.status_code, wrong_uid.status_code) == (409, 409)
    assert http.get(f"{widgets_url}/w1").status_code == 200


def test_creating_an_existing_name_gets_409_already_exists(http, make_widget, widgets_url):
    make_widget("w1")
    response = http.post(widgets_url, json={"apiVersion": "test.routeshift.dev/v1", "kind": "Widget",
                                            "metadata": {"name": "w1"}, "spec": {"size": 1}})
    assert response.status_code == 409
    assert response.json()["reason"] == "AlreadyExists"


def test_strategic_merge_patch_on_a_custom_resource_gets_415(http, make_widget, widgets_url):
    make_widget("w1")
    response = http.patch(f"{widgets_url}/w1", json={"spec": {"size": 2}},
                          headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert response.status_code == 415
    assert response.json()["reason"] == "UnsupportedMediaType"


def test_unknown_objects_and_resources_get_404_status(http, widgets_url):
    missing_object = http.get(f"{widgets_url}/nope")
    missing_resource = http.get("/apis/test.routeshift.dev/v1/namespaces/default/gadgets")
    assert (missing_object.status_code, missing_object.json()["reason"]) == (404, "NotFound")
    assert missing_object.json()["message"] == 'widgets.test.routeshift.dev "nope" not found'
    assert missing_resource.status_code == 404
