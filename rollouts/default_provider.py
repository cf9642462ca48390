"""The cluster-wide default metrics provider: what judges a Canary that names no ``analysis.provider``.

Flagger users configure it once for the cluster (``-metrics-server`` plus provider flags);
here it is one :class:`analysis.ProviderSpec` given to the controller as
``--metrics-provider`` (inline YAML or JSON, or the path of a file holding it) and checked
at start-up by the same pydantic model that checks a Canary's own provider, so a provider
that could never work stops the controller instead of failing every analysis.
``--prometheus-url URL`` stays as the short form of ``{type: prometheus, address: URL}``;
giving both is refused rather than one silently winning.

The default's Secrets belong to whoever runs the controller, not to a Canary's author: the
reconciler reads them from the controller's own namespace (``--controller-namespace``, or
``$POD_NAMESPACE`` from the downward API), never from a Canary's. A Canary's own provider
keeps reading from the Canary's namespace, so no Canary can point the controller at a
Secret of another namespace.
"""

from __future__ import annotations

import pathlib

import pydantic
import yaml

import analysis

NAMESPACE_ENV = "POD_NAMESPACE"
_USAGE = ("a ProviderSpec as YAML or JSON, e.g. '{type: datadog, secretName: datadog}', "
          "or the path of a file holding one")


def parse(text: str) -> analysis.ProviderSpec:
    """The provider ``--metrics-provider`` describes; ValueError saying what is wrong otherwise."""
    try:
        document = yaml.safe_load(_source(text))
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        raise ValueError(f"not valid YAML or JSON ({getattr(error, 'problem', None) or error}{at}); "
                         f"expected {_USAGE}") from error
    if not isinstance(document, dict):
        raise ValueError(f"expected {_USAGE}, got {text!r}")
    try:
        return analysis.ProviderSpec.model_validate(document)
    except pydantic.ValidationError as error:
        raise ValueError(_problems(error)) from error


def _source(text: str) -> str:
    """The file's text when ``text`` names a file, else ``text`` itself (inline YAML or JSON)."""
    path = pathlib.Path(text)
    try:
        is_file = path.is_file()
    except OSError:  # e.g. inline JSON longer than a file name may be
        return text
    if not is_file:
        return text
    try:
        return path.read_text()
    except OSError as error:
        raise ValueError(f"cannot read {text}: {error.strerror}") from error


def choose(metrics_provider: str | None, prometheus_url: str | None) -> analysis.ProviderSpec | None:
    """The default provider from the two flags that can name it; None when neither is given."""
    if metrics_provider and prometheus_url:
        raise ValueError("--prometheus-url and --metrics-provider both name the default metrics provider: give one "
                         "(--prometheus-url URL is short for --metrics-provider '{type: prometheus, address: URL}')")
    if metrics_provider:
        try:
            return parse(metrics_provider)
        except ValueError as error:
            raise ValueError(f"--metrics-provider: {error}") from error
    if prometheus_url:
        return analysis.ProviderSpec(type=analysis.ProviderType.PROMETHEUS, address=prometheus_url)
    return None


def secret_names(provider: analysis.ProviderSpec) -> list[str]:
    """The Secrets the provider reads, each once, in the order the spec names them."""
    return list(dict.fromkeys(ref.name for ref in analysis.provider_secret_keys(provider)))


def require_namespace(provider: analysis.ProviderSpec | None, namespace: str | None) -> None:
    """Refuse a default provider with Secrets when the controller does not know where it runs."""
    names = secret_names(provider) if provider is not None else []
    if names and not namespace:
        raise ValueError(f"the default metrics provider reads Secret(s) {', '.join(names)} from the controller's own "
                         f"namespace, which is unknown: set --controller-namespace or ${NAMESPACE_ENV}")


def unfit(spec: analysis.AnalysisSpec, provider: analysis.ProviderSpec) -> str | None:
    """Why ``spec``'s metrics cannot run on the default ``provider``, or None when they can.

    The same rules a Canary naming ``provider`` itself is validated by (built-in templates
    and the default sample-size query are PromQL), so that a Canary relying on a non-Prometheus
    default gets the reason it would have got at admission, not a query error from the backend.
    """
    body = spec.model_dump(by_alias=True, mode="json", exclude={"provider"})
    try:
        analysis.AnalysisSpec.model_validate({**body, "provider": provider.model_dump(by_alias=True, mode="json")})
    except pydantic.ValidationError as error:
        return f"the controller's default metrics provider is {provider.type.value}: {_problems(error)}"
    return None


def _problems(error: pydantic.ValidationError) -> str:
    parts = []
    for problem in error.errors():
        cause = (problem.get("ctx") or {}).get("error")
        message = str(cause) if isinstance(cause, ValueError) else problem["msg"]
        where = ".".join(str(part) for part in problem["loc"])
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)
