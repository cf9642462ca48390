"""ReferenceGrant v1 is watched where the API serves it (Gateway API v1.3+ CRDs), beside v1beta1."""

from __future__ import annotations

import gw_harness
import kube_harness
from routeshift.testing.polling import until

GRANTS_V1 = "gateway.networking.k8s.io/v1/referencegrants"
SCHEMA = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": "referencegrants.gateway.networking.k8s.io"},
       "spec": {"group": "gateway.networking.k8s.io", "scope": "Namespaced",
                "names": {"plural": "referencegrants", "singular": "referencegrant", "kind": "ReferenceGrant",
                          "listKind": "ReferenceGrantList"},
                "versions": [{"name": "v1", "served": True, "storage": True, "schema": SCHEMA},
                             {"name": "v1beta1", "served": True, "storage": False, "schema": SCHEMA}]}}


def test_a_v1_reference_grant_permits_the_cross_namespace_backend(k8s_api, kube_proxy, echo_factory):
    k8s_api.create("apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
    echo = echo_factory("shared")
    kube_harness.create_all(k8s_api, [
        gw_harness.namespace("shared"), kube_harness.gateway_class(), gw_harness.gateway(),
        *kube_harness.echo_backend("svc", echo, "shared"),
        gw_harness.route("far", [gw_harness.rule([gw_harness.backend("svc", namespace="shared")])]),
    ])
    proxy = kube_proxy()
    until(lambda: kube_harness.backends(proxy, 1) == {500: 1}, 5, description="refused without a grant")
    watched = proxy.call(lambda: sorted(k.version for k in proxy.mode.watchers if k.plural == "referencegrants"))
    assert watched == ["v1", "v1beta1"]

    grant = gw_harness.reference_grant("shared", "default", version="v1")
    k8s_api.create(GRANTS_V1, grant, "shared")
    until(lambda: kube_harness.backends(proxy, 1) == {"shared": 1}, 5, description="served once granted")
    k8s_api.delete(GRANTS_V1, "shared", grant["metadata"]["name"])
    until(lambda: kube_harness.backends(proxy, 1) == {500: 1}, 5, description="refused again once revoked")
