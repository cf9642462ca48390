"""The gateway proxy command line the chart renders is one the real `gateway-proxy` parser
accepts, in Kubernetes mode, on the ports the chart's Services and probes use."""

from gateway_proxy import __main__ as proxy_cli


def _proxy_args(documents) -> list[str]:
    (deployment,) = [doc for doc in documents if doc["kind"] == "Deployment"
                     and doc["metadata"]["name"] == "rs-routeshift-gateway-proxy"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["gateway-proxy"]
    return container["args"]


def test_defaults_watch_the_api_and_serve_http_and_admin(render):
    args = proxy_cli.parse_args(_proxy_args(render({})))
    assert args.kubernetes and args.config_dir is None
    assert args.listen == ("0.0.0.0", 8000) and args.admin == ("0.0.0.0", 9000)
    assert args.listen_tls is None
    assert args.controller_name == "routeshift.dev/gateway-proxy"
    # Gateways publish the traffic Service's DNS name as where clients reach them.
    assert [(a.type, a.value) for a in proxy_cli.gateway_addresses(args)] == [
        ("Hostname", "rs-routeshift-gateway-proxy.routeshift-system.svc")]


def test_extra_args_add_gateway_addresses(render):
    documents = render({"proxy": {"extraArgs": ["--gateway-address", "203.0.113.9"]}})
    args = proxy_cli.parse_args(_proxy_args(documents))
    assert [a.value for a in proxy_cli.gateway_addresses(args)] == [
        "rs-routeshift-gateway-proxy.routeshift-system.svc", "203.0.113.9"]


def test_tls_adds_the_https_socket(render):
    args = proxy_cli.parse_args(_proxy_args(render({"proxy": {"tls": {"enabled": True}}})))
    assert args.listen_tls == ("0.0.0.0", 8443)
