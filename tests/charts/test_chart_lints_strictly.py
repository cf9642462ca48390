"""`helm lint --strict` passes for the defaults and every supported values combination,
and values.schema.json is strict: it accepts values.yaml and rejects typos and bad enums."""

import json

import jsonschema
import pytest
import yaml

from routeshift.testing.helm import REPO_ROOT

CHART = REPO_ROOT / "charts" / "routeshift"


def test_lint_strict(helm_run, combination):
    result = helm_run("lint", "--strict", CHART, "--kube-version", "1.30.0", values=combination.values)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout


def test_values_yaml_satisfies_its_schema():
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(yaml.safe_load((CHART / "values.yaml").read_text()))


@pytest.mark.parametrize(("values", "complaint"), [
    pytest.param({"controller": {"replica": 2}}, "Additional property replica is not allowed", id="typo"),
    pytest.param({"controller": {"leaderElection": {"mode": "etcd"}}}, "must be one of", id="bad-enum"),
    pytest.param({"proxy": {"service": {"port": 70000}}}, "proxy.service.port: Must be less than or equal to 65535",
                 id="port-range"),
    pytest.param({"prometheusRule": {"forOverrides": {"RouteshiftCanaryStuck": "soon"}}},
                 "RouteshiftCanaryStuck: Does not match pattern", id="duration"),
    pytest.param({"prometheusRule": {"disabledAlerts": ["NoSuchAlert"]}}, "must be one of", id="unknown-alert"),
])
def test_schema_rejects(helm_run, values, complaint):
    result = helm_run("template", "rs", CHART, values=values)
    assert result.returncode != 0
    assert complaint in result.stderr


@pytest.mark.parametrize(("values", "schema_says", "template_says"), [
    pytest.param({"controller": {"replicas": 2, "leaderElection": {"priority": 5}}},
                 "controller.leaderElection.priority: Invalid type. Expected: null", "would share the fixed priority",
                 id="fixed-priority"),
    pytest.param({"controller": {"replicas": 2, "leaderElection": {"mode": "none"}}},
                 "controller.leaderElection.mode does not match", "standalone replicas would fight",
                 id="standalone"),
])
@pytest.mark.parametrize("skip_schema", [False, True], ids=["schema", "template-guard"])
def test_unsafe_controller_replicas_are_refused(helm_run, values, schema_says, template_says, skip_schema):
    """Equal kopf peering priorities freeze every replica; standalone replicas fight. The
    schema says so, and the template repeats it for installs that skip schema validation."""
    flags = ["--skip-schema-validation"] if skip_schema else []
    result = helm_run("template", "rs", CHART, *flags, values=values)
    assert result.returncode != 0
    assert (template_says if skip_schema else schema_says) in result.stderr
