"""Gating and notification webhooks, called for real over HTTP by the running operator."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from operator_harness import CANARIES, ScriptedAnalysis, canary, phase
from routeshift.testing.polling import until


class HookServer:
    """A loopback HTTP receiver: records every POST; ``approve`` decides confirm-promotion's answer."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.approve = False
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.calls.append((self.path, body))
                code = 200 if self.path != "/confirm" or owner.approve else 403
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def paths(self) -> list[str]:
        return [path for path, _ in self.calls]


@pytest.fixture
def hooks():
    server = HookServer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_pre_rollout_confirm_promotion_and_event_hooks(cluster, gateway, start, hooks):
    start(ScriptedAnalysis(gateway=gateway))
    analysis = {"interval": "100ms", "webhooks": [
        {"name": "smoke", "type": "pre-rollout", "url": f"{hooks.url}/pre"},
        {"name": "release-manager", "type": "confirm-promotion", "url": f"{hooks.url}/confirm"},
        {"name": "chat", "type": "event", "url": f"{hooks.url}/event"},
    ]}
    cluster.create(CANARIES, canary(analysis=analysis, strategy={"progressive": {"steps": [50]}}), "default")
    until(lambda: phase(cluster) == "WaitingPromotion", timeout=15, description="waiting for confirmation")
    assert gateway.seen == [(100, 0), (50, 50)]
    until(lambda: "/confirm" in hooks.paths(), timeout=15, description="confirm-promotion asked")
    # The pre-rollout gate is awaited, event notifications are fire and forget: either may land first.
    assert hooks.paths().index("/pre") < hooks.paths().index("/confirm")
    hooks.approve = True
    until(lambda: phase(cluster) == "Succeeded", timeout=15, description="promoted after confirmation")
    assert gateway.seen[-1] == (0, 100)

    def events():
        return [body for path, body in hooks.calls if path == "/event"]

    # Notifications are fire and forget: the last one may land a moment after the status.
    until(lambda: "Succeeded" in {body["reason"] for body in events()}, timeout=10, description="notified")
    assert events()[0]["reason"] == "RolloutStarted"
    assert all(body["name"] == "web" and body["namespace"] == "default" and body["type"] == "event"
               for body in events())


def test_a_signed_hook_whose_secret_is_missing_is_never_called_unsigned(cluster, gateway, start, hooks):
    start(ScriptedAnalysis(gateway=gateway))
    secret_ref = {"name": "hook-signing", "key": "hmac"}
    analysis = {"interval": "100ms", "webhooks": [
        {"name": "smoke", "type": "pre-rollout", "url": f"{hooks.url}/pre", "secretRef": secret_ref},
        {"name": "chat", "type": "event", "url": f"{hooks.url}/event", "secretRef": secret_ref},
    ]}
    cluster.create(CANARIES, canary(analysis=analysis, strategy={"progressive": {"steps": [50]}}), "default")

    def held_by_the_missing_key():
        status = (cluster.get(CANARIES, "default", "web") or {}).get("status") or {}
        return "signing key 'hmac' of Secret 'hook-signing' not found" in status.get("message", "")

    until(held_by_the_missing_key, timeout=15, description="pre-rollout held on the missing key")
    assert hooks.calls == []
    assert gateway.seen == [(100, 0)], "no traffic moves while the pre-rollout gate cannot be asked"
    cluster.create("v1/secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hook-signing"},
                                  "stringData": {"hmac": "s3cret"}}, "default")
    until(lambda: "/pre" in hooks.paths(), timeout=15, description="asked once the key exists")
