"""HTTPRoute filters and timeouts, end to end over real sockets, in both hot-path builds."""

from __future__ import annotations

import json
import time

import pytest

from gw_harness import backend, deploy, gateway, listener, path_match, route, rule
from routeshift.testing.polling import until


@pytest.fixture
def v1(echo_factory):
    return {"v1": echo_factory("v1")}


def test_request_header_modifier_set_add_remove(proxy, v1):
    deploy(proxy, v1, [route("r", [rule([backend("v1")], filters=[{
        "type": "RequestHeaderModifier",
        "requestHeaderModifier": {"set": [{"name": "X-Set", "value": "set-value"}],
                                  "add": [{"name": "X-Add", "value": "added"}],
                                  "remove": ["X-Remove"]}}])])])
    status, body = proxy.json(headers={"x-set": "original", "X-Add": "first", "X-Remove": "gone", "X-Keep": "kept"})
    headers = body["headers"]
    assert status == 200
    assert headers["x-set"] == "set-value"
    assert headers["x-add"] == "first,added"
    assert "x-remove" not in headers
    assert headers["x-keep"] == "kept"
    status, body = proxy.json()
    assert body["headers"]["x-add"] == "added"


def test_response_header_modifier(proxy, v1):
    deploy(proxy, v1, [route("r", [rule([backend("v1")], filters=[{
        "type": "ResponseHeaderModifier",
        "responseHeaderModifier": {"set": [{"name": "X-Backend", "value": "hidden"}],
                                   "add": [{"name": "X-Extra", "value": "yes"}],
                                   "remove": ["X-Upstream-Only"]}}])])])
    status, headers, _ = proxy.request()
    assert status == 200
    assert headers["x-backend"] == "hidden"
    assert headers["x-extra"] == "yes"
    assert "x-upstream-only" not in headers


def _redirect(proxy, path="/", host="example.com"):
    status, headers, _ = proxy.request(path=path, host=host)
    return status, headers.get("location")


