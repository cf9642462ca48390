"""The HTTPRoute CORS filter over real sockets, in both builds and on the C data plane, with the
upstream conformance cases (``HTTPRouteCORS``, ``CORSAllowCredentialsBehavior``) and the spec's
wording on wildcards. (tests/gateway_proxy/dataplane/test_loop_cors.py compares the C loop's
answers with the asyncio path's byte for byte.)
"""

from __future__ import annotations

import pytest

from features_harness import served_by
from gw_harness import backend, deploy, path_match, route, rule

MULTIPLE = {"allowOrigins": ["https://www.foo.com", "https://*.bar.com"], "allowMethods": ["GET", "OPTIONS"],
            "allowHeaders": ["x-header-1", "x-header-2"], "exposeHeaders": ["x-header-3", "x-header-4"],
            "allowCredentials": True, "maxAge": 3600}
WILDCARD_METHODS = {"allowOrigins": ["https://www.foo.com"], "allowMethods": ["*"]}
WILDCARD_ORIGIN = {"allowOrigins": ["*"], "allowMethods": ["*"], "allowHeaders": ["*"]}
CREDENTIALED_WILDCARDS = {"allowOrigins": ["*"], "allowMethods": ["*"], "allowHeaders": ["*"],
                          "exposeHeaders": ["*"], "allowCredentials": True}


def cors_rule(prefix: str, cors: dict):
    return rule([backend("v1")], [path_match(prefix)], filters=[{"type": "CORS", "cors": cors}])


@pytest.fixture(params=["pure", "compiled", "c-loop"])
def gw(request, proxies, c_loop):
    """The conftest's proxy of each hot-path build, then the C data plane's."""
    return served_by(request.param, proxies, c_loop)


@pytest.fixture
def v1(gw, echo_factory):
    echo = echo_factory("v1")
    deploy(gw, {"v1": echo}, [route("r", [cors_rule("/cors-1", MULTIPLE), cors_rule("/cors-2", WILDCARD_METHODS),
                                          cors_rule("/cors-wildcard-origin", WILDCARD_ORIGIN),
                                          cors_rule("/cors-creds", CREDENTIALED_WILDCARDS)])])
    if gw.runtime.plane is not None:
        assert gw.runtime.plane.serving_c is True, gw.runtime.plane.reason  # the C loop answers, no fallback
    return echo


def preflight(gw, path, origin, method="GET", headers=None):
    fields = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        fields["Access-Control-Request-Headers"] = headers
    return gw.request("OPTIONS", path, headers=fields)


@pytest.mark.parametrize("origin", ["https://www.foo.com", "https://www.bar.com", "https://xpto.www.bar.com"],
                         ids=["exact", "wildcard", "wildcard-spans-labels"])
def test_preflight_from_an_allowed_origin_is_answered_by_the_proxy(gw, v1, origin):
    status, headers, body = preflight(gw, "/cors-1", origin, headers="x-header-1, x-header-2")
    assert (status, body) == (200, b"")
    assert headers["access-control-allow-origin"] == origin
    assert headers["access-control-allow-methods"] == "GET, OPTIONS"
    assert headers["access-control-allow-headers"] == "x-header-1, x-header-2"
    assert headers["access-control-expose-headers"] == "x-header-3, x-header-4"
    assert headers["access-control-max-age"] == "3600"
    assert headers["access-control-allow-credentials"] == "true"
    assert v1.seen == []  # never forwarded


@pytest.mark.parametrize("origin", ["https://foobar.com", "https://bar.com", "http://www.foo.com",
                                    "https://www.foo.com:8443"],
                         ids=["other-host", "wildcard-needs-a-label", "other-scheme", "other-port"])
def test_preflight_from_another_origin_gets_no_cors_fields(gw, v1, origin):
    status, headers, _ = preflight(gw, "/cors-1", origin)
    assert status == 403
    assert not [name for name in headers if name.startswith("access-control-")]
    assert v1.seen == []


