"""Server-owned metadata: uid, one global resourceVersion, generation, generateName, namespaces."""

MERGE = {"Content-Type": "application/merge-patch+json"}


def test_created_objects_get_uid_timestamp_version_and_the_url_namespace(http):
    response = http.post("/api/v1/namespaces/kube-system/configmaps",
                         json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "1"}})
    assert response.status_code == 201
    meta = response.json()["metadata"]
    assert meta["namespace"] == "kube-system"
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z") and meta["resourceVersion"].isdigit()


def test_resource_version_is_global_and_increasing_across_resources(http, make_widget):
    first = int(make_widget("w1")["metadata"]["resourceVersion"])
    configmap = http.post("/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "cm"}}).json()
    second = int(make_widget("w2")["metadata"]["resourceVersion"])
    assert first < int(configmap["metadata"]["resourceVersion"]) < second
    listed = http.get("/apis/test.routeshift.dev/v1/widgets").json()
    assert listed["kind"] == "WidgetList"
    assert int(listed["metadata"]["resourceVersion"]) >= second


def test_generation_bumps_on_spec_changes_only(http, make_widget, widgets_url):
    assert make_widget("w1")["metadata"]["generation"] == 1
    labelled = http.patch(f"{widgets_url}/w1", json={"metadata": {"labels": {"a": "b"}}}, headers=MERGE).json()
    status = http.patch(f"{widgets_url}/w1/status", json={"status": {"phase": "x"}}, headers=MERGE).json()
    spec = http.patch(f"{widgets_url}/w1", json={"spec": {"size": 5}}, headers=MERGE).json()
    assert (labelled["metadata"]["generation"], status["metadata"]["generation"]) == (1, 1)
    assert spec["metadata"]["generation"] == 2


def test_no_op_patch_keeps_the_resource_version(http, make_widget, widgets_url):
    widget = make_widget("w1", size=3)
    same = http.patch(f"{widgets_url}/w1", json={"spec": {"size": 3}}, headers=MERGE)
    assert same.status_code == 200
    assert same.json()["metadata"]["resourceVersion"] == widget["metadata"]["resourceVersion"]


def test_generate_name_gives_each_object_a_unique_name(http):
    names = set()
    for _ in range(5):
        response = http.post("/api/v1/namespaces/default/events",
                             json={"metadata": {"generateName": "kopf-event-"}, "message": "hi",
                                   "involvedObject": {"kind": "Widget", "name": "w1"}})
        assert response.status_code == 201
        names.add(response.json()["metadata"]["name"])
    assert len(names) == 5 and all(name.startswith("kopf-event-") for name in names)


def test_namespace_must_exist_and_server_fields_cannot_be_forged(http):
    missing = http.post("/api/v1/namespaces/nowhere/configmaps", json={"metadata": {"name": "cm"}})
    assert (missing.status_code, missing.json()["message"]) == (404, 'namespaces "nowhere" not found')

    forged = http.post("/api/v1/namespaces/default/configmaps", json={
        "metadata": {"name": "cm", "uid": "forged", "resourceVersion": "999999", "generation": 7}}).json()
    assert forged["metadata"]["uid"] != "forged"
    assert forged["metadata"]["generation"] == 1
    assert int(forged["metadata"]["resourceVersion"]) < 999999


def test_default_namespaces_exist(http):
    names = {ns["metadata"]["name"] for ns in http.get("/api/v1/namespaces").json()["items"]}
    assert {"default", "kube-system", "kube-public"} <= names
