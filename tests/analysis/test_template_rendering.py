"""Templates render to the PromQL we expect, and mistakes surface as TemplateError."""

import pytest

from analysis import errors, model, templates

VARS = {"namespace": "shop", "route": "web", "backend": "web-canary", "backend_namespace": "shop",
        "stable": "web-stable", "canary": "web-canary", "interval": "2m"}
SELECTOR = 'namespace="shop",route="web",backend_namespace="shop",backend="web-canary"'


def test_success_rate_counts_non_5xx_and_treats_no_errors_as_zero():
    rendered = templates.render(templates.SUCCESS_RATE_QUERY, VARS)
    assert rendered == (
        f'100 * (1 - ((sum(rate(routeshift_gateway_requests_total{{{SELECTOR},code=~"5.."}}[2m])) or vector(0))'
        f" / sum(rate(routeshift_gateway_requests_total{{{SELECTOR}}}[2m]))))"
    )


def test_p99_is_in_milliseconds_from_the_histogram():
    assert templates.render(templates.DURATION_P99_QUERY, VARS) == (
        "1000 * histogram_quantile(0.99, sum by (le) "
        f"(rate(routeshift_gateway_request_duration_seconds_bucket{{{SELECTOR}}}[2m])))"
    )


def test_sample_size_is_requests_in_the_window():
    assert templates.render(templates.SAMPLE_SIZE_QUERY, VARS) == (
        f"sum(increase(routeshift_gateway_requests_total{{{SELECTOR}}}[2m]))"
    )


def test_custom_query_variables():
    query = 'sum(rate(x{ns="{{namespace}}",route="{{ route }}",b=~"{{ stable }}|{{ canary }}"}[{{ interval }}]))'
    assert templates.render(query, VARS) == 'sum(rate(x{ns="shop",route="web",b=~"web-stable|web-canary"}[2m]))'


def test_unknown_variable_is_a_template_error():
    with pytest.raises(errors.TemplateError, match=r"unknown variable \{\{ service \}\}"):
        templates.render('x{s="{{ service }}"}', VARS)


def test_label_values_cannot_break_out_of_the_matcher():
    rendered = templates.render('x{r="{{ route }}"}', {**VARS, "route": 'a"} or vector(1) #'})
    assert rendered == 'x{r="a\\"} or vector(1) #"}'


@pytest.mark.parametrize(
    "metric, direction, query",
    [
        pytest.param(model.MetricSpec(name="request-success-rate", threshold_range=model.ThresholdRange(min=99)),
                     model.Direction.DECREASE, templates.SUCCESS_RATE_QUERY, id="builtin-by-name"),
        pytest.param(model.MetricSpec(name="p99", template="request-duration-p99", threshold_range=model.ThresholdRange(max=1)),
                     model.Direction.INCREASE, templates.DURATION_P99_QUERY, id="builtin-by-template"),
        pytest.param(model.MetricSpec(name="c", query="up", threshold_range=model.ThresholdRange(max=1)),
                     model.Direction.EITHER, "up", id="custom-query"),
        pytest.param(model.MetricSpec(name="t", template_ref=model.TemplateRef(name="errors"),
                                      threshold_range=model.ThresholdRange(max=1)),
                     model.Direction.INCREASE, "sum(errors)", id="named-template-in-canary-namespace"),
        pytest.param(model.MetricSpec(name="t", template_ref=model.TemplateRef(name="errors", namespace="platform"),
                                      threshold_range=model.ThresholdRange(max=1)),
                     model.Direction.EITHER, "sum(platform_errors)", id="named-template-elsewhere"),
    ],
)
def test_resolve(metric, direction, query):
    known = {
        "shop/errors": model.MetricTemplate(query="sum(errors)", direction="increase"),
        "platform/errors": model.MetricTemplate(query="sum(platform_errors)", sample_size_query="sum(n)"),
    }
    resolved = templates.resolve(metric, namespace="shop", templates=known)
    assert (resolved.query, resolved.direction) == (query, direction)
    expected_size = "sum(n)" if query == "sum(platform_errors)" else templates.SAMPLE_SIZE_QUERY
    assert resolved.sample_size_query == expected_size


def test_missing_named_template_is_a_template_error():
    metric = model.MetricSpec(name="t", template_ref=model.TemplateRef(name="gone"), threshold_range=model.ThresholdRange(max=1))
    with pytest.raises(errors.TemplateError, match="MetricTemplate shop/gone not found"):
        templates.resolve(metric, namespace="shop", templates={})
