"""Every numbered example in examples/, applied with kubectl and driven to its documented end state.

One full stack for the module (the API emulator process, the controller process, the
gateway proxy in ``--kubernetes`` mode, two demo apps, a real Prometheus scraping every
second, live load through the proxy); each example gets a fresh Canary and route in the
namespace ``examples`` and is deleted again afterwards. The test supplies what a cluster
would (docs/examples.md):

- the examples' Gateway (``examples/gateway.yaml``) and, for the Services of
  ``examples/01-canary-steps/route.yaml``, the EndpointSlices a cluster's endpoint
  controller would write: podinfo-v1 is the demo app "blue", podinfo-v2 the app "green";
- intervals shortened like ``routeshift demo --speed``: the analysis interval becomes 3 s
  and every other duration, the sample floor and the progress deadline shrink by the same
  factor (:func:`accelerate`);
- webhook URLs pointing at a receiver on 127.0.0.1 that this module runs (:class:`Receiver`).

Each test then drives its example the way a person or pipeline would (a release patch,
``kubectl canary resume/promote/wait``, webhook answers, preview traffic) and checks the end
state in three places: the Canary status, the HTTPRoute the controller wrote (weights, its
own rules and filters gone again, the user's filter untouched), and the traffic the proxy
actually served.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import json
import math
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml

from analysis import durations, webhooks
from routeshift.demo import load as load_generation
from routeshift.demo.stack import Stack
from routeshift.testing.polling import until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
ROUTE_YAML = EXAMPLES / "01-canary-steps" / "route.yaml"
NAMESPACE = "examples"
HOST = "podinfo.example.com"  # the hostname of the examples' HTTPRoute
ROUTE = "podinfo"
STABLE, CANARY = "podinfo-v1", "podinfo-v2"
INTERVAL = 3  # seconds: the analysis interval every example runs with here
RATE = 100.0  # requests per second of the users' load through the gateway
ROLLOUT_TIMEOUT = 90


# --------------------------------------------------------------------------- what the test supplies


def accelerate(canary: dict) -> dict:
    """The Canary with its clock shortened: analysis interval 3 s, everything else scaled alike."""
    canary = copy.deepcopy(canary)
    spec = canary["spec"]
    analysis = spec.setdefault("analysis", {})
    factor = durations.seconds(analysis.get("interval", "1m")) / INTERVAL

    def scaled(duration: str) -> str:
        return f"{max(INTERVAL, round(durations.seconds(duration) / factor))}s"

    analysis["interval"] = f"{INTERVAL}s"
    analysis["holdDeadline"] = scaled(analysis.get("holdDeadline", "10m"))
    # A window 20 times shorter holds 20 times fewer requests at the same rate.
    analysis["minSampleSize"] = max(5, round(analysis.get("minSampleSize", 50) / factor))
    for metric in analysis.get("metrics", []):
        if "interval" in metric:
            metric["interval"] = scaled(metric["interval"])
    for pause in (spec.get("strategy") or {}).get("progressive", {}).get("pauses", []):
        if "duration" in pause:
            pause["duration"] = scaled(pause["duration"])
    spec["progressDeadlineSeconds"] = max(60, round(spec.get("progressDeadlineSeconds", 600) / factor))
    return canary


def endpoint_slice(service: str, port: int) -> dict:
    """What the cluster's EndpointSlice controller would write for a Service's (one) ready pod."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": f"{service}-local", "namespace": NAMESPACE,
                     "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
    }


