"""``kubectl canary lint -f``: the CRD schema and the controller's own rules, offline.

Bad manifests are a table run in-process (``linting.lint_text``); the real kubectl runs
the command once on a mixed file and once on stdin to pin the exit codes and the output.
"""

import copy
import json

import pytest
import yaml

from plugin_world import REPO, canary_manifest, workload_canary_manifest
from routeshift.plugin import linting

SCHEMA, _ = linting.load_schema(str(REPO / "crds" / linting.CRD_FILE))


def _with(path: str, value, base=None):
    manifest = copy.deepcopy(base or canary_manifest())
    *parents, last = path.split(".")
    node = manifest
    for part in parents:
        node = node.setdefault(part, {})
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return manifest


_DELETE = object()


@pytest.mark.parametrize("manifest, path, message, source", [
    pytest.param(_with("spec.stable.port", 70000), "spec.stable.port", "greater than the maximum", "schema",
                 id="port-out-of-range"),
    pytest.param(_with("spec.canary.colour", "blue"), "spec.canary.colour", "unknown field", "schema",
                 id="unknown-field"),
    pytest.param(_with("spec.stable", _DELETE), "spec", "'stable' is a required property", "schema",
                 id="missing-stable"),
    pytest.param(_with("spec.release", 2), "spec.release", "is not of type 'string'", "schema", id="release-number"),
    pytest.param(_with("spec.strategy.progressive.steps", [50, 10]), "spec.strategy.progressive",
                 "steps must be strictly increasing", "semantic", id="steps-decreasing"),
    pytest.param(_with("spec.strategy.progressive.pauses", [{"atWeight": 30}]), "spec.strategy.progressive",
                 "pause atWeight 30 is not one of the steps", "semantic", id="pause-at-missing-step"),
    pytest.param(_with("spec.canary", {"name": "web-v1", "port": 80}), "spec",
                 "stable and canary must be different Services", "semantic", id="same-backends"),
    pytest.param(_with("spec.routeRef", _DELETE), "spec", "set routeRef or routeRefs", "semantic", id="no-route"),
    pytest.param(_with("metadata.name", "Web_1"), "metadata.name", "not a valid DNS subdomain", "schema",
                 id="bad-name"),
    pytest.param(_with("status", {"phase": "Succeeded"}), "status", "written by the controller", "schema",
                 id="status-in-manifest"),
    pytest.param(_with("apiVersion", "routeshift.dev/v1"), "apiVersion", "unsupported apiVersion", "schema",
                 id="wrong-version"),
])
def test_bad_manifest(manifest, path, message, source):
    [report] = linting.lint_text(yaml.safe_dump(manifest), file="m.yaml", schema=SCHEMA)
    assert not report.valid
    assert any(p.path == path and message in p.message and p.source == source for p in report.problems), \
        report.problems


def test_problems_point_at_their_line():
    text = yaml.safe_dump(_with("spec.stable.port", 70000), sort_keys=False)
    [report] = linting.lint_text(text, file="m.yaml", schema=SCHEMA)
    line = text.splitlines()[report.problems[0].line - 1]
    assert line.strip() == "port: 70000"


def test_the_examples_in_the_docs_are_valid():
    [report] = linting.lint_text(yaml.safe_dump(canary_manifest()), file="m.yaml", schema=SCHEMA)
    assert report.valid, report.problems


@pytest.mark.parametrize("manifest, message", [
    pytest.param(workload_canary_manifest(), None, id="workload-form"),
    pytest.param(_with("spec.service", _DELETE, workload_canary_manifest()), "'service' is a required property",
                 id="workload-without-service"),
    pytest.param(_with("spec.stable", {"name": "web-v1", "port": 80},
                       _with("spec.canary", {"name": "web-v2", "port": 80}, workload_canary_manifest())),
                 "set only one of: stable + canary, targetRef + service", id="both-forms"),
    pytest.param(_with("spec.canary", _DELETE, _with("spec.stable", _DELETE)),
                 "set one of: stable + canary, targetRef + service", id="neither-form"),
])
def test_the_two_backend_forms_say_what_is_missing(manifest, message):
    """The spec's oneOf (Service form or workload form) names the missing fields, not the whole spec."""
    [report] = linting.lint_text(yaml.safe_dump(manifest), file="m.yaml", schema=SCHEMA)
    if message is None:
        assert report.valid, report.problems
    else:
        assert [(p.path, p.message, p.source) for p in report.problems] == [("spec", message, "schema")]


def test_broken_yaml_is_reported_not_raised():
    [report] = linting.lint_text("apiVersion: routeshift.dev/v1alpha1\nkind: [Canary\n", file="m.yaml", schema=SCHEMA)
    assert report.problems[0].source == "yaml" and report.problems[0].line


def test_lint_through_kubectl_checks_every_document_and_skips_other_kinds(tmp_path, kubectl):
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-v1"}}
    bad = _with("spec.strategy.progressive.steps", [50, 10], canary_manifest("broken"))
    path = tmp_path / "canaries.yaml"
    text = yaml.safe_dump_all([canary_manifest("good"), service, bad], sort_keys=False)
    path.write_text(text)
    line = max(i for i, content in enumerate(text.splitlines(), 1) if content.strip() == "progressive:")
    result = kubectl("canary", "lint", "-f", str(path))
    assert result.returncode == 1
    assert f"{path}:Canary/good: valid" in result.stdout
    assert f"{path}:Service/web-v1: skipped" in result.stdout
    assert (f"{path}:Canary/broken (line {line}): spec.strategy.progressive: steps must be strictly increasing: "
            "[50, 10] [semantic]") in result.stderr
    assert result.stderr.strip().endswith("error: 1 of 3 document(s) invalid")


def test_lint_of_a_good_manifest_on_stdin_exits_0_with_json(kubectl):
    result = kubectl("canary", "lint", "-f", "-", "-o", "json", input=yaml.safe_dump(canary_manifest()))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["valid"] is True and report["schema"].endswith("crds/canaries.routeshift.dev.yaml")
    assert report["documents"][0]["name"] == "web"
