"""Build the provider a ProviderSpec names, from the spec and its Secret keys.

Two steps because Secrets are read asynchronously by the controller and providers are
built synchronously: :func:`secret_keys` says which keys to fetch, :func:`build` takes a
reader of what was fetched (None for a key that is missing) and refuses, with
:class:`MissingCredentials`, to build a provider whose required key is absent, so the
judge reports "Secret dd-keys has no datadog_api_key" instead of an HTTP 403 later.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from analysis import durations, model
from analysis.prometheus import PrometheusConfig, PrometheusProvider, Provider
from analysis.providers import cloudwatch, datadog, graphite, influxdb, newrelic, transport
from analysis.providers.errors import MissingCredentials

SecretReader = Callable[[model.SecretKeyRef], "str | None"]


def secret_keys(spec: model.ProviderSpec) -> list[model.SecretKeyRef]:
    """Every Secret key :func:`build` may read for ``spec`` (optional ones included)."""
    refs = [spec.bearer_token_secret_ref]
    if spec.tls is not None:
        refs += [spec.tls.ca_secret_ref, spec.tls.cert_secret_ref, spec.tls.key_secret_ref]
    if spec.basic_auth_secret_name:
        refs += [model.SecretKeyRef(name=spec.basic_auth_secret_name, key=key) for key in ("username", "password")]
    if spec.secret_name:
        refs += [model.SecretKeyRef(name=spec.secret_name, key=key) for key in model.CREDENTIAL_KEYS[spec.type]]
    return [ref for ref in refs if ref is not None]


def build(spec: model.ProviderSpec, secret: SecretReader, *, window: str = "1m",
          backoff: float | None = None) -> Provider:
    """The provider for ``spec``.

    ``window`` is the time frame when the spec sets none (the analysis interval);
    ``backoff`` overrides the first retry delay (doubling from there, capped at 2 s).
    """
    found = {(ref.name, ref.key): secret(ref) for ref in secret_keys(spec)}
    missing = [f"{name}/{key}" for (name, key), value in found.items()
               if value is None and key not in model.OPTIONAL_CREDENTIAL_KEYS]
    if missing:
        raise MissingCredentials(f"the {spec.type.value} provider needs Secret key(s) {', '.join(missing)}, "
                                 "which could not be read")

    def read(ref: model.SecretKeyRef) -> str:
        return found[(ref.name, ref.key)] or ""

    def http(address: str) -> PrometheusConfig:
        config = transport.settings(spec, read, address=address)
        return config if backoff is None else dataclasses.replace(config, backoff=backoff)

    def credential(key: str) -> str | None:
        return found.get((spec.secret_name or "", key))

    seconds = durations.seconds(spec.window or window)
    kind = model.ProviderType
    if spec.type is kind.PROMETHEUS:
        assert spec.address is not None  # guaranteed by ProviderSpec's validator
        return PrometheusProvider(http(spec.address))
    if spec.type is kind.DATADOG:
        config = http(spec.address or datadog.DEFAULT_ADDRESS)
        return datadog.DatadogProvider(config, api_key=credential("datadog_api_key") or "",
                                       application_key=credential("datadog_application_key") or "", window=seconds)
    if spec.type is kind.NEW_RELIC:
        account = (credential("newrelic_account_id") or "").strip()
        if not account.isdigit():
            raise MissingCredentials(f"newrelic_account_id of Secret {spec.secret_name} must be a number, "
                                     f"got {account!r}")
        config = http(spec.address or newrelic.DEFAULT_ADDRESS)
        return newrelic.NewRelicProvider(config, api_key=credential("newrelic_api_key") or "",
                                         account_id=int(account), window=seconds)
    if spec.type is kind.CLOUDWATCH:
        assert spec.region is not None  # guaranteed by ProviderSpec's validator
        config = http(spec.address or cloudwatch.default_address(spec.region))
        return cloudwatch.CloudWatchProvider(
            config, region=spec.region, access_key_id=credential("aws_access_key_id") or "",
            secret_access_key=credential("aws_secret_access_key") or "",
            session_token=credential("aws_session_token") or None, window=seconds)
    assert spec.address is not None  # graphite and influxdb: guaranteed by ProviderSpec's validator
    config = http(spec.address)
    if spec.type is kind.GRAPHITE:
        return graphite.GraphiteProvider(config, window=seconds)
    return influxdb.InfluxDBProvider(config, token=credential("token") or "", org=credential("org") or "",
                                     window=seconds)
