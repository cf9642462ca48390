"""What the opt-in C data plane does not serve: a retry whose backendRefs carry their own
RequestHeaderModifier (a retry to another backend would need another request head), and session
persistence in a build without OpenSSL's headers (its token is an HMAC: loop_sessions is then not
built, which this test stands in for by telling the worker so). A table using either is served by
the asyncio path on the same socket, with one log line saying why, and the C loop takes over again
once the table no longer needs them. (RequestMirror, CORS, other retries and session persistence
it serves itself: dataplane/test_loop_mirrors.py, test_loop_cors.py, test_loop_retries.py,
test_loop_sessions.py.)
"""

from __future__ import annotations

import logging
import os

import pytest

import gw_harness as g
from gateway_proxy import hotpath


@pytest.fixture
def c_proxy(monkeypatch, tmp_path):
    build = hotpath.compiled()
    if build is None:
        if os.environ.get("ROUTESHIFT_NO_EXTENSIONS") == "1":
            pytest.skip("compiled build not built (ROUTESHIFT_NO_EXTENSIONS=1)")
        pytest.fail("the compiled build is required for the C data plane")
    monkeypatch.setenv("ROUTESHIFT_DATA_PLANE", "c")
    running = g.Proxy(build, str(tmp_path)).start()
    if running.runtime.plane is None:
        running.stop()
        pytest.fail("the C data plane did not start")
    yield running
    running.stop()


_OWN_FILTER = [{"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "X-To", "value": "v1"}]}}]
FEATURES = [
    pytest.param({"retry": {"codes": [503], "attempts": 1}, "backendRefs": [dict(g.backend("v1"), filters=_OWN_FILTER)]},
                 "retry with a backendRef RequestHeaderModifier", id="retry-with-a-backend-filter"),
    pytest.param({"sessionPersistence": {"sessionName": "s"}}, "sessionPersistence", id="session-without-openssl"),
]


@pytest.mark.parametrize("extra, named", FEATURES)
def test_a_table_using_the_feature_is_served_by_asyncio_and_back(c_proxy, echo_factory, caplog, monkeypatch, extra,
                                                                 named):
    if named == "sessionPersistence":
        from gateway_proxy.dataplane import loop as c_loop  # built: c_proxy started it
        monkeypatch.setattr(c_loop, "serves_sessions", lambda: False)  # as in a build without loop_sessions
    plane = c_proxy.runtime.plane
    echoes = {"v1": echo_factory("v1")}
    g.deploy(c_proxy, echoes, [g.route("r", [g.rule([g.backend("v1")])])])
    assert plane.serving_c is True
    item = g.rule([g.backend("v1")])
    item.update(extra)
    with caplog.at_level(logging.INFO, logger="gateway_proxy"):
        g.deploy(c_proxy, echoes, [g.route("r", [item])])
    assert plane.serving_c is False
    assert any(named in record.getMessage() and "asyncio path serves" in record.getMessage()
               for record in caplog.records)
    served_by_c = plane.loop.stats[1]
    status, headers, _ = c_proxy.request(headers={"Origin": "https://a.com"})
    assert status == 200
    assert plane.loop.stats[1] == served_by_c  # the asyncio path answered, with the feature:
    if named == "sessionPersistence":
        assert headers["set-cookie"].startswith("s=")
    g.deploy(c_proxy, echoes, [g.route("r", [g.rule([g.backend("v1")])])])
    assert plane.serving_c is True
