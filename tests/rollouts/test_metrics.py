"""The contract metrics carry the names and labels DESIGN.md promises."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from canary_builders import FAILURE, SUCCESS
from rollouts import metrics, model


def _samples(registry: metrics.Metrics) -> dict[str, list]:
    found: dict[str, list] = {}
    for family in text_string_to_metric_families(registry.render().decode()):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def test_contract_names_and_labels():
    m = metrics.Metrics()
    status = model.CanaryStatus(phase=model.Phase.PROGRESSING, step=2, weights=model.Weights(stable=80, canary=20))
    m.observe_status("shop", "web", status, "web-v1", "web-v2")
    m.record_verdict("shop", "web", SUCCESS)
    m.record_verdict("shop", "web", FAILURE)
    m.record_result("shop", "web", "succeeded", 420.0)
    samples = _samples(m)
    weights = {s.labels["backend"]: s.value for s in samples["routeshift_canary_weight"]}
    assert weights == {"web-v1": 80.0, "web-v2": 20.0}
    phases = {s.labels["phase"]: s.value for s in samples["routeshift_canary_phase"]}
    assert phases["Progressing"] == 1.0 and sum(phases.values()) == 1.0
    assert samples["routeshift_canary_step"][0].labels == {"namespace": "shop", "name": "web"}
    assert samples["routeshift_canary_step"][0].value == 2.0
    assert samples["routeshift_analysis_value"][0].labels["metric"] == "request-success-rate"
    assert samples["routeshift_analysis_value"][0].value == 80.0
    verdicts = {s.labels["verdict"]: s.value for s in samples["routeshift_analysis_verdicts_total"]}
    assert verdicts == {"Successful": 1.0, "Failed": 1.0}
    assert samples["routeshift_rollouts_total"][0].labels == {"namespace": "shop", "name": "web",
                                                              "result": "succeeded"}
    assert any(s.name == "routeshift_rollout_duration_seconds_count" and s.value == 1.0
               for s in samples["routeshift_rollout_duration_seconds_count"])


def test_forgetting_a_canary_drops_its_gauges_but_keeps_history():
    m = metrics.Metrics()
    m.observe_status("shop", "web", model.CanaryStatus(weights=model.Weights(stable=100, canary=0)), "a", "b")
    m.observe_status("shop", "api", model.CanaryStatus(), "a", "b")
    m.record_result("shop", "web", "failed", None)
    m.forget("shop", "web")
    samples = _samples(m)
    assert "routeshift_canary_weight" not in samples
    assert {s.labels["name"] for s in samples["routeshift_canary_phase"]} == {"api"}
    assert samples["routeshift_rollouts_total"][0].labels["name"] == "web"


def test_threshold_bounds_and_reconcile_errors_are_exported_and_thresholds_forgotten():
    m = metrics.Metrics()
    spec = model.CanarySpec.model_validate({
        "routeRef": {"name": "web"}, "stable": {"name": "web-v1", "port": 80}, "canary": {"name": "web-v2", "port": 80},
        "analysis": {"metrics": [
            {"name": "request-success-rate", "thresholdRange": {"min": 99}},
            {"name": "request-duration-p99", "thresholdRange": {"min": 1, "max": 500}},
        ]},
    })
    m.observe_thresholds("shop", "web", spec)
    m.record_error("shop", "web")
    m.record_error("shop", "web")
    samples = _samples(m)
    bounds = {(s.labels["metric"], s.labels["bound"]): s.value for s in samples["routeshift_analysis_threshold"]}
    assert bounds == {("request-success-rate", "min"): 99.0, ("request-duration-p99", "min"): 1.0,
                      ("request-duration-p99", "max"): 500.0}
    assert [(s.labels, s.value) for s in samples["routeshift_reconcile_errors_total"]] == [
        ({"namespace": "shop", "name": "web"}, 2.0)]
    m.forget("shop", "web")
    assert "routeshift_analysis_threshold" not in _samples(m)
