"""The status subresource split: ``/status`` writes touch only status, the main endpoint never does."""

MERGE = {"Content-Type": "application/merge-patch+json"}


def test_status_patch_does_not_touch_spec_or_metadata(http, make_widget, widgets_url):
    make_widget("w1", size=2)
    response = http.patch(f"{widgets_url}/w1/status", headers=MERGE, json={
        "spec": {"size": 99}, "metadata": {"labels": {"sneaky": "yes"}}, "status": {"phase": "Ready"}})
    assert response.status_code == 200
    widget = http.get(f"{widgets_url}/w1").json()
    assert widget["status"] == {"phase": "Ready"}
    assert widget["spec"] == {"size": 2}
    assert "labels" not in widget["metadata"]


def test_main_endpoint_ignores_status(http, make_widget, widgets_url):
    make_widget("w1")
    http.patch(f"{widgets_url}/w1/status", json={"status": {"phase": "Ready"}}, headers=MERGE).raise_for_status()
    response = http.patch(f"{widgets_url}/w1", json={"spec": {"size": 4}, "status": {"phase": "Hacked"}}, headers=MERGE)
    assert response.status_code == 200
    widget = response.json()
    assert widget["spec"] == {"size": 4}
    assert widget["status"] == {"phase": "Ready"}


def test_status_given_on_create_is_dropped(http, widgets_url, widgets):
    created = http.post(widgets_url, json={"apiVersion": "test.routeshift.dev/v1", "kind": "Widget",
                                           "metadata": {"name": "w1"}, "spec": {"size": 1},
                                           "status": {"phase": "Forged"}})
    assert created.status_code == 201
    assert "status" not in created.json()


def test_put_to_status_replaces_only_status(http, make_widget, widgets_url):
    make_widget("w1", size=2)
    current = http.get(f"{widgets_url}/w1").json()
    response = http.put(f"{widgets_url}/w1/status", json={**current, "spec": {"size": 50}, "status": {"phase": "Done"}})
    assert response.status_code == 200
    assert response.json()["spec"] == {"size": 2}
    assert response.json()["status"] == {"phase": "Done"}