class Receiver:
    """The webhook receiver the examples' hooks are pointed at: records calls, answers as told."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.answers: dict[str, int] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.calls.append({"path": self.path, "headers": dict(self.headers), "raw": body,
                                           "body": json.loads(body)})
                    status = receiver.answers.get(self.path, 200)
                reply = b"ok" if status < 300 else b"not now"
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="webhook-receiver", daemon=True)

    def answer(self, path: str, status: int) -> None:
        with self._lock:
            self.answers[path] = status

    def received(self, hook_type: str) -> list[dict]:
        with self._lock:
            return [call for call in self.calls if call["body"]["type"] == hook_type]

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.answers.clear()


def point_hooks_at(canary: dict, receiver: Receiver) -> dict:
    """Each webhook URL with its host replaced by the receiver's (the path says which hook)."""
    for hook in canary["spec"].get("analysis", {}).get("webhooks", []):
        hook["url"] = receiver.url + urllib.parse.urlsplit(hook["url"]).path
    return canary


class Load:
    """A demo LoadGenerator running in its own thread and event loop; counts replies by version."""

    def __init__(self, gateway: str, *, path: str = "/", headers: dict[str, str] | None = None,
                 rate: float = RATE, host: str = HOST) -> None:
        self.generator = load_generation.LoadGenerator(
            gateway + path, host=host, rate=rate, preview_headers=headers, preview_share=1.0 if headers else 0.0)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="load", daemon=True)

    def __enter__(self) -> "Load":
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._call(self.generator.start), self.loop).result(5)
        return self

    def __exit__(self, *exc_info) -> None:
        asyncio.run_coroutine_threadsafe(self.generator.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    @staticmethod
    async def _call(function):
        return function()

    def take(self) -> load_generation.Tally:
        return asyncio.run_coroutine_threadsafe(self._call(self.generator.tally.take), self.loop).result(5)

    def sample(self, replies: int, timeout: float = 30) -> collections.Counter:
        """Replies counted per version from now on, until there are at least ``replies``."""
        self.take()
        seen: collections.Counter = collections.Counter()

        def enough():
            seen.update(self.take().by_version)
            return sum(seen.values()) >= replies

        until(enough, timeout, interval=0.2, description=f"{replies} replies through the gateway")
        return seen


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("examples-stack"), log=lambda line: None,
                  controller_namespaces=("demo", NAMESPACE))
    try:
        stack.start()
        stack.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}])
        stack.kubectl("apply", "-n", NAMESPACE, "-f", str(EXAMPLES / "gateway.yaml"))
        blue, green = stack.backends["blue"], stack.backends["green"]
        stack.apply([endpoint_slice(STABLE, blue.port), endpoint_slice(CANARY, green.port)])
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def receiver():
    receiver = Receiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
    receiver.thread.join(10)


@pytest.fixture(scope="module")
def users(stack):
    """The users' steady traffic: plain requests, no preview header, no beta cookie."""
    with Load(stack.endpoints.gateway) as load:
        yield load


@pytest.fixture(autouse=True)
def fresh_example(stack, receiver, users):
    """The Services and the route as a user wrote them; every Canary deleted afterwards."""
    stack.set_app("podinfo-blue", version="v1", errorRate=0, latencyMs=0)
    stack.set_app("podinfo-green", version="v2", errorRate=0, latencyMs=0)
    stack.kubectl("apply", "-n", NAMESPACE, "-f", str(ROUTE_YAML))
    until(lambda: accepted(route(stack)), 20, interval=0.1, description="the examples' route accepted")
    yield
    # Deleting a Canary hands all traffic to its live backend before the finalizer goes.
    stack.kubectl("delete", "canaries", "--all", "-n", NAMESPACE, "--wait=true", "--timeout=60s")
    stack.kubectl("delete", "httproute", ROUTE, "-n", NAMESPACE, "--wait=true", "--timeout=30s")
    receiver.reset()


# --------------------------------------------------------------------------- helpers


def documents(*paths: Path) -> list[dict]:
    return [doc for path in paths for doc in yaml.safe_load_all(path.read_text()) if doc]


