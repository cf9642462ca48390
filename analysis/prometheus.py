"""The Prometheus provider: the only module of the analysis package that does network I/O.

It speaks the Prometheus HTTP API (``/api/v1/query`` and ``/api/v1/query_range``, POSTed
as form data so long queries never hit URL limits) through httpx, with auth headers, a
bearer token or basic auth, TLS options and timeouts. Transient failures (connection
errors, timeouts, HTTP 5xx and 429) are retried with tenacity and exponential backoff;
everything else fails at once. Results are reduced to exactly one number (one series for
range queries, one histogram by ``le`` for bucket queries); anything else raises the typed errors of :mod:`analysis.errors`, so
the judge can tell "no traffic" from "broken query" from "Prometheus is down".
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import ssl
import tempfile
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx
import tenacity

from analysis import durations, errors, model
from analysis.tls import default_context


class Provider(Protocol):
    """What evaluate_interval needs from a metrics provider."""

    async def query(self, promql: str, *, at: datetime.datetime) -> float:
        """One number at ``at``; raises NoDataError, NaNResultError, MultipleSeriesError, ProviderError."""

    async def query_range(
        self, promql: str, *, start: datetime.datetime, end: datetime.datetime, step: float
    ) -> list[float]:
        """One series' values between ``start`` and ``end``; raises like :meth:`query`."""

    async def query_buckets(self, promql: str, *, at: datetime.datetime) -> list[tuple[float, float]]:
        """A histogram at ``at`` as (``le`` bound, value) pairs, one per series; raises like :meth:`query`."""


@dataclasses.dataclass(frozen=True)
class PrometheusConfig:
    """Resolved connection settings (secrets already read by the caller)."""

    address: str
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    bearer_token: str | None = None
    basic_auth: tuple[str, str] | None = None
    verify: bool | ssl.SSLContext = True
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 0.2  # first retry delay in seconds; doubles each time, capped at 2 s

    @classmethod
    def from_spec(cls, spec: model.ProviderSpec, secret: Callable[[model.SecretKeyRef], str]) -> PrometheusConfig:
        """Build a config from a ProviderSpec; ``secret`` reads one key of a Secret."""
        token = secret(spec.bearer_token_secret_ref) if spec.bearer_token_secret_ref else None
        basic = None
        if spec.basic_auth_secret_name:
            name = spec.basic_auth_secret_name
            basic = (
                secret(model.SecretKeyRef(name=name, key="username")),
                secret(model.SecretKeyRef(name=name, key="password")),
            )
        return cls(
            address=spec.address,
            headers=dict(spec.headers),
            bearer_token=token,
            basic_auth=basic,
            verify=_tls_context(spec.tls, secret),
            timeout=durations.seconds(spec.timeout),
            retries=spec.retries,
        )


def _tls_context(tls: model.TLSConfig | None, secret: Callable[[model.SecretKeyRef], str]) -> bool | ssl.SSLContext:
    if tls is None:
        return True
    if tls.insecure_skip_verify:
        # Explicitly requested by the spec, e.g. a self-signed in-cluster Prometheus.
        return False
    context = ssl.create_default_context()
    if tls.ca_secret_ref is not None:
        context.load_verify_locations(cadata=secret(tls.ca_secret_ref))
    if tls.cert_secret_ref is not None and tls.key_secret_ref is not None:
        # ssl only loads client certificates from files; they live just long enough to load.
        with tempfile.TemporaryDirectory() as directory:
            cert, key = os.path.join(directory, "tls.crt"), os.path.join(directory, "tls.key")
            for path, ref in ((cert, tls.cert_secret_ref), (key, tls.key_secret_ref)):
                with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
                    handle.write(secret(ref))
            context.load_cert_chain(cert, key)
    return context


