"""Fixtures for the emulator's own tests: a small CRD and a plain HTTP client.

``widgets.test.routeshift.dev`` has a status subresource, printer columns and a schema, so
it exercises every custom-resource path of the emulator without depending on Routeshift's
own CRDs.
"""

import pathlib

import httpx
import pytest
import yaml

CRD_PATH = pathlib.Path(__file__).with_name("widgets_crd.yaml")
CRDS = "apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "test.routeshift.dev/v1/widgets"
WIDGETS_URL = "/apis/test.routeshift.dev/v1/namespaces/default/widgets"


@pytest.fixture
def crd_path():
    return CRD_PATH


@pytest.fixture
def widgets(k8s_api):
    """The widget CRD installed; returns the resource name for ``k8s_api.get/create/...``."""
    k8s_api.create(CRDS, yaml.safe_load(CRD_PATH.read_text()))
    return WIDGETS


@pytest.fixture
def widgets_url(widgets):
    return WIDGETS_URL


@pytest.fixture
def http(k8s_api):
    with httpx.Client(base_url=k8s_api.url, timeout=10) as client:
        yield client


@pytest.fixture
def make_widget(widgets, k8s_api):
    def make(name, size=1, *, labels=None, namespace="default", **extra):
        metadata = {"name": name, **({"labels": labels} if labels else {}), **extra}
        return k8s_api.create(WIDGETS, {"metadata": metadata, "spec": {"size": size}}, namespace)
    return make