def apply_example(stack: Stack, name: str, receiver: Receiver | None = None) -> str:
    """kubectl apply the example's manifests as the test supplies them; returns the Canary's name."""
    docs = []
    for doc in documents(*sorted((EXAMPLES / name).glob("*.yaml"))):
        if doc["kind"] == "Canary":
            doc = accelerate(doc)
            if receiver is not None:
                doc = point_hooks_at(doc, receiver)
        docs.append(doc)
    stack.kubectl("apply", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump_all(docs, sort_keys=False))
    return next(doc["metadata"]["name"] for doc in docs if doc["kind"] == "Canary")


def canary(stack: Stack, name: str) -> dict:
    return json.loads(stack.kubectl("get", "canary", name, "-n", NAMESPACE, "-o", "json").stdout)


def status_of(stack: Stack, name: str) -> dict:
    return canary(stack, name).get("status") or {}


def wait_for(stack: Stack, name: str, predicate, description: str, timeout: float = ROLLOUT_TIMEOUT) -> dict:
    def check():
        status = status_of(stack, name)
        return status if predicate(status) else None

    return until(check, timeout, interval=0.25, description=description)


def route(stack: Stack) -> dict:
    return json.loads(stack.kubectl("get", "httproute", ROUTE, "-n", NAMESPACE, "-o", "json").stdout)


def accepted(route_: dict) -> bool:
    parents = (route_.get("status") or {}).get("parents") or []
    generation = route_["metadata"]["generation"]
    return bool(parents) and all(
        any(c["type"] == "Accepted" and c["status"] == "True" and c.get("observedGeneration") == generation
            for c in parent.get("conditions", []))
        for parent in parents)


def user_rules(route_: dict) -> list[dict]:
    return [rule for rule in route_["spec"]["rules"] if not str(rule.get("name", "")).startswith("routeshift-")]


def controller_rules(route_: dict) -> list[dict]:
    return [rule for rule in route_["spec"]["rules"] if str(rule.get("name", "")).startswith("routeshift-")]


def route_weights(route_: dict) -> dict[str, int]:
    [rule] = user_rules(route_)
    return {ref["name"]: ref["weight"] for ref in rule["backendRefs"]}


def assert_route_hands_all_traffic_to(route_: dict, live: str, idle: str) -> None:
    """The final shape: weights only, the controller's rules and mirror gone, the user's filter kept."""
    assert route_weights(route_) == {live: 100, idle: 0}
    assert controller_rules(route_) == []
    [rule] = user_rules(route_)
    assert rule["filters"] == [{"type": "RequestHeaderModifier",
                                "requestHeaderModifier": {"add": [{"name": "x-served-by", "value": "routeshift"}]}}]
    assert accepted(route_)


def plugin(stack: Stack, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``kubectl canary ...`` as a person types it (the plugin executable kubectl runs)."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("kubectl-canary")), *args, "-n", NAMESPACE],
        capture_output=True, text=True, timeout=timeout,
        env={"PATH": str(Path(sys.executable).parent), "KUBECONFIG": str(stack.endpoints.kubeconfig)})


def wait_rollout(stack: Stack, name: str) -> subprocess.CompletedProcess:
    return plugin(stack, "wait", name, "--timeout", f"{ROLLOUT_TIMEOUT}s")


def judged_weights(status: dict) -> list[int]:
    """Canary weights at which an analysis interval was Successful, in order, without repeats."""
    weights = [d["weight"] for d in status["decisions"] if d.get("verdict") == "Successful"]
    return [w for i, w in enumerate(weights) if i == 0 or weights[i - 1] != w]


def assert_share(counts: collections.Counter, version: str, weight: int) -> None:
    total = sum(counts.values())
    share, expected = counts[version] / total, weight / 100
    tolerance = max(0.03, 4 * math.sqrt(expected * (1 - expected) / total))
    assert abs(share - expected) <= tolerance, f"{version} answered {share:.3f} of {total} at weight {weight}"


