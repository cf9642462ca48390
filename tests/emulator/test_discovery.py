"""Discovery, OpenAPI v3 and Table output: what kubectl needs to find and print resources."""

import aiohttp

from routeshift.emulator import serve

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def test_core_discovery_reports_group_version_v1(http):
    assert http.get("/api").json()["versions"] == ["v1"]
    core = http.get("/api/v1").json()
    assert core["groupVersion"] == "v1"
    names = {resource["name"] for resource in core["resources"]}
    assert {"namespaces", "configmaps", "events", "services", "namespaces/status"} <= names


def test_preferred_version_is_the_highest_stable_one_every_time(http):
    groups = {group["name"]: group for group in http.get("/apis").json()["groups"]}
    gateway = groups["gateway.networking.k8s.io"]
    assert gateway["preferredVersion"]["version"] == "v1"
    assert [v["version"] for v in gateway["versions"]] == ["v1", "v1beta1"]
    assert http.get("/apis/gateway.networking.k8s.io").json()["preferredVersion"]["version"] == "v1"


def test_one_object_is_served_in_every_version_of_its_resource(http):
    route = {"metadata": {"name": "r"}, "spec": {"parentRefs": [{"name": "gw"}]}}
    created = http.post("/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes", json=route)
    assert created.status_code == 201
    old = http.get("/apis/gateway.networking.k8s.io/v1beta1/namespaces/default/httproutes/r").json()
    assert old["apiVersion"] == "gateway.networking.k8s.io/v1beta1"
    assert old["metadata"]["uid"] == created.json()["metadata"]["uid"]


def test_posted_crd_becomes_a_served_resource_with_openapi(http, widgets):
    group = http.get("/apis/test.routeshift.dev").json()
    assert group["preferredVersion"]["groupVersion"] == "test.routeshift.dev/v1"
    resources = http.get("/apis/test.routeshift.dev/v1").json()["resources"]
    assert {(r["name"], r["kind"], r["namespaced"]) for r in resources} >= {("widgets", "Widget", True),
                                                                            ("widgets/status", "Widget", True)}
    crd = http.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.test.routeshift.dev").json()
    assert {c["type"]: c["status"] for c in crd["status"]["conditions"]}["Established"] == "True"

    index = http.get("/openapi/v3").json()["paths"]
    document = http.get(index["apis/test.routeshift.dev/v1"]["serverRelativeURL"]).json()
    patch = document["paths"]["/apis/test.routeshift.dev/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "test.routeshift.dev", "version": "v1", "kind": "Widget"}
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])


def test_deleting_a_crd_stops_serving_it_and_deletes_its_objects(http, make_widget):
    make_widget("w1")
    crd_url = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.test.routeshift.dev"
    http.delete(crd_url).raise_for_status()
    assert http.get("/apis/test.routeshift.dev/v1/namespaces/default/widgets").status_code == 404
    assert "test.routeshift.dev" not in {g["name"] for g in http.get("/apis").json()["groups"]}


def test_table_output_uses_the_crd_printer_columns(http, make_widget, widgets_url):
    make_widget("w1", size=3)
    http.patch(f"{widgets_url}/w1/status", json={"status": {"phase": "Ready"}},
               headers={"Content-Type": "application/merge-patch+json"}).raise_for_status()
    table = http.get(widgets_url, headers={"Accept": TABLE}).json()
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Phase", "Size", "Age"]
    cells = table["rows"][0]["cells"]
    assert cells[:3] == ["w1", "Ready", 3]
    assert cells[3].endswith("s")
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_builtin_table_has_name_and_age(http):
    table = http.get("/api/v1/namespaces/default", headers={"Accept": TABLE}).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]
    assert table["rows"][0]["cells"][0] == "default"


async def test_non_resource_paths_keep_kmock_reactions_and_unknown_ones_get_404_status():
    async with serve() as api, aiohttp.ClientSession(
            api.url, connector=aiohttp.TCPConnector(force_close=True)) as client:
        api.emulator["get /livez"] << b"ok"
        async with client.get("/livez") as rsp:
            assert (rsp.status, await rsp.read()) == (200, b"ok")
        async with client.get("/openapi/v2") as rsp:
            status = await rsp.json()
            assert (rsp.status, status["kind"], status["reason"]) == (404, "Status", "NotFound")
        async with client.get("/version") as rsp:
            assert (await rsp.json())["major"] == "1"
