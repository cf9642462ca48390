"""A Canary without ``analysis.provider`` is judged by the controller's default provider.

The controller reads Canaries, MetricTemplates and Secrets from the API (the emulator) and
queries a local server answering in Datadog's documented shape. The default provider's
Secret is read in the controller's own namespace; a Canary's own provider reads the
Canary's namespace, and cannot reach the controller's Secret by naming it.
"""

import base64
import pathlib
import sys

import pytest

import analysis
from rollouts import model, patching, reconciler

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "analysis" / "providers"))
from backend_shapes import DATADOG, NOW, T  # noqa: E402
from scripted_backend import Answer, Backend, Received, serve  # noqa: E402

CONTROLLER_NAMESPACE = "routeshift-system"
CANARY_NAMESPACE = "shop"
CONTROLLER_KEYS = {"datadog_api_key": "controller-api-key", "datadog_application_key": "controller-app-key"}
CANARY_KEYS = {"datadog_api_key": "shop-api-key", "datadog_application_key": "shop-app-key"}


def _secret(k8s_api, namespace: str, keys: dict[str, str]) -> None:
    data = {key: base64.b64encode(value.encode()).decode() for key, value in keys.items()}
    k8s_api.create("v1/secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "dd"}, "data": data},
                   namespace)


def _spec(provider: dict | None = None, metric: dict | None = None) -> model.CanarySpec:
    metric = metric or {"name": "errors", "query": DATADOG.value_query, "sampleSizeQuery": DATADOG.sample_query,
                        "thresholdRange": {"max": 1}}
    return model.parse_spec({"routeRef": {"name": "web"}, "stable": {"name": "web-v1", "port": 80},
                             "canary": {"name": "web-v2", "port": 80},
                             "analysis": {"interval": "1m", "metrics": [metric],
                                          **({"provider": provider} if provider else {})}})


async def _judge(k8s_api, backend: Backend, spec: model.CanarySpec) -> tuple[reconciler.Controller,
                                                                                 analysis.IntervalVerdict]:
    controller = reconciler.Controller(cluster=patching.Cluster(patching.Connection(server=k8s_api.url)),
                                       metrics_provider=analysis.ProviderSpec.model_validate(DATADOG.spec(backend.url)),
                                       own_namespace=CONTROLLER_NAMESPACE)
    canary = reconciler.CanaryObject(namespace=CANARY_NAMESPACE, name="web", generation=1, spec={}, annotations={})
    try:
        verdict, _ = await reconciler._analyse(controller, canary, spec, model.CanaryStatus(),
                                               (CANARY_NAMESPACE, "web"), NOW)
    finally:
        await controller.cluster.close()
    return controller, verdict


@pytest.fixture(autouse=True)
def namespaces(k8s_api):
    for namespace in (CONTROLLER_NAMESPACE, CANARY_NAMESPACE):
        k8s_api.create("v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})


@pytest.fixture
async def datadog():
    async for backend in serve(Backend()):
        def respond(request: Received) -> Answer:
            count = "web_requests_total" in str(request.query)
            return DATADOG.series([(T - 10, 700.0 if count else 0.3)])

        backend.respond = respond
        yield backend


async def test_a_canary_without_provider_is_judged_by_the_default_with_the_controllers_secret(k8s_api, datadog):
    # A Secret of the same name in the Canary's namespace must not be the one used.
    _secret(k8s_api, CONTROLLER_NAMESPACE, CONTROLLER_KEYS)
    _secret(k8s_api, CANARY_NAMESPACE, CANARY_KEYS)
    controller, verdict = await _judge(k8s_api, datadog, _spec())
    assert (verdict.verdict, [(m.metric, m.reason) for m in verdict.metrics]) == (
        analysis.Verdict.SUCCESSFUL, [("errors", "0.3 within <= 1")])
    assert {(r.path, r.headers.get("DD-API-KEY"), r.headers.get("DD-APPLICATION-KEY")) for r in datadog.received} == {
        ("/api/v1/query", "controller-api-key", "controller-app-key")}
    assert 'routeshift_analysis_queries_total{provider="datadog",result="ok"} 2.0' in \
        controller.metrics.render().decode()


async def test_a_canary_naming_its_own_provider_uses_its_own_namespaces_secret(k8s_api, datadog):
    _secret(k8s_api, CONTROLLER_NAMESPACE, CONTROLLER_KEYS)
    _secret(k8s_api, CANARY_NAMESPACE, CANARY_KEYS)
    _, verdict = await _judge(k8s_api, datadog, _spec(provider=DATADOG.spec(datadog.url)))
    assert verdict.verdict is analysis.Verdict.SUCCESSFUL, verdict.reason
    assert {r.headers.get("DD-API-KEY") for r in datadog.received} == {"shop-api-key"}


async def test_a_canary_cannot_borrow_the_controllers_secret_by_naming_it(k8s_api, datadog):
    """The Secret exists only in the controller's namespace: a Canary provider naming it gets nothing."""
    _secret(k8s_api, CONTROLLER_NAMESPACE, CONTROLLER_KEYS)
    _, verdict = await _judge(k8s_api, datadog, _spec(provider=DATADOG.spec(datadog.url)))
    assert verdict.verdict is analysis.Verdict.ERROR
    assert "needs Secret key(s) dd/datadog_api_key, dd/datadog_application_key" in verdict.reason
    assert datadog.received == []


async def test_promql_templates_on_a_datadog_default_are_an_error_saying_why(k8s_api, datadog):
    _secret(k8s_api, CONTROLLER_NAMESPACE, CONTROLLER_KEYS)
    _, verdict = await _judge(k8s_api, datadog, _spec(metric={"name": "request-success-rate",
                                                               "thresholdRange": {"min": 99}}))
    assert verdict.verdict is analysis.Verdict.ERROR
    assert verdict.reason == (
        "cannot query metrics: the controller's default metrics provider is datadog: metric 'request-success-rate': "
        "built-in templates are PromQL on the gateway proxy's metrics and cannot run on the datadog provider; "
        "write a query instead")
    assert datadog.received == []
