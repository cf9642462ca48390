"""What the notification tests share: a loopback chat service and the notifier wired to the emulated API.

``Receiver`` stands in for Slack, Teams, Discord, Google Chat or a webhook consumer: a
real HTTP server on 127.0.0.1 that records every POST and answers as a test tells it
(status codes in turn, or holding a request until released, bounded in time).
"""

from __future__ import annotations

import dataclasses
import datetime
import http.server
import json
import threading

from rollouts import actions
from rollouts.notifications.model import NotificationEvent
from rollouts.notifications.notifier import Notifier
from rollouts.reconciler import CanaryObject, Controller

PROVIDERS = "routeshift.dev/v1alpha1/notificationproviders"
HOLD_LIMIT = 30.0  # a held request is answered after this long even if a test forgets to release it


@dataclasses.dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


class Receiver:
    """Records every POST; ``answers[path]`` are the status codes to give in turn (the last repeats)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: dict[str, list[int]] = {}
        self.held: dict[str, threading.Event] = {}  # path -> released; requests there wait for it
        self.waiting: list[str] = []  # paths of requests being held right now
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                release = owner.held.get(self.path)
                if release is not None:
                    owner.waiting.append(self.path)
                    release.wait(HOLD_LIMIT)
                    owner.waiting.remove(self.path)
                codes = owner.answers.get(self.path) or [200]
                code = codes.pop(0) if len(codes) > 1 else codes[0]
                reply = b"ok" if code < 300 else b"invalid_payload"
                self.send_response(code)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       name="chat-receiver", daemon=True)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


def provider(api, name: str, namespace: str = "default", **spec) -> None:
    api.create(PROVIDERS, {"apiVersion": "routeshift.dev/v1alpha1", "kind": "NotificationProvider",
                           "metadata": {"name": name}, "spec": spec}, namespace)


def secret(api, name: str, namespace: str = "default", **data: str) -> None:
    api.create("v1/secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                              "stringData": data}, namespace)


T0 = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)


def notify(event: NotificationEvent = NotificationEvent.PROMOTED, **fields) -> actions.Notify:
    values = dict(event=event, reason="Succeeded", message="release v2 promoted: web-v2 is live", warning=False,
                  phase="Succeeded", release="v2", step=4, steps=5, weight=100, time=T0)
    values.update(fields)
    return actions.Notify(**values)


class Events:
    """Records what the notifier posts as Kubernetes Events (the operator's ``emit``)."""

    def __init__(self) -> None:
        self.posted: list[tuple[str, str, str]] = []

    def __call__(self, kind: str, reason: str, message: str) -> None:
        self.posted.append((kind, reason, message))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclasses.dataclass
class Setup:
    """A controller (real API client against the emulator) with a notifier, and one Canary's identity."""

    controller: Controller
    notifier: Notifier
    clock: Clock
    events: Events
    canary: CanaryObject

    async def send(self, spec, *notices: actions.Notify) -> None:
        """Submit each notice as the reconciler does, then wait for every delivery to finish."""
        tasks = []
        for notice in notices:
            tasks += self.notifier.submit(self.controller, self.canary, spec, notice, self.events)
        for task in tasks:
            await task

    def counter(self, name: str, provider: str) -> float:
        value = self.controller.metrics.registry.get_sample_value(
            f"routeshift_notifications_{name}_total",
            {"namespace": self.canary.namespace, "name": self.canary.name, "provider": provider})
        return value or 0.0


