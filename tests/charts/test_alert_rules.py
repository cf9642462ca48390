"""The alerts pass `promtool check rules` and their promtool unit tests, and the chart's
PrometheusRule carries exactly those rules (with only the per-install switches applied)."""

import shutil
import subprocess

import pytest
import yaml

from routeshift.testing.helm import REPO_ROOT

RULES = REPO_ROOT / "charts" / "routeshift" / "files" / "routeshift-alerts.rules.yaml"
UNIT_TESTS = REPO_ROOT / "tests" / "charts" / "promtool" / "routeshift-alerts.test.yaml"
ALERTS = {"RouteshiftRolloutFailed", "RouteshiftCanaryStuck", "RouteshiftAnalysisErrors", "RouteshiftControllerDown",
          "RouteshiftReconcileErrors", "RouteshiftGatewayProxyDown"}


def promtool(*args) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    assert binary, "promtool not on PATH: install the Debian package prometheus"
    return subprocess.run([binary, *map(str, args)], capture_output=True, text=True, timeout=60)


def _alerts(groups) -> dict[str, dict]:
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def test_rules_file_passes_promtool_check():
    result = promtool("check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


def test_rules_pass_their_promtool_unit_tests():
    result = promtool("test", "rules", UNIT_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_unit_tests_cover_every_alert():
    tests = yaml.safe_load(UNIT_TESTS.read_text())["tests"]
    firing = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case["exp_alerts"]}
    assert firing == ALERTS


def test_unit_tests_catch_a_weakened_rule(tmp_path):
    """Shortening the stuck alert's `for` must break a unit test: the tests have teeth."""
    rules = yaml.safe_load(RULES.read_text())
    _alerts(rules["groups"])["RouteshiftCanaryStuck"]["for"] = "10m"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    tests = yaml.safe_load(UNIT_TESTS.read_text())
    tests["rule_files"] = ["rules.yaml"]
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(tests))
    result = promtool("test", "rules", tmp_path / "test.yaml")
    assert result.returncode != 0
    assert "RouteshiftCanaryStuck" in result.stdout + result.stderr


def _rendered_spec(render, values):
    (rule,) = [doc for doc in render(values) if doc["kind"] == "PrometheusRule"]
    return rule["spec"]


def test_prometheus_rule_carries_the_rules_file_unchanged(render):
    assert _rendered_spec(render, {}) == yaml.safe_load(RULES.read_text())


def test_per_install_switches(render, tmp_path):
    spec = _rendered_spec(render, {"prometheusRule": {
        "ruleLabels": {"team": "delivery"}, "disabledAlerts": ["RouteshiftReconcileErrors"],
        "forOverrides": {"RouteshiftCanaryStuck": "1h"}}})
    alerts = _alerts(spec["groups"])
    assert set(alerts) == ALERTS - {"RouteshiftReconcileErrors"}
    assert alerts["RouteshiftCanaryStuck"]["for"] == "1h"
    assert all(rule["labels"]["team"] == "delivery" and rule["labels"]["severity"] for rule in alerts.values())
    # What the operator would load is still a valid rules file.
    (tmp_path / "rendered.yaml").write_text(yaml.safe_dump(spec))
    assert promtool("check", "rules", tmp_path / "rendered.yaml").returncode == 0


def test_without_the_proxy_there_is_no_proxy_alert(render):
    assert "RouteshiftGatewayProxyDown" not in _alerts(_rendered_spec(render, {"proxy": {"enabled": False}})["groups"])


@pytest.mark.parametrize("job", ["routeshift-controller", "routeshift-gateway-proxy"])
def test_alerted_jobs_are_the_service_monitors_job_labels(render, job):
    """The *Down alerts select job=...; the ServiceMonitors name the job through jobLabel."""
    documents = render({})
    monitors = [doc for doc in documents if doc["kind"] == "ServiceMonitor"]
    services = [doc for doc in documents if doc["kind"] == "Service"]
    jobs = {svc["metadata"]["labels"].get(monitor["spec"]["jobLabel"]) for monitor in monitors for svc in services
            if monitor["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()}
    assert job in jobs
    assert f'job="{job}"' in RULES.read_text()
