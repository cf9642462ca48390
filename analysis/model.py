"""The analysis part of the Canary resource, and the analysis state kept between intervals.

These pydantic models are embedded by the controller in the Canary CRD, whose OpenAPI
schema is generated from them: every field carries a description, types stay JSON-schema
friendly (strings, numbers, lists, nested objects, enums) and durations are strings such
as ``"30s"`` or ``"1m"`` checked by a pattern and a validator. JSON names are camelCase.

:class:`AnalysisState` is the only thing analysis remembers from one interval to the next;
the controller stores ``state.model_dump(by_alias=True, mode="json")`` in the Canary status
and passes it back, so a controller restart resumes with the same failure counts.
"""

from __future__ import annotations

import datetime
import enum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from analysis import durations, sequential
from analysis.grpc_status import GrpcCode

Duration = Annotated[
    str,
    Field(pattern=durations.DURATION_PATTERN, json_schema_extra={"example": "1m"}),
    AfterValidator(durations.validate_duration),
]


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class BuiltinTemplate(str, enum.Enum):
    """Templates that ship with Routeshift, written against the gateway proxy's metrics."""

    REQUEST_SUCCESS_RATE = "request-success-rate"
    REQUEST_DURATION_P99 = "request-duration-p99"
    GRPC_SUCCESS_RATE = "grpc-success-rate"  # percent of gRPC calls not failed by the server (grpc-status)


class Direction(str, enum.Enum):
    """Which change of a metric counts as a regression when canary is compared with stable."""

    INCREASE = "increase"  # e.g. latency: higher is worse
    DECREASE = "decrease"  # e.g. success rate: lower is worse
    EITHER = "either"  # any significant deviation is suspicious


class HoldOutcome(str, enum.Enum):
    """What an insufficient-traffic hold turns into once the hold deadline has passed."""

    FAILED = "Failed"  # roll back: no evidence within the deadline is treated as failure
    INCONCLUSIVE = "Inconclusive"  # keep holding and flag the hold as expired (pause for a human)
    SUCCESSFUL = "Successful"  # advance: thin traffic is accepted as harmless


class WebhookType(str, enum.Enum):
    """When the controller calls a webhook (Flagger's hook types)."""

    PRE_ROLLOUT = "pre-rollout"
    ROLLOUT = "rollout"
    CONFIRM_PROMOTION = "confirm-promotion"
    POST_ROLLOUT = "post-rollout"
    ROLLBACK = "rollback"
    EVENT = "event"


class SecretKeyRef(_Model):
    """A key of a Secret in the Canary's namespace; the controller resolves it."""

    name: str = Field(min_length=1, description="Name of the Secret.")
    key: str = Field(min_length=1, description="Key within the Secret's data.")