def probe(stack: Stack, *, path: str = "/", headers: dict[str, str] | None = None, n: int = 20) -> set[str]:
    """Versions that answered ``n`` requests sent through the gateway."""
    with httpx.Client(base_url=stack.endpoints.gateway, timeout=5) as client:
        return {client.get(path, headers={"Host": HOST, **(headers or {})}).headers.get("x-demo-version")
                for _ in range(n)}


def served(stack: Stack, service: str) -> int:
    return httpx.get(f"{stack.endpoints.apps[service]}/healthz", timeout=5).json()["served"]


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


# --------------------------------------------------------------------------- the examples

TESTED = {}  # example directory -> the test driving it (checked by test_every_example_is_driven)


def drives(example: str):
    def register(test):
        TESTED[example] = test.__name__
        return test
    return register


@drives("01-canary-steps")
def test_01_canary_steps_promote_through_5_10_20_50_to_100(stack, users):
    name = apply_example(stack, "01-canary-steps")
    ok(wait_rollout(stack, name))
    status = status_of(stack, name)
    assert (status["phase"], status["result"], status["release"]) == ("Succeeded", "succeeded", "1.1.0")
    assert judged_weights(status) == [5, 10, 20, 50]
    judged = [d for d in status["decisions"] if d.get("verdict") == "Successful"]
    assert all({m["metric"] for m in d["metrics"]} == {"request-success-rate", "request-duration-p99"}
               for d in judged)
    assert_route_hands_all_traffic_to(route(stack), CANARY, STABLE)
    assert users.sample(200).keys() == {"v2"}


@drives("02-blue-green")
def test_02_blue_green_previews_green_then_swaps_in_one_write(stack, users):
    with Load(stack.endpoints.gateway, headers={"x-preview": "green"}, rate=30):
        name = apply_example(stack, "02-blue-green")
        until(lambda: controller_rules(route(stack)) and accepted(route(stack)), 30, interval=0.2,
              description="the preview rule in the route")
        assert status_of(stack, name)["phase"] == "Progressing"
        # Testers with the header reach green; users stay on blue until the swap.
        assert probe(stack, headers={"x-preview": "green"}) == {"v2"}
        assert users.sample(150).keys() == {"v1"}
        assert route_weights(route(stack)) == {STABLE: 100, CANARY: 0}
        ok(wait_rollout(stack, name))
    status = status_of(stack, name)
    assert status["phase"] == "Succeeded"
    preview = [d for d in status["decisions"] if d["step"] == 0 and d.get("verdict") == "Successful"]
    assert len(preview) == 3 and all(d["weight"] == 0 for d in preview)
    assert_route_hands_all_traffic_to(route(stack), CANARY, STABLE)
    assert users.sample(200).keys() == {"v2"}


@drives("03-ab-testing")
def test_03_ab_testing_sends_beta_users_to_the_canary_then_promotes(stack, users, receiver):
    with Load(stack.endpoints.gateway, path="/?variant=b", headers={"Cookie": "lang=en; group=beta"}, rate=30):
        name = apply_example(stack, "03-ab-testing", receiver)
        until(lambda: controller_rules(route(stack)) and accepted(route(stack)), 30, interval=0.2,
              description="the A/B rule in the route")
        assert probe(stack, path="/?variant=b", headers={"Cookie": "group=beta"}) == {"v2"}
        # Every condition must hold: the cookie alone or the query alone is not the beta group.
        assert probe(stack, path="/?variant=b") == {"v1"}
        assert probe(stack, headers={"Cookie": "group=beta"}) == {"v1"}
        assert users.sample(150).keys() == {"v1"}
        ok(wait_rollout(stack, name))
    status = status_of(stack, name)
    assert status["phase"] == "Succeeded"
    assert len([d for d in status["decisions"] if d["step"] == 0 and d.get("verdict") == "Successful"]) == 5
    assert_route_hands_all_traffic_to(route(stack), CANARY, STABLE)
    assert users.sample(200).keys() == {"v2"}
    # The event hook heard the whole story.
    def told_of_success():
        reasons = [call["body"]["reason"] for call in receiver.received("event")]
        return reasons if "Succeeded" in reasons else None

    reasons = until(told_of_success, 10, description="the Succeeded event at the event hook")
    assert reasons[0] == "RolloutStarted"
    assert {c["body"]["name"] for c in receiver.received("event")} == {name}