def test_default_port_of_the_scheme_matches(gw, v1):
    status, headers, _ = preflight(gw, "/cors-1", "https://www.foo.com:443")
    assert (status, headers["access-control-allow-origin"]) == (200, "https://www.foo.com:443")


def test_wildcard_methods_echo_the_requested_method_without_credentials(gw, v1):
    status, headers, _ = preflight(gw, "/cors-2", "https://www.foo.com", method="POST")
    assert status == 200
    assert headers["access-control-allow-methods"] == "POST"
    assert headers["access-control-allow-origin"] == "https://www.foo.com"
    assert headers["access-control-max-age"] == "5"  # the spec's default
    assert "access-control-allow-credentials" not in headers


@pytest.mark.parametrize("origin", ["https://foobar.com", "https://foobar.com:12345"])
def test_wildcard_origin_allows_any_origin(gw, v1, origin):
    status, headers, _ = preflight(gw, "/cors-wildcard-origin", origin, method="PUT")
    assert (status, headers["access-control-allow-origin"], headers["access-control-allow-methods"]) == (
        200, origin, "PUT")
    status, headers, _ = gw.request("PUT", "/cors-wildcard-origin", headers={"Origin": origin})
    assert (status, headers["access-control-allow-origin"]) == (200, origin)
    assert "access-control-allow-credentials" not in headers


def test_credentials_with_wildcards_echo_never_star(gw, v1):
    status, headers, _ = preflight(gw, "/cors-creds", "https://other.foo.com", method="PUT",
                                   headers="x-header-1, x-header-2")
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://other.foo.com"
    assert headers["access-control-allow-methods"] == "PUT"
    assert headers["access-control-allow-headers"] == "x-header-1, x-header-2"
    assert headers["access-control-allow-credentials"] == "true"
    assert "access-control-expose-headers" not in headers  # '*' is not allowed with credentials
    # The actual request: the exposed headers are the response's own names, never '*'.
    status, headers, _ = gw.request("GET", "/cors-creds?h-X-Custom=1", headers={"Origin": "https://other.foo.com",
                                                                                "Authorization": "Bearer test"})
    assert headers["access-control-allow-origin"] == "https://other.foo.com"
    assert headers["access-control-allow-credentials"] == "true"
    exposed = {name.strip().lower() for name in headers["access-control-expose-headers"].split(",")}
    assert {"x-custom", "x-backend", "content-type"} <= exposed and "*" not in exposed


def test_simple_request_from_an_allowed_origin_gets_the_fields_and_reaches_the_backend(gw, v1):
    status, headers, _ = gw.request("GET", "/cors-1", headers={"Origin": "https://www.bar.com"})
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://www.bar.com"
    assert headers["access-control-allow-credentials"] == "true"
    assert headers["access-control-expose-headers"] == "x-header-3, x-header-4"
    assert "Origin" in headers["vary"]
    assert [seen["path"] for seen in v1.seen] == ["/cors-1"]


def test_the_filter_owns_the_fields_a_backend_sends(gw, v1):
    # The backend answers Access-Control-Allow-Origin: * (h- query parameters become response headers).
    path = "/cors-1?h-Access-Control-Allow-Origin=*"
    status, headers, _ = gw.request("GET", path, headers={"Origin": "https://evil.example"})
    assert status == 200
    assert "access-control-allow-origin" not in headers  # a disallowed origin is not let through
    status, headers, _ = gw.request("GET", path, headers={"Origin": "https://www.foo.com"})
    assert headers["access-control-allow-origin"] == "https://www.foo.com"


def test_without_origin_a_request_is_not_cors(gw, v1):
    status, headers, _ = gw.request("OPTIONS", "/cors-1")  # a plain OPTIONS goes to the backend
    assert status == 200
    assert not [name for name in headers if name.startswith("access-control-")]
    assert [seen["method"] for seen in v1.seen] == ["OPTIONS"]
