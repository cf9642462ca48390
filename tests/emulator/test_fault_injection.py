"""Injected faults fail requests before any state changes, on a schedule the test chooses."""

MERGE = {"Content-Type": "application/merge-patch+json"}


def test_injected_fault_leaves_the_object_untouched(http, make_widget, widgets_url, k8s_api, widgets):
    widget = make_widget("w1", size=1)
    fault = k8s_api.faults.inject(method="PATCH", path=r"/widgets/w1$", status=503, times=1, retry_after=1)

    failed = http.patch(f"{widgets_url}/w1", json={"spec": {"size": 2}}, headers=MERGE)
    assert failed.status_code == 503
    assert failed.json()["reason"] == "ServiceUnavailable"
    assert failed.headers["Retry-After"] == "1"
    after = k8s_api.get(widgets, "default", "w1")
    assert after["spec"] == {"size": 1}
    assert after["metadata"]["resourceVersion"] == widget["metadata"]["resourceVersion"]

    assert http.patch(f"{widgets_url}/w1", json={"spec": {"size": 2}}, headers=MERGE).status_code == 200
    assert fault.fired == 1 and fault.exhausted


def test_every_other_request_gets_a_conflict(http, make_widget, widgets_url, k8s_api):
    make_widget("w1")
    k8s_api.faults.inject(method="PATCH", path="/widgets/", status=409, times=None, every=2)
    codes = [http.patch(f"{widgets_url}/w1", json={"spec": {"size": n}}, headers=MERGE).status_code for n in range(6)]
    assert codes == [409, 200, 409, 200, 409, 200]
    assert http.get(f"{widgets_url}/w1").status_code == 200, "other methods are not affected"


def test_faults_match_method_and_path_and_can_be_cleared(http, make_widget, widgets_url, k8s_api):
    make_widget("w1")
    k8s_api.faults.inject(method="GET", path=r"/configmaps", status=500, times=None)
    assert http.get("/api/v1/namespaces/default/configmaps").status_code == 500
    assert http.get(f"{widgets_url}/w1").status_code == 200
    k8s_api.faults.clear()
    assert http.get("/api/v1/namespaces/default/configmaps").status_code == 200
