"""The chart's crds/ carries exactly the CRDs generated into the repository's crds/.

Drift (a CRD regenerated but not synced, a stale file left behind, a hand edit) fails
here; the fix is `python charts/sync_crds.py`.
"""

import importlib.util
import subprocess
import sys

import kubernetes_validate
import pytest
import yaml

from routeshift.testing.helm import REPO_ROOT

SCRIPT = REPO_ROOT / "charts" / "sync_crds.py"
_spec = importlib.util.spec_from_file_location("sync_crds", SCRIPT)
sync_crds = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sync_crds)


def test_repository_has_crds_to_ship():
    assert sync_crds.source_files(), "no CRDs in crds/"


def test_chart_crds_are_an_exact_copy():
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"chart CRDs drifted, run python charts/sync_crds.py:\n{result.stderr}"


def test_helm_installs_the_canary_and_metrictemplate_crds(helm_run):
    result = helm_run("template", "rs", REPO_ROOT / "charts" / "routeshift", "--include-crds",
                      "--kube-version", "1.30.0")
    assert result.returncode == 0, result.stderr
    names = {doc["metadata"]["name"] for doc in yaml.safe_load_all(result.stdout)
             if doc and doc["kind"] == "CustomResourceDefinition"}
    assert {"canaries.routeshift.dev", "metrictemplates.routeshift.dev"} <= names
    assert names == {yaml.safe_load(text)["metadata"]["name"] for text in
                     (content.decode() for content in sync_crds.source_files().values())}


def test_drift_is_reported_by_name(tmp_path):
    source, target = tmp_path / "crds", tmp_path / "chart-crds"
    source.mkdir()
    (source / "a.yaml").write_text("kind: CustomResourceDefinition\n")
    (source / "b.yaml").write_text("kind: CustomResourceDefinition\n")
    sync_crds.sync(source, target)
    assert sync_crds.drift(source, target) == []
    (target / "a.yaml").write_text("edited\n")
    (target / "old.yaml").write_text("stale\n")
    (source / "b.yaml").unlink()
    (source / "c.yaml").write_text("kind: CustomResourceDefinition\n")
    assert sync_crds.drift(source, target) == [
        "missing in chart: c.yaml", "not in crds/ (stale): b.yaml", "not in crds/ (stale): old.yaml",
        "differs: a.yaml"]
    sync_crds.sync(source, target)
    assert sorted(path.name for path in target.iterdir()) == ["a.yaml", "c.yaml"]
    assert sync_crds.drift(source, target) == []


def test_an_empty_source_is_an_error_not_a_no_op(tmp_path):
    (tmp_path / "crds").mkdir()
    with pytest.raises(sync_crds.NoCRDs, match="python -m rollouts.crd"):
        sync_crds.drift(tmp_path / "crds", tmp_path / "chart-crds")


def test_shipped_crds_are_valid_kubernetes_1_30_objects():
    for content in sync_crds.source_files(sync_crds.TARGET).values():
        kubernetes_validate.validate(yaml.safe_load(content), "1.30.0", strict=True)
