"""The generated dashboards reach Grafana's sidecar: one labelled ConfigMap each, holding
exactly the JSON `python -m routeshift.dashboards` produces."""

import json

from routeshift.dashboards import render as dashboards


def test_one_labelled_configmap_per_dashboard(rendering):
    configmaps = rendering("defaults").of_kind("ConfigMap")
    shipped = {}
    for configmap in configmaps.values():
        assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert configmap["metadata"]["namespace"] == "routeshift-system"
        ((file_name, text),) = configmap["data"].items()
        shipped[file_name] = json.loads(text)
    assert shipped == {name: json.loads(text) for name, text in dashboards.rendered().items()}


def test_sidecar_labels_namespace_and_folder_are_configurable(render):
    documents = render({"dashboards": {"labels": {"grafana_dashboard": "routeshift"}, "namespace": "monitoring",
                                       "annotations": {"grafana_folder": "Routeshift"}}})
    configmaps = [doc for doc in documents if doc["kind"] == "ConfigMap"]
    assert len(configmaps) == len(dashboards.DASHBOARDS)
    for configmap in configmaps:
        assert configmap["metadata"]["labels"]["grafana_dashboard"] == "routeshift"
        assert configmap["metadata"]["namespace"] == "monitoring"
        assert configmap["metadata"]["annotations"] == {"grafana_folder": "Routeshift"}


def test_dashboards_can_be_left_out(rendering):
    assert rendering("everything-optional-off").of_kind("ConfigMap") == {}