@drives("04-mirror-then-steps")
def test_04_mirror_then_steps_with_a_manual_gate_at_30(stack, users):
    name = apply_example(stack, "04-mirror-then-steps")

    def mirroring():
        route_ = route(stack)
        [rule] = user_rules(route_)
        return accepted(route_) and any(f["type"] == "RequestMirror" for f in rule.get("filters", []))

    until(mirroring, 30, interval=0.2, description="the RequestMirror filter in the route")
    before = served(stack, "podinfo-green")
    # Users get stable's answers only, while every request's copy reaches the canary app.
    sample = users.sample(150)
    assert sample.keys() == {"v1"}
    assert served(stack, "podinfo-green") - before >= sum(sample.values()) // 2
    status = wait_for(stack, name, lambda s: s.get("phase") == "Paused" and s["weights"]["canary"] == 30,
                      "the manual pause at 30%")
    assert "manual pause at 30%" in status["message"]
    assert route_weights(route(stack)) == {STABLE: 70, CANARY: 30}
    ok(plugin(stack, "resume", name))
    ok(wait_rollout(stack, name))
    status = status_of(stack, name)
    assert status["phase"] == "Succeeded"
    assert judged_weights(status)[-5:] == [10, 20, 30, 40, 50]
    assert any(d["reason"].startswith("pause 6s at 50% elapsed") for d in status["decisions"])
    assert_route_hands_all_traffic_to(route(stack), CANARY, STABLE)
    assert users.sample(200).keys() == {"v2"}


@drives("05-custom-promql")
def test_05_custom_promql_promotes_a_healthy_release_and_rolls_back_a_failing_one(stack, users):
    name = apply_example(stack, "05-custom-promql")
    ok(wait_rollout(stack, name))
    status = status_of(stack, name)
    assert status["phase"] == "Succeeded"
    assert judged_weights(status) == [10, 50]
    for decision in (d for d in status["decisions"] if d.get("verdict") == "Successful"):
        values = {m["metric"]: m["value"] for m in decision["metrics"]}
        assert values.keys() == {"canary-5xx-percent", "canary-vs-stable-5xx"}
        assert values["canary-5xx-percent"] == 0
    # The next release, deployed to the now idle blue app, answers 20 % of requests with 500.
    stack.set_app("podinfo-blue", version="v3", errorRate=0.2)
    stack.kubectl("patch", "canary", name, "-n", NAMESPACE, "--type", "merge", "-p", json.dumps({"spec": {
        "release": "1.2.0", "stable": {"name": CANARY, "port": 9898}, "canary": {"name": STABLE, "port": 9898}}}))
    failed = wait_rollout(stack, name)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    status = status_of(stack, name)
    assert (status["phase"], status["result"], status["release"]) == ("Failed", "failed", "1.2.0")
    # The decision that started the rollback carries the failed verdict; holds while the
    # gateway accepts the restored weights may be logged after it.
    rollback = next(d for d in reversed(status["decisions"])
                    if d["phase"] == "RollingBack" and d.get("verdict") == "Failed")
    assert "canary-5xx-percent" in rollback["reason"]
    [failing] = [m for m in rollback["metrics"] if m["metric"] == "canary-5xx-percent"]
    assert failing["verdict"] == "Failed" and failing["value"] > 1
    assert_route_hands_all_traffic_to(route(stack), CANARY, STABLE)
    assert users.sample(200).keys() == {"v2"}


