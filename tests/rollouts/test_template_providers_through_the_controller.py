"""A MetricTemplate that names its own provider (Flagger's layout) is queried there by the controller.

The controller reads the template and the provider's Secret from the API (the emulator),
builds the provider for the interval, and the query reaches a local server answering in
Datadog's documented shape; the query is counted under that provider's type.
"""

import base64
import pathlib
import sys

import analysis
from rollouts import model, patching, reconciler

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "analysis" / "providers"))
from backend_shapes import DATADOG, NOW, T  # noqa: E402
from scripted_backend import Answer, Backend, Received, serve  # noqa: E402

TEMPLATES = "routeshift.dev/v1alpha1/metrictemplates"


async def test_a_template_provider_is_built_from_its_secret_and_queried(k8s_api):
    async for backend in serve(Backend()):
        def respond(request: Received) -> Answer:
            count = "web_requests_total" in str(request.query)
            return DATADOG.series([(T - 10, 700.0 if count else 0.3)])

        backend.respond = respond
        from rollouts import crd
        for definition in crd.all_crds().values():
            k8s_api.create("apiextensions.k8s.io/v1/customresourcedefinitions", definition)
        k8s_api.create(TEMPLATES, {"apiVersion": "routeshift.dev/v1alpha1", "kind": "MetricTemplate",
                                   "metadata": {"name": "dd-errors"},
                                   "spec": {"provider": DATADOG.spec(backend.url), "query": DATADOG.value_query,
                                            "sampleSizeQuery": DATADOG.sample_query}}, "default")
        data = {key: base64.b64encode(value.encode()).decode() for (_, key), value in DATADOG.secrets.items()}
        k8s_api.create("v1/secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "dd"},
                                      "data": data}, "default")
        controller = reconciler.Controller(cluster=patching.Cluster(patching.Connection(server=k8s_api.url)))
        spec = model.parse_spec({"routeRef": {"name": "web"}, "stable": {"name": "web-v1", "port": 80},
                                 "canary": {"name": "web-v2", "port": 80}, "analysis": {
                                     "interval": "1m", "metrics": [{"name": "errors", "templateRef": {
                                         "name": "dd-errors"}, "thresholdRange": {"max": 1}}]}})
        canary = reconciler.CanaryObject(namespace="default", name="web", generation=1, spec={}, annotations={})
        try:
            verdict, _ = await reconciler._analyse(controller, canary, spec, model.CanaryStatus(),
                                                   ("default", "web"), NOW)
        finally:
            await controller.cluster.close()
        assert (verdict.verdict, [(m.metric, m.reason) for m in verdict.metrics]) == (
            analysis.Verdict.SUCCESSFUL, [("errors", "0.3 within <= 1")])
        assert {r.headers.get("DD-API-KEY") for r in backend.received} == {"api-123"}
        assert 'routeshift_analysis_queries_total{provider="datadog",result="ok"} 2.0' in \
            controller.metrics.render().decode()