@pytest.mark.parametrize("redirect, path, expected", [
    pytest.param({"hostname": "other.org"}, "/a?x=1", (302, "http://other.org:8080/a?x=1"), id="hostname-listener-port"),
    pytest.param({"scheme": "https"}, "/a", (302, "https://example.com/a"), id="scheme-implies-well-known-port"),
    pytest.param({"scheme": "https", "port": 8443}, "/a", (302, "https://example.com:8443/a"), id="explicit-port"),
    pytest.param({"statusCode": 301}, "/a", (301, "http://example.com:8080/a"), id="status-301"),
    pytest.param({"path": {"type": "ReplaceFullPath", "replaceFullPath": "/full"}}, "/pre/x?q=1",
                 (302, "http://example.com:8080/full?q=1"), id="replace-full-path"),
    pytest.param({"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}}, "/pre/x",
                 (302, "http://example.com:8080/new/x"), id="replace-prefix"),
    pytest.param({"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}, "/pre",
                 (302, "http://example.com:8080/"), id="replace-prefix-to-root"),
])
def test_request_redirect(proxy, v1, redirect, path, expected):
    gw = gateway(listeners=[listener("http", 8080)])
    deploy(proxy, v1, [route("r", [rule(None, [path_match("/pre")] if "path" in redirect else None,
                                         filters=[{"type": "RequestRedirect", "requestRedirect": redirect}])])],
           gateways=[gw])
    # The Host header's port (1234) must not leak into the Location: the listener's port does.
    assert _redirect(proxy, path, host="example.com:1234") == expected


def test_redirect_omits_well_known_listener_port(proxy, v1):
    deploy(proxy, v1, [route("r", [rule(None, filters=[{"type": "RequestRedirect",
                                                          "requestRedirect": {"hostname": "x.org"}}])])])
    assert _redirect(proxy, "/p") == (302, "http://x.org/p")


@pytest.mark.parametrize("rewrite, path, expected_path, expected_host", [
    pytest.param({"hostname": "rewritten.org"}, "/pre/a", "/pre/a", "rewritten.org", id="hostname"),
    pytest.param({"path": {"type": "ReplaceFullPath", "replaceFullPath": "/full"}}, "/pre/a?q=1", "/full?q=1",
                 "example.com", id="full-path"),
    pytest.param({"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}}, "/pre/a", "/new/a",
                 "example.com", id="prefix"),
    pytest.param({"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}, "/pre/a", "/a",
                 "example.com", id="prefix-strip"),
    pytest.param({"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}, "/pre", "/",
                 "example.com", id="prefix-strip-to-root"),
    pytest.param({"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new/"}}, "/pre/", "/new/",
                 "example.com", id="prefix-trailing-slash"),
])
def test_url_rewrite(proxy, v1, rewrite, path, expected_path, expected_host):
    deploy(proxy, v1, [route("r", [rule([backend("v1")], [path_match("/pre")],
                                        filters=[{"type": "URLRewrite", "urlRewrite": rewrite}])])])
    status, body = proxy.json(path)
    assert status == 200
    assert body["path"] == expected_path
    assert body["headers"]["host"] == expected_host


def test_request_mirror_to_several_backends(proxy, echo_factory):
    echoes = {name: echo_factory(name) for name in ("primary", "m1", "m2")}
    deploy(proxy, echoes, [route("r", [rule([backend("primary")], filters=[
        {"type": "RequestMirror", "requestMirror": {"backendRef": backend("m1")}},
        {"type": "RequestMirror", "requestMirror": {"backendRef": backend("m2")}}])])])
    status, body = proxy.json("/mirrored", method="POST", body=b"payload" * 100)
    assert (status, body["backend"]) == (200, "primary")
    for name in ("m1", "m2"):
        until(lambda: echoes[name].seen, 5, description=f"mirror {name} received the request")
        seen = echoes[name].seen[0]
        assert (seen["path"], seen["method"], seen["body_length"]) == ("/mirrored", "POST", 700)


def test_mirror_failure_never_affects_the_client(proxy, echo_factory):
    primary = echo_factory("primary")
    documents = {"primary": primary, "down": None}  # "down" has a Service but its endpoint port refuses
    deploy(proxy, documents, [route("r", [rule([backend("primary")], filters=[
        {"type": "RequestMirror", "requestMirror": {"backendRef": backend("down")}},
        {"type": "RequestMirror", "requestMirror": {"backendRef": backend("slow")}}])])])
    for _ in range(5):
        status, body = proxy.json("/")
        assert (status, body["backend"]) == (200, "primary")


def test_mirror_slow_backend_does_not_delay_the_client(proxy, echo_factory):
    echoes = {"primary": echo_factory("primary"), "slow": echo_factory("slow", delay=3.0)}
    deploy(proxy, echoes, [route("r", [rule([backend("primary")], filters=[
        {"type": "RequestMirror", "requestMirror": {"backendRef": backend("slow")}}])])])
    started = time.monotonic()
    for _ in range(3):
        status, body = proxy.json("/")
        assert (status, body["backend"]) == (200, "primary")
    assert time.monotonic() - started < 2.0  # one mirror answer alone takes 3 s
    until(lambda: len(echoes["slow"].seen) == 3, 5, description="the slow mirror got every request")


def _mirror(name, **share):
    return {"type": "RequestMirror", "requestMirror": {"backendRef": backend(name), **share}}


def test_request_mirror_percent_zero_never_copies_and_full_or_unset_always_does(proxy, echo_factory):
    echoes = {name: echo_factory(name) for name in ("primary", "never", "hundred", "whole", "unset")}
    deploy(proxy, echoes, [route("r", [rule([backend("primary")], filters=[
        _mirror("never", percent=0), _mirror("never", fraction={"numerator": 0, "denominator": 7}),
        _mirror("hundred", percent=100), _mirror("whole", fraction={"numerator": 3, "denominator": 3}),
        _mirror("unset")])])])
    sent = 20
    for index in range(sent):
        assert proxy.json(f"/?i={index}")[1]["backend"] == "primary"
    for name in ("hundred", "whole", "unset"):
        until(lambda: len(echoes[name].seen) == sent, 5, description=f"mirror {name} got every request")
    # Mirrors are started together when a request begins: once the others have every copy, a
    # copy for "never" would have been on its way too.
    assert echoes["never"].seen == []


def test_request_mirror_fraction_copies_that_share_of_requests(proxy, echo_factory):
    echoes = {name: echo_factory(name) for name in ("primary", "quarter", "per-cent", "every")}
    deploy(proxy, echoes, [route("r", [rule([backend("primary")], filters=[
        _mirror("quarter", fraction={"numerator": 1, "denominator": 4}),
        _mirror("per-cent", fraction={"numerator": 25}),  # the denominator defaults to 100
        _mirror("every")])])])
    sent = 400
    for index in range(sent):
        assert proxy.request(path=f"/?i={index}")[0] == 200
    until(lambda: len(echoes["every"].seen) == sent, 10, description="the unsampled mirror got every request")
    # Binomial(400, 1/4): mean 100, standard deviation 8.7, so 60..140 is over four deviations wide.
    for name in ("quarter", "per-cent"):
        until(lambda: len(echoes[name].seen) >= 60, 5, description=f"mirror {name} got its share")
        paths = [seen["path"] for seen in echoes[name].seen]
        assert len(paths) <= 140, name
        assert len(set(paths)) == len(paths), "each request is sampled once"


@pytest.mark.parametrize("share, problem", [
    pytest.param({"percent": 50, "fraction": {"numerator": 1, "denominator": 2}}, "only one of percent and fraction",
                 id="both-set"),
    pytest.param({"fraction": {"numerator": 5, "denominator": 4}}, "numerator 5 must be between 0 and the denominator",
                 id="numerator-above-denominator"),
    pytest.param({"fraction": {"numerator": 0, "denominator": 0}}, "denominator 0 must be greater than 0",
                 id="denominator-zero"),
    pytest.param({"percent": 101}, "percent 101 is not between 0 and 100", id="percent-above-100"),
])
def test_request_mirror_invalid_share_makes_the_rule_answer_500(proxy, echo_factory, share, problem):
    echoes = {name: echo_factory(name) for name in ("primary", "copy")}
    deploy(proxy, echoes, [route("r", [
        rule([backend("primary")], [path_match("/sampled")], filters=[_mirror("copy", **share)]),
        rule([backend("primary")], [path_match("/ok")], filters=[_mirror("copy")])])])
    assert problem in proxy.runtime.compiled.describe()["routes"]["default/r"]["rules"]["0"]["problem"]
    assert proxy.request(path="/sampled")[0] == 500
    assert proxy.request(path="/ok")[0] == 200
    until(lambda: echoes["copy"].seen, 5, description="the valid rule's mirror got its copy")
    assert [seen["path"] for seen in echoes["copy"].seen] == ["/ok"]


@pytest.mark.parametrize("timeouts, path, expected", [
    pytest.param({"request": "300ms"}, "/?delay=2", 504, id="request"),
    pytest.param({"backendRequest": "300ms"}, "/?delay=2", 504, id="backend-request"),
    pytest.param({"request": "5s", "backendRequest": "300ms"}, "/?delay=2", 504, id="shorter-wins"),
    pytest.param({"request": "0s"}, "/?delay=0.5", 200, id="zero-disables"),
    pytest.param({"request": "5s"}, "/", 200, id="within"),
])
def test_timeouts(proxy, v1, timeouts, path, expected):
    deploy(proxy, v1, [route("r", [rule([backend("v1")], timeouts=timeouts)])])
    status, _, _ = proxy.request(path=path)
    assert status == expected


def test_unsupported_filter_makes_the_rule_answer_500(proxy, v1):
    deploy(proxy, v1, [route("r", [rule([backend("v1")], filters=[{"type": "ExtensionRef",
                                                                     "extensionRef": {"name": "x"}}])])])
    assert proxy.request()[0] == 500


def test_backend_ref_header_modifiers_apply_to_their_backend_only(proxy, echo_factory):
    echoes = {"v1": echo_factory("v1"), "v2": echo_factory("v2")}
    with_filters = backend("v1", 1)
    with_filters["filters"] = [
        {"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "X-Backend-Filter", "value": "v1"}]}},
        {"type": "ResponseHeaderModifier", "responseHeaderModifier": {"add": [{"name": "X-From", "value": "v1"}]}}]
    deploy(proxy, echoes, [route("r", [rule([with_filters, backend("v2", 1)], filters=[
        {"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "X-Rule", "value": "r"}]}}])])])
    seen = {}

    def both_answered():
        _, headers, data = proxy.request()
        body = json.loads(data)
        seen[body["backend"]] = (body["headers"], headers)
        return len(seen) == 2

    until(both_answered, 10, description="both backends answered")
    v1_request, v1_response = seen["v1"]
    v2_request, v2_response = seen["v2"]
    assert v1_request["x-backend-filter"] == "v1" and v1_request["x-rule"] == "r"
    assert "x-backend-filter" not in v2_request and v2_request["x-rule"] == "r"
    assert v1_response["x-from"] == "v1" and "x-from" not in v2_response


def test_backend_ref_with_unsupported_filter_gets_500(proxy, v1):
    odd = backend("v1")
    odd["filters"] = [{"type": "URLRewrite", "urlRewrite": {"hostname": "x"}}]
    deploy(proxy, v1, [route("r", [rule([odd])])])
    assert proxy.request()[0] == 500
