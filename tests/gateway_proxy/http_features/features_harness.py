"""Backends and helpers for the retry, CORS and session tests: an echo backend that fails on cue.

``FlakyEcho`` answers like ``gw_harness.Echo`` but, for a request naming an ``id``, first fails
``fail`` times with ``code`` (or stalls ``slow`` times for ``stall`` seconds, or closes the
connection without an answer ``cut`` times), counting attempts per id, so a test can say "the backend recovers after two attempts" the way the upstream
conformance backend's retry simulation does. Every attempt is recorded with its arrival time.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest

import gw_harness


class FlakyHandler(gw_harness.EchoHandler):
    def _handle(self):
        query = parse_qs(urlsplit(self.path).query)
        key = query.get("id", [""])[0]
        server = self.server
        with server.lock:
            attempt = server.attempts[key]
            server.attempts[key] += 1
            server.arrivals[key].append(time.monotonic())
        if key and attempt < int(query.get("slow", ["0"])[0]):
            time.sleep(float(query.get("stall", ["2"])[0]))  # a backend that does not answer in time
        if key and attempt < int(query.get("cut", ["0"])[0]):
            self.close_connection = True  # the request arrived; the connection ends with no answer
            return
        if key and attempt < int(query.get("fail", ["0"])[0]):
            # Read whatever body came, in either framing: a socket closed with unread bytes is
            # reset, and the reset could overtake the answer.
            self._body()
            body = f"{server.name} failed attempt {attempt + 1}".encode()
            self.send_response(int(query.get("code", ["503"])[0]))
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Backend", server.name)
            self.end_headers()
            self.wfile.write(body)
            return
        super()._handle()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle


class FlakyEcho(gw_harness.Echo):
    def __init__(self, name: str):
        super().__init__(name)
        self.server.RequestHandlerClass = FlakyHandler
        self.server.lock = threading.Lock()
        self.server.attempts = collections.Counter()
        self.server.arrivals = collections.defaultdict(list)

    def attempts(self, key: str) -> int:
        return self.server.attempts[key]

    def arrivals(self, key: str) -> list[float]:
        return self.server.arrivals[key]


class Dead:
    """A port nothing listens on: connecting to it is refused."""

    def __init__(self):
        self.port = gw_harness.free_port()


def requests_counted(proxy, backend_name: str, code: int, route="r", namespace="default") -> float:
    """``routeshift_gateway_requests_total`` of one backend and status, as /metrics would show it."""
    value = proxy.runtime.metrics.registry.get_sample_value(
        "routeshift_gateway_requests_total",
        {"namespace": namespace, "route": route, "backend_namespace": namespace if backend_name else "",
         "backend": backend_name, "code": str(code)})
    return value or 0.0


def deploy(gw, backends, routes, **kwargs):
    """gw_harness.deploy, and on the C data plane the loop serves the table (no asyncio fallback)."""
    gw_harness.deploy(gw, backends, routes, **kwargs)
    if gw.runtime.plane is not None:
        assert gw.runtime.plane.serving_c is True, gw.runtime.plane.reason


def served_by(name, proxies, c_loop):
    """The proxy a ``gw`` fixture parametrised over "pure", "compiled" and "c-loop" stands for."""
    running = c_loop if name == "c-loop" else proxies.get(name)
    if running is None:
        if os.environ.get("ROUTESHIFT_NO_EXTENSIONS") == "1":
            pytest.skip("compiled hot path not built (ROUTESHIFT_NO_EXTENSIONS=1)")
        pytest.fail("the Cython hot path or data path is not built")
    if name == "c-loop" and running.runtime.plane is None:
        pytest.fail("the C data plane did not start")
    return running
