"""``kubectl canary get`` reads the route of the kind the Canary names: a GRPCRoute is not its HTTPRoute namesake."""

from plugin_world import CANARIES, canary_manifest, status

GRPCROUTES = "gateway.networking.k8s.io/v1/grpcroutes"


def test_get_shows_the_weights_the_grpcroute_carries(world):
    world.api.create(GRPCROUTES, {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute", "metadata": {"name": "web"},
        "spec": {"rules": [{"backendRefs": [{"name": "web-v1", "port": 80, "weight": 70},
                                            {"name": "web-v2", "port": 80, "weight": 30}]}]}}, "default")
    world.api.create(CANARIES, canary_manifest("cart", routeRef={"name": "web", "kind": "GRPCRoute"}), "default")
    world.set_status(status("Progressing", step=1, canary_weight=30), name="cart")
    result = world.plugin("get", "cart")
    assert result.returncode == 0, result.stderr
    assert "GRPCRoute default/web: web-v1=70 web-v2=30" in result.stdout
    assert "HTTPRoute default/web" not in result.stdout  # the HTTPRoute of that name carries 100/0
