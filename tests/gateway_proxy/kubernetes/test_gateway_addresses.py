"""Gateway ``status.addresses``: where clients reach the proxy, from ``--gateway-address`` or ``--listen``."""

from __future__ import annotations

import pytest

import gw_harness
import kube_harness
from gateway_proxy import __main__ as cli
from gateway_proxy import attachment, resources
from gateway_proxy.kubernetes import conditions as kube_conditions, status as kube_status
from gateway_proxy.kubernetes.status import Address
from routeshift.testing.polling import until

NOW = "2026-11-22T10:00:00Z"


def _args(*extra):
    return cli.parse_args(["--kubernetes", "--listen", "0.0.0.0:8000", "--admin", "127.0.0.1:9000", *extra])


@pytest.mark.parametrize("flags, listen, published", [
    pytest.param(["--gateway-address", "203.0.113.7"], None, [Address("IPAddress", "203.0.113.7")], id="ip"),
    pytest.param(["--gateway-address", "2001:DB8::1"], None, [Address("IPAddress", "2001:db8::1")], id="ipv6"),
    pytest.param(["--gateway-address", "Shop.Example.com."], None, [Address("Hostname", "shop.example.com")],
                 id="hostname"),
    pytest.param(["--gateway-address", "lb.example.com", "--gateway-address", "198.51.100.2",
                  "--gateway-address", "lb.example.com"], None,
                 [Address("Hostname", "lb.example.com"), Address("IPAddress", "198.51.100.2")], id="several-in-order"),
    pytest.param([], "0.0.0.0:8000", [], id="wildcard-listen-says-nothing"),
    pytest.param([], "[::]:8000", [], id="ipv6-wildcard-listen"),
    pytest.param([], "10.1.2.3:8000", [Address("IPAddress", "10.1.2.3")], id="concrete-listen"),
    pytest.param([], "proxy.internal:8000", [Address("Hostname", "proxy.internal")], id="listen-hostname"),
    pytest.param(["--gateway-address", "203.0.113.7"], "10.1.2.3:8000", [Address("IPAddress", "203.0.113.7")],
                 id="flag-beats-listen"),
])
def test_addresses_from_the_command_line(flags, listen, published):
    argv = ["--kubernetes", "--listen", listen or "0.0.0.0:8000", "--admin", "127.0.0.1:9000", *flags]
    assert list(cli.gateway_addresses(cli.parse_args(argv))) == published


@pytest.mark.parametrize("value", ["*.example.com", "under_score.example", "-lead.example", "a b", ""])
def test_an_address_that_is_neither_ip_nor_hostname_is_refused_at_start(value, capsys):
    with pytest.raises(SystemExit):
        _args("--gateway-address", value)
    assert "--gateway-address" in capsys.readouterr().err


def test_only_kubernetes_mode_publishes_addresses():
    with pytest.raises(SystemExit):
        cli.parse_args(["--config-dir", "d", "--listen", "0.0.0.0:8000", "--admin", "127.0.0.1:9000",
                        "--gateway-address", "203.0.113.7"])


def test_at_most_sixteen_addresses():
    with pytest.raises(SystemExit):
        _args(*[arg for index in range(17) for arg in ("--gateway-address", f"10.0.0.{index}")])


def _gateway_status(addresses):
    config = attachment.Config.of([resources.parse(gw_harness.gateway(), "t")])
    return kube_status.compute(config, (kube_status.GatewayClass("routeshift", kube_status.CONTROLLER, 1),),
                               addresses=addresses).gateways[("default", "gw")]


def test_addresses_are_written_once_and_removed_when_gone():
    published = (Address("IPAddress", "203.0.113.7"),)
    first = kube_conditions.gateway_status(None, _gateway_status(published), NOW)
    assert first["addresses"] == [{"type": "IPAddress", "value": "203.0.113.7"}]
    assert kube_conditions.gateway_status(first, _gateway_status(published), NOW) is None
    # null in a merge patch deletes: an address published by an earlier run must not linger.
    assert kube_conditions.gateway_status(first, _gateway_status(()), NOW)["addresses"] is None
    assert kube_conditions.gateway_status(dict(first, addresses=None), _gateway_status(()), NOW) is None


def _published(k8s_api, name="gw"):
    return (k8s_api.get(kube_harness.GATEWAYS, "default", name).get("status") or {}).get("addresses")


def test_every_gateway_gets_the_addresses_and_a_restart_without_them_clears_them(k8s_api, kube_proxy):
    kube_harness.create_all(k8s_api, [kube_harness.gateway_class(), gw_harness.gateway(),
                                      gw_harness.gateway("second")])
    proxy = kube_proxy(addresses=(Address("Hostname", "gw.example.com"), Address("IPAddress", "192.0.2.10")))
    wanted = [{"type": "Hostname", "value": "gw.example.com"}, {"type": "IPAddress", "value": "192.0.2.10"}]
    # The proxy writes each Gateway's status on its own: wait for both, in either order.
    until(lambda: _published(k8s_api) == _published(k8s_api, "second") == wanted, 5,
          description="addresses published on both Gateways")
    until(lambda: proxy.call(lambda: proxy.mode.idle), 5)
    writes = proxy.call(lambda: proxy.mode.writer.writes)
    k8s_api.patch(kube_harness.GATEWAYS, "default", "gw", {"metadata": {"labels": {"touched": "yes"}}})
    until(lambda: proxy.call(lambda: proxy.mode.idle), 5)
    assert proxy.call(lambda: proxy.mode.writer.writes) == writes  # unchanged: not written again
    proxy.stop()

    kube_proxy()  # e.g. --listen 0.0.0.0 and no --gateway-address: nothing to say
    until(lambda: _published(k8s_api) is None, 5, description="addresses removed")
    conditions = {c["type"]: c["status"] for c in k8s_api.get(kube_harness.GATEWAYS, "default", "gw")["status"]
                  ["conditions"]}
    assert conditions == {"Accepted": "True", "Programmed": "True"}
