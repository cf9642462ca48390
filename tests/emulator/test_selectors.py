"""Label and field selectors on list requests (watch filtering is in test_watch_resume.py)."""

import pytest

URL = "/apis/test.routeshift.dev/v1/widgets"


@pytest.fixture
def labelled(make_widget, http):
    make_widget("web-1", labels={"app": "web", "tier": "front"})
    make_widget("web-2", labels={"app": "web"})
    make_widget("db-1", labels={"app": "db", "tier": "back"})
    http.post("/api/v1/namespaces", json={"metadata": {"name": "other"}}).raise_for_status()
    make_widget("web-3", labels={"app": "web"}, namespace="other")


def _names(http, url, **params):
    response = http.get(url, params=params)
    assert response.status_code == 200, response.text
    return [item["metadata"]["name"] for item in response.json()["items"]]


@pytest.mark.parametrize("selector, expected", [
    ("app=web", ["web-1", "web-2", "web-3"]),
    ("app==web,tier=front", ["web-1"]),
    ("app!=web", ["db-1"]),
    ("app in (db, other)", ["db-1"]),
    ("app notin (db),tier", ["web-1"]),
    ("tier", ["db-1", "web-1"]),
    ("!tier", ["web-2", "web-3"]),
], ids=["equals", "and", "not-equals", "in", "notin-and-exists", "exists", "does-not-exist"])
def test_label_selector_filters_list(http, labelled, selector, expected):
    assert sorted(_names(http, URL, labelSelector=selector)) == expected


def test_field_selectors_on_name_and_namespace(http, labelled):
    assert _names(http, URL, fieldSelector="metadata.name=web-2") == ["web-2"]
    assert _names(http, URL, fieldSelector="metadata.namespace=other") == ["web-3"]
    both = "metadata.namespace!=other,metadata.name!=db-1"
    assert sorted(_names(http, URL, fieldSelector=both)) == ["web-1", "web-2"]


def test_namespaced_list_and_pagination(http, labelled):
    namespaced = "/apis/test.routeshift.dev/v1/namespaces/default/widgets"
    assert _names(http, namespaced) == ["db-1", "web-1", "web-2"]
    first = http.get(namespaced, params={"limit": 2}).json()
    assert [item["metadata"]["name"] for item in first["items"]] == ["db-1", "web-1"]
    assert first["metadata"]["remainingItemCount"] == 1
    rest = http.get(namespaced, params={"limit": 2, "continue": first["metadata"]["continue"]}).json()
    assert [item["metadata"]["name"] for item in rest["items"]] == ["web-2"]
    assert "continue" not in rest["metadata"]


def test_malformed_selector_gets_400(http, labelled):
    response = http.get(URL, params={"labelSelector": "app in web"})
    assert response.status_code == 400
    assert response.json()["reason"] == "BadRequest"
