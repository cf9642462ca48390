"""Custom resources are checked against their CRD's openAPIV3Schema, as the real server does."""

BASE = {"apiVersion": "test.routeshift.dev/v1", "kind": "Widget", "metadata": {"name": "w1"}}


def test_values_violating_the_schema_get_422_with_causes(http, widgets_url):
    response = http.post(widgets_url, json={**BASE, "spec": {"size": "big"}})
    assert response.status_code == 422
    status = response.json()
    assert status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "spec.size"


def test_missing_required_field_gets_422(http, widgets_url):
    assert http.post(widgets_url, json={**BASE, "spec": {"colour": "red"}}).status_code == 422


def test_unknown_fields_are_pruned_or_rejected_by_field_validation(http, widgets_url):
    body = {**BASE, "spec": {"size": 1, "bogus": True}}
    strict = http.post(f"{widgets_url}?fieldValidation=Strict", json=body)
    assert strict.status_code == 400
    assert 'unknown field "spec.bogus"' in strict.json()["message"]

    warned = http.post(f"{widgets_url}?fieldValidation=Warn", json=body)
    assert warned.status_code == 201
    assert warned.json()["spec"] == {"size": 1}
    assert warned.headers["Warning"] == '299 - "unknown field \\"spec.bogus\\""'


def test_invalid_crd_is_rejected(http):
    response = http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json={
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "wrong.name"},
        "spec": {"group": "x.dev", "scope": "Namespaced", "names": {"plural": "things", "kind": "Thing"},
                 "versions": [{"name": "v1", "served": True, "storage": True}]}})
    assert response.status_code == 422


def test_schema_defaults_are_applied_to_absent_and_null_fields(http, widgets_url):
    created = http.post(widgets_url, json={**BASE, "spec": {"size": 1, "shape": {"sides": None}}})
    assert created.status_code == 201
    assert created.json()["spec"] == {"size": 1, "shape": {"sides": 4, "rounded": False}}
    patched = http.patch(f"{widgets_url}/w1", json={"spec": {"shape": {"sides": 6, "rounded": None}}},
                         headers={"Content-Type": "application/merge-patch+json"})
    assert patched.json()["spec"]["shape"] == {"sides": 6, "rounded": False}