class ThresholdRange(_Model):
    """Inclusive bounds a metric's value must stay within; either side may be open."""

    min: float | None = Field(default=None, description="Lowest acceptable value (inclusive).")
    max: float | None = Field(default=None, description="Highest acceptable value (inclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdRange:
        if self.min is None and self.max is None:
            raise ValueError("thresholdRange needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"thresholdRange min {self.min} is greater than max {self.max}")
        return self


class TLSConfig(_Model):
    """TLS options for talking to the metrics provider."""

    insecure_skip_verify: bool = Field(default=False, description="Skip server certificate verification.")
    ca_secret_ref: SecretKeyRef | None = Field(
        default=None, description="PEM CA bundle used to verify the server certificate."
    )
    cert_secret_ref: SecretKeyRef | None = Field(default=None, description="PEM client certificate for mTLS.")
    key_secret_ref: SecretKeyRef | None = Field(default=None, description="PEM client key for mTLS.")


class ProviderType(str, enum.Enum):
    """The metrics backends analysis can query (Flagger's provider type names)."""

    PROMETHEUS = "prometheus"
    DATADOG = "datadog"
    NEW_RELIC = "newrelic"
    CLOUDWATCH = "cloudwatch"
    GRAPHITE = "graphite"
    INFLUXDB = "influxdb"


#: Keys each provider type reads from the Secret named by ``secretName`` (Flagger's key
#: names), required ones first; ``aws_session_token`` is optional.
CREDENTIAL_KEYS: dict[ProviderType, tuple[str, ...]] = {
    ProviderType.DATADOG: ("datadog_api_key", "datadog_application_key"),
    ProviderType.NEW_RELIC: ("newrelic_api_key", "newrelic_account_id"),
    ProviderType.CLOUDWATCH: ("aws_access_key_id", "aws_secret_access_key", "aws_session_token"),
    ProviderType.INFLUXDB: ("token", "org"),
}
OPTIONAL_CREDENTIAL_KEYS = frozenset({"aws_session_token"})
_ADDRESS_NEEDED = {ProviderType.PROMETHEUS, ProviderType.GRAPHITE, ProviderType.INFLUXDB}
_HTTP_AUTH_TYPES = {ProviderType.PROMETHEUS, ProviderType.GRAPHITE}  # bearer token / basic auth


class ProviderSpec(_Model):
    """Where and how to query metrics; ``docs/metric-providers.md`` describes each type."""

    type: ProviderType = Field(default=ProviderType.PROMETHEUS, description="Provider type.")
    address: str | None = Field(
        default=None,
        min_length=1,
        description="Base URL of the provider's API, e.g. http://prometheus:9090. Required for prometheus, "
        "graphite and influxdb; datadog, newrelic and cloudwatch default to the public endpoint "
        "(https://api.datadoghq.com, https://api.newrelic.com/graphql, https://monitoring.<region>.amazonaws.com).",
    )
    secret_name: str | None = Field(
        default=None,
        description="Secret with the credentials of a datadog (datadog_api_key, datadog_application_key), "
        "newrelic (newrelic_api_key, newrelic_account_id), cloudwatch (aws_access_key_id, "
        "aws_secret_access_key, optional aws_session_token) or influxdb (token, org) provider.",
    )
    region: str | None = Field(default=None, min_length=1, description="AWS region of a cloudwatch provider.")
    window: Duration | None = Field(
        default=None,
        description="Time frame a query of a provider other than prometheus covers, ending at the evaluation "
        "time (from/to, SINCE/UNTIL, StartTime/EndTime, v.timeRangeStart/Stop); defaults to the analysis "
        "interval. PromQL carries its own range.",
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers sent with every query.")
    bearer_token_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="prometheus and graphite: Secret key holding a bearer token sent as 'Authorization: Bearer ...'.",
    )
    basic_auth_secret_name: str | None = Field(
        default=None,
        description="prometheus and graphite: name of a Secret with 'username' and 'password' keys for basic auth.",
    )
    tls: TLSConfig | None = Field(default=None, description="TLS options.")
    timeout: Duration = Field(default="10s", description="Timeout of one query.")
    retries: int = Field(default=3, ge=0, le=10, description="Retries of a query on transient errors.")

    @model_validator(mode="after")
    def _fits_type(self) -> ProviderSpec:
        kind = self.type.value
        a = "an" if kind[0] in "aeiou" else "a"
        if self.type in _ADDRESS_NEEDED and self.address is None:
            raise ValueError(f"{a} {kind} provider needs address, the base URL of its API")
        keys = CREDENTIAL_KEYS.get(self.type)
        if keys is not None and self.secret_name is None:
            # Refused here rather than at the first query: a rollout must not start unjudgeable.
            required = " and ".join(k for k in keys if k not in OPTIONAL_CREDENTIAL_KEYS)
            raise ValueError(f"{a} {kind} provider needs secretName: a Secret with the keys {required}")
        if keys is None and self.secret_name is not None:
            raise ValueError(f"secretName is not read by a {kind} provider: use bearerTokenSecretRef or "
                             "basicAuthSecretName")
        if self.type not in _HTTP_AUTH_TYPES and (self.bearer_token_secret_ref or self.basic_auth_secret_name):
            raise ValueError(f"{a} {kind} provider authenticates with secretName, not bearerTokenSecretRef or "
                             "basicAuthSecretName")
        if self.type is ProviderType.CLOUDWATCH and self.region is None:
            raise ValueError("a cloudwatch provider needs region, e.g. us-east-1")
        if self.type is not ProviderType.CLOUDWATCH and self.region is not None:
            raise ValueError(f"region is only read by a cloudwatch provider, not {kind}")
        if self.type is ProviderType.PROMETHEUS and self.window is not None:
            raise ValueError("window is not read by a prometheus provider: PromQL carries its range ([{{ interval }}])")
        return self


class TemplateRef(_Model):
    """A reference to a MetricTemplate resource."""

    name: str = Field(min_length=1, description="Name of the MetricTemplate.")
    namespace: str | None = Field(default=None, description="Namespace; defaults to the Canary's.")


class MetricTemplate(_Model):
    """Spec of a reusable metric template (the MetricTemplate resource)."""

    provider: ProviderSpec | None = Field(
        default=None, description="Provider to query; defaults to the analysis' provider."
    )
    query: str = Field(
        min_length=1,
        description="PromQL; may use {{ namespace }}, {{ route }}, {{ backend }}, {{ stable }}, "
        "{{ canary }}, {{ interval }}. Must return a single series.",
    )
    sample_size_query: str | None = Field(
        default=None,
        description="PromQL giving the number of requests behind the value in the window; "
        "defaults to the backend's request count from the gateway proxy's metrics.",
    )
    direction: Direction = Field(default=Direction.EITHER, description="Which change is a regression.")

    @model_validator(mode="after")
    def _counts_its_own_samples(self) -> MetricTemplate:
        other = self.provider is not None and self.provider.type is not ProviderType.PROMETHEUS
        if other and not self.sample_size_query:
            # The default sample-size query is PromQL on the gateway proxy's metrics.
            raise ValueError(f"a MetricTemplate with a {self.provider.type.value} provider needs sampleSizeQuery "
                             "(requests in the window, in that provider's query language)")
        return self


class ComparisonSpec(_Model):
    """Judge the canary against stable with the same query (Kayenta-style).

    Built-in templates are judged on counts: a sequential probability ratio test of the
    canary's bad requests against stable's, accumulated over the rollout, fails the metric
    once it reaches ``confidence`` (see ``analysis.sequential``). Custom queries, which have
    no counts, fail only when the bound is exceeded AND a one-sided Mann-Whitney U test over
    per-step samples is significant at ``confidence`` AND the effect size (rank-biserial
    correlation) reaches ``minEffectSize``. Either way a bound exceeded without that
    evidence is Inconclusive: the step holds for more evidence.
    """

    max_ratio: float | None = Field(
        default=None,
        gt=1.0,
        description="Largest tolerated worse/better ratio, e.g. 1.1: canary p99 at most 10% above stable's.",
    )
    max_difference: float | None = Field(
        default=None,
        ge=0.0,
        description="Largest tolerated absolute difference in the bad direction, in the metric's unit.",
    )
    direction: Direction | None = Field(
        default=None, description="Which change is a regression; defaults to the template's."
    )
    confidence: float = Field(
        default=0.95,
        gt=0.5,
        lt=1.0,
        description="Confidence level of the Mann-Whitney U test; for built-in templates, of the sequential "
        "count test over the whole rollout (false-positive rate at most 1 - confidence).",
    )
    min_effect_size: float = Field(
        default=0.3,
        ge=0.0,
        le=1.0,
        description="Mann-Whitney only (queries other than the built-in templates): effect-size floor, the "
        "rank-biserial correlation |2U/(n1*n2) - 1| below which a significant difference is ignored.",
    )
    step: Duration = Field(
        default="30s",
        description="Mann-Whitney only (queries other than the built-in templates): resolution of the per-step "
        "samples, the range query step and the {{ interval }} of each sample, so keep it at least twice the "
        "scrape interval.",
    )
    bad_rate_ratio: float = Field(
        default=3.0,
        gt=1.0,
        le=100.0,
        description="Built-in templates only: the regression the sequential count test is tuned to catch, as "
        "the odds ratio of a bad canary request (5xx; or slower than the bucket bound of one of stable's "
        "latencyQuantiles) over a bad stable one. The test fails once the evidence, summed over the rollout's intervals, favours this "
        "ratio over 'no worse than stable' by 1/(1 - confidence) to 1; a canary only slightly worse than "
        "stable (below about (r - 1)/ln r times) drifts towards passing however heavy the traffic.",
    )
    lookback: Duration = Field(
        default="10m",
        description="Window of the comparison: both backends' values for the bound are taken over it, the "
        "per-step samples span it, and stable's bucket bounds for the latency count tests are read over it.",
    )
    latency_quantiles: list[Annotated[float, Field(gt=0.0, lt=1.0)]] = Field(
        default_factory=lambda: list(sequential.LATENCY_QUANTILES),
        min_length=1,
        max_length=5,
        description="request-duration-p99 only: stable's quantiles whose histogram bucket bounds define a slow "
        "request, one sequential count test each, combined as an equal-weight mixture (the false-positive "
        "rate stays at most 1 - confidence). The median catches a shift of the whole distribution in few "
        "requests; the p99 catches a tail that grows alone.",
    )

    @model_validator(mode="after")
    def _bounded(self) -> ComparisonSpec:
        if self.max_ratio is None and self.max_difference is None:
            raise ValueError("comparison needs maxRatio, maxDifference or both")
        return self


class MetricSpec(_Model):
    """One check run every interval."""

    name: str = Field(
        min_length=1,
        description="Name shown in the decision log; a built-in template name here selects that template.",
    )
    template: BuiltinTemplate | None = Field(default=None, description="Built-in template to use.")
    template_ref: TemplateRef | None = Field(default=None, description="A MetricTemplate to use.")
    query: str | None = Field(default=None, description="Custom PromQL (same variables as templates).")
    sample_size_query: str | None = Field(
        default=None, description="PromQL for the sample size of a custom query (requests in the window)."
    )
    threshold_range: ThresholdRange | None = Field(
        default=None, description="Absolute bounds for the canary's value."
    )
    comparison: ComparisonSpec | None = Field(default=None, description="Compare canary with stable.")
    interval: Duration | None = Field(default=None, description="Query window; defaults to the analysis interval.")
    min_sample_size: int | None = Field(
        default=None, ge=0, description="Requests needed in the window; defaults to the analysis' value."
    )
    grpc_failure_codes: list[GrpcCode] | None = Field(
        default=None, min_length=1, description="grpc-success-rate only: the gRPC status codes that count as the "
        "server failing a call. Default Unknown, DeadlineExceeded, Internal, Unavailable, DataLoss.")

    @model_validator(mode="after")
    def _one_source(self) -> MetricSpec:
        given = [x for x in (self.template, self.template_ref, self.query) if x is not None]
        if len(given) > 1:
            raise ValueError(f"metric {self.name!r}: set only one of template, templateRef, query")
        if not given and self.name not in {t.value for t in BuiltinTemplate}:
            raise ValueError(f"metric {self.name!r}: set template, templateRef or query")
        if self.threshold_range is None and self.comparison is None:
            raise ValueError(f"metric {self.name!r}: set thresholdRange, comparison or both")
        if self.grpc_failure_codes is not None and self.builtin is not BuiltinTemplate.GRPC_SUCCESS_RATE:
            raise ValueError(f"metric {self.name!r}: grpcFailureCodes goes with the grpc-success-rate template")
        return self

    @property
    def builtin(self) -> BuiltinTemplate | None:
        """The built-in template this metric uses, if any (explicitly or by its name)."""
        if self.template is not None:
            return self.template
        if self.template_ref is None and self.query is None:
            return BuiltinTemplate(self.name)
        return None


class WebhookSpec(_Model):
    """An HTTP hook the controller calls at a point of the rollout."""

    name: str = Field(min_length=1, description="Name shown in events and the decision log.")
    type: WebhookType = Field(default=WebhookType.ROLLOUT, description="When the hook is called.")
    url: str = Field(min_length=1, pattern="^https?://", description="http(s) URL receiving a POST.")
    timeout: Duration = Field(default="10s", description="Timeout of one call.")
    retries: int = Field(default=2, ge=0, le=10, description="Retries on transient errors (connect errors, 5xx, 429).")
    metadata: dict[str, str] = Field(default_factory=dict, description="Passed through in the payload.")
    secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="HMAC-SHA256 key; when set the body is signed in the X-Routeshift-Signature header.",
    )


class AnalysisSpec(_Model):
    """How each step of a rollout is judged."""

    interval: Duration = Field(default="1m", description="How often the checks run; the default query window.")
    threshold: int = Field(
        default=5, ge=1, description="Total failed intervals (over the whole rollout) that trigger a rollback."
    )
    consecutive_failure_limit: int = Field(
        default=2, ge=1, description="Failed intervals in a row that trigger a rollback."
    )
    min_sample_size: int = Field(
        default=50, ge=0, description="Requests needed in the window before a check is judged."
    )
    hold_deadline: Duration = Field(
        default="10m", description="How long insufficient traffic may hold a step before holdOutcome applies."
    )
    hold_outcome: HoldOutcome = Field(
        default=HoldOutcome.INCONCLUSIVE, description="What an expired insufficient-traffic hold becomes."
    )
    provider: ProviderSpec | None = Field(
        default=None, description="Metrics provider; defaults to the controller's (--metrics-provider or --prometheus-url)."
    )
    metrics: list[MetricSpec] = Field(default_factory=list, description="Checks run every interval.")
    webhooks: list[WebhookSpec] = Field(default_factory=list, description="Hooks called by the controller.")

    @model_validator(mode="after")
    def _unique_names(self) -> AnalysisSpec:
        names = [m.name for m in self.metrics]
        if len(names) != len(set(names)):
            raise ValueError(f"metric names must be unique: {names}")
        return self

    @model_validator(mode="after")
    def _queries_fit_the_provider(self) -> AnalysisSpec:
        if self.provider is None or self.provider.type is ProviderType.PROMETHEUS:
            return self
        kind = self.provider.type.value
        for metric in self.metrics:
            # Built-in templates and the default sample-size query are PromQL on the proxy's metrics.
            if metric.builtin is not None:
                raise ValueError(f"metric {metric.name!r}: built-in templates are PromQL on the gateway proxy's "
                                 f"metrics and cannot run on the {kind} provider; write a query instead")
            if metric.query is not None and not metric.sample_size_query:
                raise ValueError(f"metric {metric.name!r}: a query for the {kind} provider needs sampleSizeQuery "
                                 "(requests in the window, in that provider's query language)")
        return self


class AnalysisState(_Model):
    """What analysis must remember between intervals; stored in the Canary status."""

    model_config = ConfigDict(frozen=True)

    intervals: int = Field(default=0, ge=0, description="Intervals judged so far.")
    total_failures: int = Field(default=0, ge=0, description="Failed intervals so far in this rollout.")
    consecutive_failures: int = Field(default=0, ge=0, description="Failed intervals in a row.")
    hold_started_at: datetime.datetime | None = Field(
        default=None, description="When the current insufficient-traffic hold began (RFC 3339)."
    )
    evidence: dict[str, float] = Field(
        default_factory=dict,
        description="Sequential count test: log-likelihood ratio per metric name, summed over the rollout's "
        "intervals (one number per compared built-in metric).",
    )
    evidence_until: datetime.datetime | None = Field(
        default=None,
        description="End of the last window counted into the evidence, so that windows never overlap (RFC 3339).",
    )
