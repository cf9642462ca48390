"""The contract metrics carry the names and labels DESIGN.md promises."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
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


class _PrometheusClientMetrics:
    """The contract families as prometheus_client's own objects hold them: one child per series.

    What ``Metrics`` exported before it kept per-Canary series as text; a scrape of either must
    carry the same families, series and values.
    """

    def __init__(self):
        self.registry = CollectorRegistry()
        r, who = self.registry, ["namespace", "name"]
        self.weight = Gauge("routeshift_canary_weight", "Intended traffic weight (percent) of each backend.",
                            [*who, "backend"], registry=r)
        self.phase = Gauge("routeshift_canary_phase", "1 for the Canary's current phase, 0 for the others.",
                           [*who, "phase"], registry=r)
        self.step = Gauge("routeshift_canary_step", "Index (0-based) of the current step of the plan.", who,
                          registry=r)
        self.value = Gauge("routeshift_analysis_value", "Latest measured value of each analysis metric.",
                           [*who, "metric"], registry=r)
        self.verdicts = Counter("routeshift_analysis_verdicts", "Analysis verdicts per metric.",
                                [*who, "metric", "verdict"], registry=r)
        self.rollouts = Counter("routeshift_rollouts", "Finished rollouts by result (succeeded, failed, aborted, "
                                "undone).", [*who, "result"], registry=r)
        self.duration = Histogram("routeshift_rollout_duration_seconds", "Duration of finished rollouts.",
                                  [*who, "result"], buckets=(30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400,
                                                             21600), registry=r)
        self.errors = Counter("routeshift_reconcile_errors", "Reconciliations that failed with an error (retried "
                              "after the poll interval).", who, registry=r)
        self.threshold = Gauge("routeshift_analysis_threshold", "thresholdRange bounds of each analysis metric, for "
                               "dashboards to draw beside the value.", [*who, "metric", "bound"], registry=r)


def _exported(text: str) -> tuple[dict, dict]:
    """(family name -> (type, help), (sample name, labels) -> value), ``_created`` values left out."""
    families, values = {}, {}
    for family in text_string_to_metric_families(text):
        families[family.name] = (family.type, family.documentation)
        for s in family.samples:
            created = s.name.endswith("_created")  # a creation time: the same series, another instant
            values[(s.name, tuple(sorted(s.labels.items())))] = None if created else s.value
    return families, values


def test_a_scrape_carries_the_same_series_and_values_as_prometheus_client_objects_did():
    m, old = metrics.Metrics(), _PrometheusClientMetrics()
    odd = 'a "quoted"\\name\nwith a newline'  # label values as escaped in the text format
    spec = model.CanarySpec.model_validate({
        "routeRef": {"name": "web"}, "stable": {"name": "web-v1", "port": 80}, "canary": {"name": "web-v2", "port": 80},
        "analysis": {"metrics": [{"name": odd, "query": "up", "thresholdRange": {"min": 0.5, "max": 1e9}}]}})
    for namespace, name in (("shop", "web"), ("shop", "api"), ("payments", "ledger")):
        status = model.CanaryStatus(phase=model.Phase.PAUSED, step=3, weights=model.Weights(stable=55, canary=45))
        m.observe_status(namespace, name, status, "web-v1", odd)
        m.observe_thresholds(namespace, name, spec)
        old.weight.labels(namespace, name, "web-v1").set(55)
        old.weight.labels(namespace, name, odd).set(45)
        for phase in model.Phase:
            old.phase.labels(namespace, name, phase.value).set(1 if phase == model.Phase.PAUSED else 0)
        old.step.labels(namespace, name).set(3)
        old.threshold.labels(namespace, name, odd, "min").set(0.5)
        old.threshold.labels(namespace, name, odd, "max").set(1e9)
        for verdict in (SUCCESS, FAILURE, SUCCESS):
            m.record_verdict(namespace, name, verdict)
            for metric in verdict.metrics:
                old.value.labels(namespace, name, metric.metric).set(metric.value)
                old.verdicts.labels(namespace, name, metric.metric, metric.verdict.value).inc()
        for result, seconds in (("succeeded", 29.0), ("succeeded", 30.0), ("failed", 4e4), ("aborted", None)):
            m.record_result(namespace, name, result, seconds)
            old.rollouts.labels(namespace, name, result).inc()
            if seconds is not None:
                old.duration.labels(namespace, name, result).observe(seconds)
        m.record_error(namespace, name)
        old.errors.labels(namespace, name).inc()
    m.forget("shop", "api")
    for gauge in (old.weight, old.phase, old.step, old.value, old.threshold):
        for labels in [labels for labels in gauge._metrics if labels[:2] == ("shop", "api")]:
            gauge.remove(*labels)
    # A Canary seen again without a change exports the same as before.
    m.observe_status("shop", "web", model.CanaryStatus(phase=model.Phase.PAUSED, step=3,
                                                        weights=model.Weights(stable=55, canary=45)), "web-v1", odd)
    families, values = _exported(m.render().decode())
    old_families, old_values = _exported(generate_latest(old.registry).decode())
    assert {name: families[name] for name in old_families} == old_families
    assert {key: values[key] for key in old_values if key in values} == old_values
    assert {key for key in values if key[0].startswith(tuple(old_families))} == set(old_values)


def test_the_current_phase_is_the_one_series_at_1_after_every_change():
    m = metrics.Metrics()
    for current in model.Phase:
        m.observe_status("shop", "web", model.CanaryStatus(phase=current), "a", "b")
        phases = {s.labels["phase"]: s.value for s in _samples(m)["routeshift_canary_phase"]}
        assert phases == {phase.value: (1.0 if phase == current else 0.0) for phase in model.Phase}


def test_the_registry_answers_for_per_canary_series_too():
    m = metrics.Metrics()
    m.record_result("shop", "web", "succeeded", 42.0)
    m.record_error("shop", "web")
    assert m.registry.get_sample_value("routeshift_rollouts_total",
                                       {"namespace": "shop", "name": "web", "result": "succeeded"}) == 1.0
    assert m.registry.get_sample_value("routeshift_rollout_duration_seconds_bucket",
                                       {"namespace": "shop", "name": "web", "result": "succeeded", "le": "60.0"}) == 1.0
    assert m.registry.get_sample_value("routeshift_reconcile_errors_total", {"namespace": "shop", "name": "web"}) == 1.0
