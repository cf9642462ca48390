"""The HTTP plumbing every non-Prometheus provider shares: one client, one retry policy.

The policy is the Prometheus provider's, so every backend behaves alike: connection
errors and timeouts are :class:`~analysis.errors.ProviderUnavailable` and retried by
tenacity with exponential backoff (capped at 2 s), as is anything a provider's reader
classifies as transient (HTTP 5xx and 429 by default; CloudWatch's in-band throttling).
Other failures are raised at once. HTTP settings (headers, TLS, timeout, retries and,
for Graphite, bearer or basic auth) are read from the spec exactly as the Prometheus
provider reads them, through :meth:`PrometheusConfig.from_spec`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx
import tenacity

from analysis import errors, model
from analysis.prometheus import PrometheusConfig
from analysis.tls import default_context

T = TypeVar("T")


def settings(spec: model.ProviderSpec, secret: Callable[[model.SecretKeyRef], str], *,
             address: str) -> PrometheusConfig:
    """The spec's HTTP settings with ``address`` as the base URL (a type's default when the spec has none)."""
    return PrometheusConfig.from_spec(spec.model_copy(update={"address": address}), secret)


class Client:
    """An httpx client with the shared retry policy; ``service`` names the backend in messages."""

    def __init__(self, config: PrometheusConfig, *, service: str, headers: Mapping[str, str] | None = None,
                 auth: httpx.Auth | None = None):
        self.config = config
        self.service = service
        merged = {**config.headers, **(headers or {})}
        if config.bearer_token:
            merged["Authorization"] = f"Bearer {config.bearer_token}"
        if auth is None and config.basic_auth:
            auth = httpx.BasicAuth(*config.basic_auth)
        self._client = httpx.AsyncClient(
            base_url=config.address.rstrip("/"), headers=merged, auth=auth,
            verify=default_context() if config.verify is True else config.verify, timeout=httpx.Timeout(config.timeout),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(self, method: str, path: str, *, read: Callable[[httpx.Response], T], **request: Any) -> T:
        """Send the request and return ``read(response)``; retry while it raises a retryable error."""
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.config.retries + 1),
            wait=tenacity.wait_exponential(multiplier=self.config.backoff, max=2.0),
            retry=tenacity.retry_if_exception(
                lambda error: isinstance(error, errors.AnalysisError) and error.retryable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                try:
                    response = await self._client.request(method, path, **request)
                except httpx.TransportError as error:
                    # Connection refused/reset, DNS, timeouts: the backend may be back in a moment.
                    raise errors.ProviderUnavailable(
                        f"{self.service} at {self.config.address}: {type(error).__name__}: {error}") from error
                try:
                    return read(response)
                except (KeyError, IndexError, TypeError, ValueError) as error:
                    # An answer in a shape this API does not document, e.g. another service at the address.
                    raise errors.ProviderError(f"{self.service}: unexpected answer ({type(error).__name__}: {error}): "
                                               f"{response.text[:200]!r}") from error
        raise AssertionError("unreachable: tenacity reraises the last error")

    def check_status(self, response: httpx.Response, detail: str, query: str) -> None:
        """Raise the typed error for a failed HTTP status; ``detail`` is the backend's error text."""
        status = response.status_code
        if status >= 500 or status == 429:
            # Overloaded, rate limited or restarting: transient.
            raise errors.ProviderUnavailable(f"{self.service} at {self.config.address}: HTTP {status}: {detail}")
        if status in (401, 403):
            # Retrying cannot fix a key; name the Secret as the place to look.
            raise errors.QueryRejected(f"{self.service}: HTTP {status}: {detail}: check the credentials in the "
                                       "provider's Secret")
        if status >= 400:
            raise errors.QueryRejected(f"{self.service}: HTTP {status}: {detail}: {query}")


def json_body(response: httpx.Response, service: str) -> Any:
    """The response's JSON, or a ProviderError naming what answered instead."""
    try:
        return response.json()
    except ValueError as error:
        raise errors.ProviderError(f"{service}: response is not JSON: {response.text[:200]!r}") from error


def error_text(response: httpx.Response) -> str:
    """A short text for a failed response, from the common JSON error shapes or the body itself."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason_phrase
    if isinstance(body, Mapping):
        found = body.get("errors") or body.get("error") or body.get("message")
        if isinstance(found, list):
            return "; ".join(str(item.get("message", item) if isinstance(item, Mapping) else item) for item in found)
        if found:
            return str(found)
    return str(body)[:200]
