"""Strategic merge patch as the API server applies it to built-in kinds (what kubectl sends)."""

import pytest

from routeshift.emulator import strategic

DEPLOYMENT = strategic.schema_for("apps", "deployments")
POD = strategic.schema_for("", "pods")
SERVICE = strategic.schema_for("", "services")


def template(*containers, **spec):
    return {"spec": {"template": {"spec": {"containers": list(containers), **spec}}}}


APP = {"name": "app", "image": "demo:v1", "ports": [{"name": "http", "containerPort": 9898}],
       "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
SIDECAR = {"name": "sidecar", "image": "proxy:v1"}


@pytest.mark.parametrize(("original", "patch", "schema", "expected"), [
    pytest.param(template(APP, SIDECAR),
                 {"spec": {"template": {"spec": {
                     "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                     "containers": [{"name": "app", "image": "demo:v2"}]}}}},
                 DEPLOYMENT, template({**APP, "image": "demo:v2"}, SIDECAR), id="set-image-keeps-ports-and-env"),
    pytest.param(template(APP), template({"name": "app", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]}),
                 DEPLOYMENT, template({**APP, "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "3"},
                                                      {"name": "C", "value": "4"}]}), id="env-merged-by-name"),
    pytest.param(template(APP, SIDECAR), template({"name": "sidecar", "$patch": "delete"}),
                 DEPLOYMENT, template(APP), id="list-item-deleted-by-key"),
    pytest.param(template(APP), template({"name": "app", "ports": [{"containerPort": 9090, "name": "metrics"}]}),
                 DEPLOYMENT, template({**APP, "ports": [{"name": "http", "containerPort": 9898},
                                                        {"containerPort": 9090, "name": "metrics"}]}),
                 id="ports-merged-by-containerPort"),
    pytest.param(template(APP, SIDECAR), template(SIDECAR, {"$patch": "replace"}), DEPLOYMENT, template(SIDECAR),
                 id="list-replaced-by-directive"),
    pytest.param(template(APP, SIDECAR),
                 {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]}}}},
                 DEPLOYMENT, template(SIDECAR, APP), id="set-element-order-alone-reorders"),
    pytest.param({"metadata": {"finalizers": ["a", "b"]}}, {"metadata": {"finalizers": ["c"]}}, POD,
                 {"metadata": {"finalizers": ["a", "b", "c"]}}, id="primitive-list-merged"),
    pytest.param({"metadata": {"finalizers": ["a", "b"]}}, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}},
                 POD, {"metadata": {"finalizers": ["b"]}}, id="delete-from-primitive-list"),
    pytest.param({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
                 {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}, DEPLOYMENT,
                 {"spec": {"strategy": {"type": "Recreate"}}}, id="retain-keys"),
    pytest.param({"spec": {"a": {"b": 1}, "c": 2}}, {"spec": {"a": {"$patch": "replace", "d": 3}}}, DEPLOYMENT,
                 {"spec": {"a": {"d": 3}, "c": 2}}, id="map-replaced-by-directive"),
    pytest.param({"spec": {"a": {"b": 1}, "c": 2}}, {"spec": {"a": {"$patch": "delete"}}}, DEPLOYMENT,
                 {"spec": {"c": 2}}, id="map-deleted-by-directive"),
    pytest.param({"metadata": {"labels": {"a": "1", "b": "2"}}}, {"metadata": {"labels": {"a": None}}}, POD,
                 {"metadata": {"labels": {"b": "2"}}}, id="null-deletes"),
    pytest.param({"spec": {"tolerations": [{"key": "a"}]}}, {"spec": {"tolerations": [{"key": "b"}]}}, POD,
                 {"spec": {"tolerations": [{"key": "b"}]}}, id="list-without-merge-key-replaced"),
    pytest.param({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}},
                 {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}, SERVICE,
                 {"spec": {"ports": [{"port": 80, "name": "http", "targetPort": 8080}, {"port": 443, "name": "https"}]}},
                 id="service-ports-merged-by-port"),
    pytest.param({"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}, {"uid": "2", "name": "b"}]}},
                 {"metadata": {"ownerReferences": [{"uid": "2", "$patch": "delete"}]}}, POD,
                 {"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}]}}, id="owner-references-by-uid"),
    pytest.param({"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "X", "status": "True"}]}},
                 {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, POD,
                 {"status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "X", "status": "True"}]}},
                 id="conditions-by-type"),
])
def test_strategic_merge(original, patch, schema, expected):
    assert strategic.apply(original, patch, schema) == expected


def test_a_keyed_list_item_without_its_key_is_refused():
    with pytest.raises(strategic.PatchError, match="merge key"):
        strategic.apply(template(APP), template({"image": "x"}), DEPLOYMENT)


def test_the_original_is_not_modified():
    original = template(APP)
    strategic.apply(original, template({"name": "app", "image": "demo:v2"}), DEPLOYMENT)
    assert original == template(APP)
