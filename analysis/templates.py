"""Turn a MetricSpec into the PromQL to run: built-in templates, named templates, variables.

The built-in templates are written against the gateway proxy's metrics (DESIGN.md §5):
``routeshift_gateway_requests_total`` {namespace, route, backend_namespace, backend, code}
and the histogram ``routeshift_gateway_request_duration_seconds`` with the same labels
minus ``code``. Every metric also needs a sample-size query (requests for the backend in
the window) so the judge can tell "healthy" from "not enough traffic to know".

gRPC calls end with HTTP 200 whatever happened, so ``grpc-success-rate`` judges the
proxy's gRPC counter ``routeshift_gateway_grpc_requests_total`` (the same labels with
``grpc_status`` instead of ``code``: :data:`GRPC_STATUS_LABEL`, the numeric status code as a
string) against the codes that mean the server failed (:mod:`analysis.grpc_status`), and
counts only gRPC calls as its sample. The latency of gRPC calls is ``request-duration-p99``:
the duration histogram covers them.

Rendering is plain ``{{ name }}`` substitution; an unknown variable is a TemplateError
rather than silently left in the query, where Prometheus would reject it at 2 a.m.
Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping

from analysis import errors, grpc_status, model
from analysis.grpc_status import GrpcCode

REQUESTS = "routeshift_gateway_requests_total"
DURATION_BUCKETS = "routeshift_gateway_request_duration_seconds_bucket"
#: One series per gRPC status of each backend's gRPC calls (the proxy counts every call in
#: REQUESTS too, with its HTTP status, which is 200 whatever the call's outcome).
GRPC_REQUESTS = "routeshift_gateway_grpc_requests_total"
#: The label of GRPC_REQUESTS holding a gRPC call's status code ("0" OK, "14" Unavailable ...).
GRPC_STATUS_LABEL = "grpc_status"

_SELECTOR = (
    'namespace="{{ namespace }}",route="{{ route }}",'
    'backend_namespace="{{ backend_namespace }}",backend="{{ backend }}"'
)

#: Requests for the backend in the window; the default sample-size query of every metric.
SAMPLE_SIZE_QUERY = f"sum(increase({REQUESTS}{{{_SELECTOR}}}[{{{{ interval }}}}]))"

#: Percent of requests that were not 5xx. ``or vector(0)`` makes "no 5xx series yet" mean
#: zero errors instead of an empty result; an empty denominator still yields no data.
SUCCESS_RATE_QUERY = (
    f"100 * (1 - ((sum(rate({REQUESTS}{{{_SELECTOR},code=~\"5..\"}}[{{{{ interval }}}}])) or vector(0))"
    f" / sum(rate({REQUESTS}{{{_SELECTOR}}}[{{{{ interval }}}}]))))"
)

#: 99th percentile request duration in milliseconds, from the histogram buckets.
DURATION_P99_QUERY = (
    f"1000 * histogram_quantile(0.99, sum by (le) (rate({DURATION_BUCKETS}{{{_SELECTOR}}}[{{{{ interval }}}}])))"
)

#: 5xx responses of the backend in the window: the "bad" count of the success rate's
#: sequential test. ``or vector(0)``: no 5xx series yet means none.
ERRORS_QUERY = f"sum(increase({REQUESTS}{{{_SELECTOR},code=~\"5..\"}}[{{{{ interval }}}}])) or vector(0)"

#: gRPC calls to the backend in the window: the sample size of the gRPC templates.
GRPC_SAMPLE_SIZE_QUERY = f"sum(increase({GRPC_REQUESTS}{{{_SELECTOR}}}[{{{{ interval }}}}]))"


def grpc_success_rate_query(failures: Iterable[GrpcCode] = grpc_status.DEFAULT_FAILURES) -> str:
    """Percent of the backend's gRPC calls whose status is not one of ``failures``.

    As for HTTP, "no failure series yet" is zero failures and no calls at all is no data.
    """
    failed = f'{GRPC_STATUS_LABEL}=~"{grpc_status.label_regex(failures)}"'
    return (f"100 * (1 - ((sum(rate({GRPC_REQUESTS}{{{_SELECTOR},{failed}}}[{{{{ interval }}}}])) or vector(0))"
            f" / sum(rate({GRPC_REQUESTS}{{{_SELECTOR}}}[{{{{ interval }}}}]))))")


def grpc_errors_query(failures: Iterable[GrpcCode] = grpc_status.DEFAULT_FAILURES) -> str:
    """gRPC calls of the backend in the window that the server failed: the sequential test's "bad" count."""
    failed = f'{GRPC_STATUS_LABEL}=~"{grpc_status.label_regex(failures)}"'
    return f"sum(increase({GRPC_REQUESTS}{{{_SELECTOR},{failed}}}[{{{{ interval }}}}])) or vector(0)"