@drives("06-webhooks")
def test_06_webhooks_gate_the_promotion_and_a_kill_switch_rolls_back(stack, users, receiver):
    secret = next(doc for doc in documents(EXAMPLES / "06-webhooks" / "hooks-secret.yaml"))["stringData"]["hmac"]
    receiver.answer("/approve", 403)  # the release manager has not approved yet
    receiver.answer("/rollback", 404)  # the kill switch is off: "no rollback"
    name = apply_example(stack, "06-webhooks", receiver)
    status = wait_for(stack, name, lambda s: s.get("phase") == "WaitingPromotion", "waiting for the approval")
    assert status["weights"] == {"stable": 50, "canary": 50}
    assert route_weights(route(stack)) == {STABLE: 50, CANARY: 50}
    assert_share(users.sample(400), "v2", 50)
    # Asked again every interval, and still waiting while the answer is no.
    until(lambda: len(receiver.received("confirm-promotion")) >= 2, 20, description="approval asked again")
    assert status_of(stack, name)["phase"] == "WaitingPromotion"
    [smoke, *_] = receiver.received("pre-rollout")
    assert smoke["body"]["weight"] == 0 and smoke["path"] == "/smoke"
    approval = receiver.received("confirm-promotion")[-1]
    assert approval["body"] == {
        "name": name, "namespace": NAMESPACE, "phase": "WaitingPromotion", "release": "1.1.0", "step": 2,
        "type": "confirm-promotion", "weight": 50, "metadata": {"team": "web"}}
    assert webhooks.verify(approval["raw"], secret, approval["headers"]["X-Routeshift-Signature"])
    assert approval["headers"]["X-Routeshift-Webhook"] == "release-approval"

    receiver.answer("/approve", 200)
    ok(wait_rollout(stack, name))
    assert_route_hands_all_traffic_to(route(stack), CANARY, STABLE)
    until(lambda: [c["body"]["reason"] for c in receiver.received("post-rollout")] == ["Promoted"], 10,
          description="the post-rollout hook told of the promotion")
    assert "Succeeded" in [c["body"]["reason"] for c in receiver.received("event")]

    # Release 1.2.0 on the idle blue app; the kill switch is thrown once it serves users.
    receiver.answer("/approve", 403)
    stack.set_app("podinfo-blue", version="v3")
    stack.kubectl("patch", "canary", name, "-n", NAMESPACE, "--type", "merge", "-p", json.dumps({"spec": {
        "release": "1.2.0", "stable": {"name": CANARY, "port": 9898}, "canary": {"name": STABLE, "port": 9898}}}))
    wait_for(stack, name, lambda s: s.get("release") == "1.2.0" and s["weights"]["canary"] == 20
             and s.get("stepSettledAt"), "release 1.2.0 at 20%")
    receiver.answer("/rollback", 200)
    failed = wait_rollout(stack, name)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    status = status_of(stack, name)
    assert (status["phase"], status["result"]) == ("Failed", "failed")
    assert any("rollback webhook kill-switch" in d["reason"] for d in status["decisions"])
    assert_route_hands_all_traffic_to(route(stack), CANARY, STABLE)
    assert users.sample(200).keys() == {"v2"}


@drives("07-manual-gate")
def test_07_manual_gates_hold_until_resume_and_promote(stack, users):
    name = apply_example(stack, "07-manual-gate")
    status = wait_for(stack, name, lambda s: s.get("phase") == "Paused" and s["weights"]["canary"] == 10,
                      "the manual gate after 10%")
    assert judged_weights(status) == [10]  # analysed before the gate
    # Held: the users' split stays at 10 % for longer than an analysis interval.
    assert_share(users.sample(400), "v2", 10)
    held = status_of(stack, name)
    assert (held["phase"], held["step"], held["weights"]["canary"]) == ("Paused", status["step"], 10)
    ok(plugin(stack, "resume", name))
    status = wait_for(stack, name, lambda s: s.get("phase") == "Paused" and s["weights"]["canary"] == 50,
                      "the manual gate after 50%")
    assert judged_weights(status) == [10, 50]
    assert route_weights(route(stack)) == {STABLE: 50, CANARY: 50}
    ok(plugin(stack, "promote", name))
    ok(wait_rollout(stack, name))
    status = status_of(stack, name)
    assert status["phase"] == "Succeeded"
    assert {"resume", "promote"} <= status["handledOperations"].keys()
    assert_route_hands_all_traffic_to(route(stack), CANARY, STABLE)
    assert users.sample(200).keys() == {"v2"}