class PrometheusProvider:
    """Queries one Prometheus; use as an async context manager or call :meth:`aclose`."""

    def __init__(self, config: PrometheusConfig):
        self.config = config
        headers = dict(config.headers)
        if config.bearer_token:
            headers["Authorization"] = f"Bearer {config.bearer_token}"
        self._client = httpx.AsyncClient(
            base_url=config.address.rstrip("/"),
            headers=headers,
            auth=httpx.BasicAuth(*config.basic_auth) if config.basic_auth else None,
            verify=default_context() if config.verify is True else config.verify,
            timeout=httpx.Timeout(config.timeout),
        )

    async def __aenter__(self) -> PrometheusProvider:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def query(self, promql: str, *, at: datetime.datetime) -> float:
        data = await self._call("/api/v1/query", {"query": promql, "time": _unix(at)}, promql)
        kind, result = data.get("resultType"), data.get("result")
        if kind == "scalar":
            return _number(result[1], promql)
        if kind != "vector":
            # A range vector or string cannot be judged as one number.
            raise errors.QueryRejected(f"expected an instant vector or scalar, got {kind}: {promql}")
        series = _single(result, promql)
        return _number(series["value"][1], promql)

    async def query_range(
        self, promql: str, *, start: datetime.datetime, end: datetime.datetime, step: float
    ) -> list[float]:
        params = {"query": promql, "start": _unix(start), "end": _unix(end), "step": f"{step:g}"}
        data = await self._call("/api/v1/query_range", params, promql)
        if data.get("resultType") != "matrix":
            raise errors.QueryRejected(f"expected a matrix, got {data.get('resultType')}: {promql}")
        series = _single(data.get("result"), promql)
        # NaN points (e.g. a sub-window without requests) are kept; the judge drops them.
        return [float(value) for _, value in series["values"]]

    async def query_buckets(self, promql: str, *, at: datetime.datetime) -> list[tuple[float, float]]:
        data = await self._call("/api/v1/query", {"query": promql, "time": _unix(at)}, promql)
        if data.get("resultType") != "vector":
            raise errors.QueryRejected(f"expected an instant vector by le, got {data.get('resultType')}: {promql}")
        result = data.get("result")
        if not result:
            raise errors.NoDataError(f"no series returned: {promql}", query=promql)
        buckets = []
        for series in result:
            le = series.get("metric", {}).get("le")
            if le is None:
                # Without the bucket bound a series cannot be placed in the histogram.
                raise errors.QueryRejected(f"series {_labels(series.get('metric', {}))} has no le label: {promql}")
            buckets.append((float(le), float(series["value"][1])))  # float() reads "+Inf"
        return sorted(buckets)

    async def _call(self, path: str, params: dict[str, str], promql: str) -> dict[str, Any]:
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.config.retries + 1),
            wait=tenacity.wait_exponential(multiplier=self.config.backoff, max=2.0),
            retry=tenacity.retry_if_exception(lambda error: isinstance(error, errors.AnalysisError) and error.retryable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._once(path, params, promql)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _once(self, path: str, params: dict[str, str], promql: str) -> dict[str, Any]:
        try:
            response = await self._client.post(path, data=params)
        except httpx.TransportError as error:
            # Connection refused/reset, DNS, timeouts: Prometheus may be back in a moment.
            raise errors.ProviderUnavailable(f"{self.config.address}: {type(error).__name__}: {error}") from error
        if response.status_code >= 500 or response.status_code == 429:
            # Overloaded, restarting or behind a failing proxy: transient.
            raise errors.ProviderUnavailable(f"{self.config.address}: HTTP {response.status_code}: {_error_text(response)}")
        if response.status_code >= 400:
            # bad_data (400), execution (422), auth (401/403), not found: retrying cannot help.
            raise errors.QueryRejected(f"HTTP {response.status_code}: {_error_text(response)}: {promql}")
        try:
            body = response.json()
        except ValueError as error:
            raise errors.ProviderError(f"{self.config.address}: response is not JSON (is this Prometheus?)") from error
        if body.get("status") != "success":
            raise errors.QueryRejected(f"{body.get('errorType')}: {body.get('error')}: {promql}")
        return body.get("data") or {}


def _single(result: Any, promql: str) -> dict[str, Any]:
    if not result:
        raise errors.NoDataError(f"no series returned: {promql}", query=promql)
    if len(result) > 1:
        labels = tuple(series.get("metric", {}) for series in result)
        shown = ", ".join(_labels(series) for series in labels[:3])
        raise errors.MultipleSeriesError(
            f"{len(result)} series returned ({shown}{', ...' if len(result) > 3 else ''}); "
            f"aggregate the query to one series: {promql}",
            query=promql,
            labels=labels,
        )
    return result[0]


def _number(text: str, promql: str) -> float:
    value = float(text)  # Prometheus encodes floats as strings, incl. "NaN", "+Inf"
    if math.isnan(value):
        raise errors.NaNResultError(f"result is NaN: {promql}", query=promql)
    return value


def _labels(metric: Mapping[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(metric.items())) + "}"


def _unix(moment: datetime.datetime) -> str:
    if moment.tzinfo is None:
        # Naive datetimes are ambiguous; the controller passes aware UTC, tests may not.
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return f"{moment.timestamp():.3f}"


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"{body.get('errorType')}: {body.get('error')}"
    except ValueError:
        return response.text[:200]