#: The backend's request-duration histogram in the window, one series per bucket bound
#: ``le``: the latency tests count the requests above stable's quantile bucket bounds from it.
BUCKET_COUNTS_QUERY = f"sum by (le) (increase({DURATION_BUCKETS}{{{_SELECTOR}}}[{{{{ interval }}}}]))"

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
VARIABLES = ("namespace", "route", "backend", "backend_namespace", "stable", "canary", "interval")


@dataclasses.dataclass(frozen=True)
class Counted:
    """How a success-rate template counts for the sequential test: bad and total requests, and their name."""

    bad_query: str
    total_query: str
    what: str


@dataclasses.dataclass(frozen=True)
class ResolvedMetric:
    """The queries (unrendered) and judging defaults of one metric."""

    query: str
    sample_size_query: str
    direction: model.Direction
    provider: model.ProviderSpec | None = None  # None: the analysis' own provider
    # Built-in success rates: what the canary-vs-stable count test counts. None for latency
    # (counted from the histogram's buckets) and for queries that are not built in.
    counted: Counted | None = None


BUILTINS: dict[model.BuiltinTemplate, ResolvedMetric] = {
    model.BuiltinTemplate.REQUEST_SUCCESS_RATE: ResolvedMetric(
        SUCCESS_RATE_QUERY, SAMPLE_SIZE_QUERY, model.Direction.DECREASE,
        counted=Counted(ERRORS_QUERY, SAMPLE_SIZE_QUERY, "5xx"),
    ),
    model.BuiltinTemplate.REQUEST_DURATION_P99: ResolvedMetric(
        DURATION_P99_QUERY, SAMPLE_SIZE_QUERY, model.Direction.INCREASE
    ),
    model.BuiltinTemplate.GRPC_SUCCESS_RATE: ResolvedMetric(
        grpc_success_rate_query(), GRPC_SAMPLE_SIZE_QUERY, model.Direction.DECREASE,
        counted=Counted(grpc_errors_query(), GRPC_SAMPLE_SIZE_QUERY, "gRPC server failures"),
    ),
}


def _builtin(template: model.BuiltinTemplate, metric: model.MetricSpec) -> ResolvedMetric:
    base = BUILTINS[template]
    if template is model.BuiltinTemplate.GRPC_SUCCESS_RATE and metric.grpc_failure_codes is not None:
        codes = metric.grpc_failure_codes
        base = dataclasses.replace(base, query=grpc_success_rate_query(codes), counted=Counted(
            grpc_errors_query(codes), GRPC_SAMPLE_SIZE_QUERY, "gRPC server failures"))
    return base


def template_key(name: str, namespace: str) -> str:
    """The key under which a MetricTemplate is looked up: ``namespace/name``."""
    return f"{namespace}/{name}"


def resolve(
    metric: model.MetricSpec, *, namespace: str, templates: Mapping[str, model.MetricTemplate]
) -> ResolvedMetric:
    """Find the queries for ``metric``; raise TemplateError when a referenced template is missing."""
    builtin = metric.builtin
    if builtin is not None:
        # Built-in: our queries, unless the user overrides how the sample size is counted.
        base = _builtin(builtin, metric)
        return dataclasses.replace(base, sample_size_query=metric.sample_size_query or base.sample_size_query)
    if metric.template_ref is not None:
        key = template_key(metric.template_ref.name, metric.template_ref.namespace or namespace)
        template = templates.get(key)
        if template is None:
            # A dangling reference is a spec error; it must not look like a failing canary.
            raise errors.TemplateError(f"metric {metric.name!r}: MetricTemplate {key} not found")
        return ResolvedMetric(
            query=template.query,
            sample_size_query=metric.sample_size_query or template.sample_size_query or SAMPLE_SIZE_QUERY,
            direction=template.direction,
            provider=template.provider,
        )
    assert metric.query is not None  # guaranteed by MetricSpec's validator
    return ResolvedMetric(
        query=metric.query,
        sample_size_query=metric.sample_size_query or SAMPLE_SIZE_QUERY,
        direction=model.Direction.EITHER,
    )


def render(query: str, variables: Mapping[str, str]) -> str:
    """Substitute ``{{ name }}`` placeholders; unknown names raise TemplateError."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise errors.TemplateError(
                f"unknown variable {{{{ {name} }}}} in query; known: {', '.join(sorted(variables))}"
            )
        return _escape_label_value(variables[name]) if name != "interval" else variables[name]

    return _VARIABLE.sub(substitute, query)


def _escape_label_value(value: str) -> str:
    # Names come from Kubernetes objects (DNS labels), but a quote or backslash must never
    # break out of the label matcher string.
    return value.replace("\\", "\\\\").replace('"', '\\"')