SHOP_HOST = "shop.example.com"  # the hostname of example 08's own route
DEMO_APP = "ghcr.io/routeshift/demo-app"


def shop(stack: Stack, kind: str, name: str) -> dict | None:
    result = stack.kubectl("get", kind, name, "-n", NAMESPACE, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


@drives("08-workload-set-image")
def test_08_workload_set_image_promotes_and_a_bad_config_is_rolled_back(stack):
    """Example 08 brings its own app: a Deployment whose Pods the emulator's kubelet runs as
    processes, a Service whose EndpointSlices its controller writes, and a route of its own."""
    name = apply_example(stack, "08-workload-set-image")
    try:
        with Load(stack.endpoints.gateway, host=SHOP_HOST) as shoppers:
            wait_for(stack, name, lambda s: s.get("phase") == "Initialized", "initialization")
            assert shoppers.sample(100).keys() == {"v1"}
            assert shop(stack, "configmap", "shop-config-primary")["data"] == {"ERROR_RATE": "0"}

            stack.kubectl("set", "image", "deployment/shop", f"app={DEMO_APP}:v2", "-n", NAMESPACE)
            ok(wait_rollout(stack, name))
            status = status_of(stack, name)
            assert (status["phase"], status["workload"]["images"]) == ("Succeeded", {"app": f"{DEMO_APP}:v2"})
            assert judged_weights(status) == [5, 10, 20, 50]
            assert shoppers.sample(200).keys() == {"v2"}

            stack.kubectl("patch", "configmap", "shop-config", "-n", NAMESPACE, "--type", "merge",
                          "-p", json.dumps({"data": {"ERROR_RATE": "0.2"}}))
            failed = wait_rollout(stack, name)
            assert failed.returncode == 1, failed.stdout + failed.stderr
            status = status_of(stack, name)
            assert status["phase"] == "Failed" and "request-success-rate" in status["workload"]["failed"]["reason"]
            assert status["workload"]["images"] == {"app": f"{DEMO_APP}:v2"}, "the primary still runs v2"
            assert shop(stack, "configmap", "shop-config-primary")["data"] == {"ERROR_RATE": "0"}
            assert shoppers.sample(200).keys() == {"v2"}
        stack.kubectl("delete", "canary", name, "-n", NAMESPACE, "--wait=true", "--timeout=60s")
        [rule] = shop(stack, "httproute", "shop")["spec"]["rules"]
        assert rule["backendRefs"] == [{"name": "shop", "port": 9898}], "the user's backendRef is back"
        assert shop(stack, "deployment", "shop")["spec"]["replicas"] == 2
        assert all(shop(stack, kind, gone) is None for kind, gone in (
            ("deployment", "shop-primary"), ("service", "shop-primary"), ("service", "shop-canary"),
            ("configmap", "shop-config-primary")))
    finally:
        stack.kubectl("delete", "-n", NAMESPACE, "--wait=true", "--timeout=60s", "--ignore-not-found",
                      "-f", str(EXAMPLES / "08-workload-set-image" / "app.yaml"))


def test_every_example_is_driven_and_lints_clean():
    numbered = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir() and p.name[:2].isdigit())
    assert numbered == sorted(TESTED), "every numbered example needs a test here"
    for example in numbered:
        assert (EXAMPLES / example / "README.md").exists(), example
        result = subprocess.run([str(Path(sys.executable).with_name("kubectl-canary")), "lint", "-f",
                                 str(EXAMPLES / example)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
