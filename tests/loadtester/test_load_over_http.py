"""The loadtester over real HTTP: the controller's webhook calls in, a local target receives the load.

Every run here is short (a second at most) or is stopped with the loadtester at the end of
its test, and every wait polls with a generous deadline; assertions are on counts that
arrived at the target and on what the replies say, never on how long something took.
"""

from __future__ import annotations

import httpx
import pytest

from analysis import WebhookSpec, call_webhook, webhooks
from routeshift.loadtester import spec
from routeshift.testing.polling import until_async

PAYLOAD = {"name": "web", "namespace": "shop", "phase": "Progressing", "weight": 10, "step": 1}


def hook(url: str, metadata: dict[str, str], **fields) -> WebhookSpec:
    return WebhookSpec.model_validate({"name": "load-test", "type": "rollout", "url": url, "timeout": "30s",
                                       "metadata": metadata, **fields})


async def post(url: str, metadata: dict[str, str], *, secret: str | None = None, canary: str = "web") -> httpx.Response:
    """POST exactly what the controller posts, returning the whole reply (call_webhook keeps one line of it)."""
    body = webhooks.encode(webhooks.build_payload(hook(url, metadata), {**PAYLOAD, "name": canary}))
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[webhooks.SIGNATURE_HEADER] = webhooks.sign(body, secret)
    async with httpx.AsyncClient(trust_env=False) as client:
        return await client.post(url + "/", content=body, headers=headers, timeout=30)


async def test_a_rollout_hook_sends_the_load_it_describes(loadtester, target, all_finished):
    lt = await loadtester()
    load = {"url": target.url, "rate": "40", "duration": "500ms", "concurrency": "20", "method": "POST",
            "headers": "Host: web.example.com\nX-Load: yes", "body": '{"ping":1}'}
    first = await post(lt, load)
    assert first.status_code == 200
    reply = first.json()
    assert (reply["started"], reply["state"], reply["canary"]) == (True, "running", "shop/web")
    assert reply["summary"].startswith("started 40 req/s for 0.5s")
    await all_finished(lt)
    # Exactly rate × duration requests, each as described.
    assert len(target.received) == 20
    assert {(m, p, h["Host"], h["X-Load"], b) for m, p, h, b in target.received} == {
        ("POST", "/work", "web.example.com", "yes", b'{"ping":1}')}
    # The next interval's call starts the next run and reports how the last one ended.
    second = (await post(lt, load)).json()
    assert second["started"] is True
    previous = second["previous"]
    assert (previous["planned"], previous["sent"], previous["responses"], previous["errors"]) == (20, 20, {"2xx": 20}, {})
    assert previous["latencyMs"]["p99"] is not None and previous["errorRate"] == 0.0
    assert "last run: 20/20 sent; 2xx 20;" in second["summary"]


async def test_identical_specs_share_one_run(loadtester, target, runs_in_progress):
    lt = await loadtester()
    load = {"url": target.url, "rate": "1", "duration": "1m"}  # still scheduling when the test ends
    started = (await post(lt, load)).json()
    joined = (await post(lt, load)).json()
    other_canary = (await post(lt, load, canary="cart")).json()
    other_load = (await post(lt, {**load, "rate": "2"})).json()
    assert [r["started"] for r in (started, joined, other_canary, other_load)] == [True, False, True, True]
    assert joined["summary"].startswith("running ")
    assert await runs_in_progress(lt) == 3, "the repeated call did not start a second run"


async def test_a_slow_target_does_not_lower_the_offered_rate(loadtester, target):
    """Open model: requests that find the concurrency used up are dropped and counted, not delayed."""
    lt = await loadtester()
    target.delay = 0.3
    reply = await post(lt, {"url": target.url, "rate": "20", "duration": "500ms", "concurrency": "2",
                            "mode": "blocking", "maxErrorRate": "100"})
    assert reply.status_code == 200
    results = reply.json()["results"]
    assert results["sent"] + results["dropped"] == 10
    assert results["dropped"] > 0 and results["inFlight"] == 0
    assert results["responses"] == {"2xx": results["sent"]}
    assert len(target.received) == results["sent"]
    assert f"({results['dropped']} dropped)" in reply.json()["summary"]


@pytest.mark.parametrize(("status", "ok", "answer", "says"), [
    pytest.param(200, True, 200, "approved (HTTP 200): finished 0.5s: 5/5 sent; 2xx 5;", id="healthy"),
    pytest.param(503, False, 422, "HTTP 422: finished 0.5s: 5/5 sent; 5xx 5;", id="failing"),
])
async def test_a_blocking_smoke_test_answers_with_its_results(loadtester, target, status, ok, answer, says):
    lt = await loadtester()
    target.status = status
    outcome = await call_webhook(hook(lt, {"url": target.url, "rate": "10", "duration": "500ms",
                                           "mode": "blocking"}, type="pre-rollout", retries=2), PAYLOAD)
    assert (outcome.ok, outcome.status_code, outcome.attempts) == (ok, answer, 1)
    assert says in outcome.reason
    if not ok:
        assert outcome.reason.endswith("failed: error rate 100.0% > maxErrorRate 0%")
    assert len(target.received) == 5, "a failed smoke test is the receiver's final no: it is not run again"


async def test_a_rollout_hook_fails_once_the_window_exceeds_max_error_rate(loadtester, target, all_finished):
    lt = await loadtester()
    target.status = 500
    load = {"url": target.url, "rate": "40", "duration": "500ms", "maxErrorRate": "10"}
    assert (await post(lt, load)).status_code == 200  # nothing completed yet: no judgement

    async def judged() -> httpx.Response | None:
        reply = await post(lt, load)
        return reply if reply.status_code != 200 else None

    failed = await until_async(judged, timeout=30, description="a call judged the window so far")
    assert failed.status_code == 422
    assert failed.json()["passed"] is False
    assert "failed: error rate 100.0% > maxErrorRate 10%" in failed.json()["summary"]
    await all_finished(lt)
    # The call that starts the next run is judged on the run that just ended, not on the empty new one.
    next_run = await post(lt, load)
    assert next_run.status_code == 422 and next_run.json()["started"] is True
    assert next_run.json()["summary"].endswith("; failed: error rate 100.0% > maxErrorRate 10%")
    previous = next_run.json()["previous"]
    assert previous["responses"] == {"5xx": previous["sent"]} and previous["errorRate"] == 100.0


async def test_a_run_whose_schedule_is_over_makes_way_for_the_next(loadtester, target):
    """The next interval's call must not join a run that only waits for its last answers."""
    lt = await loadtester()
    target.answering.clear()
    load = {"url": target.url, "rate": "10", "duration": "300ms"}
    assert (await post(lt, load)).json()["started"] is True

    async def next_run() -> dict | None:
        reply = (await post(lt, load)).json()
        return reply if reply["started"] else None

    reply = await until_async(next_run, timeout=30, description="a call started the next run")
    assert reply["previous"]["sent"] == 3 and reply["previous"]["inFlight"] == 3
    assert reply["summary"].startswith("started 10 req/s for 0.3s; last run: 3/3 sent; no answers;")


async def test_targets_off_the_allow_list_get_nothing(loadtester, target):
    lt = await loadtester(allow=("127.0.0.1/32", "*.shop.svc.cluster.local"))
    port = target.url.split(":")[2].split("/")[0]
    for url in (f"http://127.0.0.2:{port}/", f"http://localhost:{port}/", f"http://[::1]:{port}/"):
        reply = await post(lt, {"url": url, "rate": "10", "duration": "1s"})
        assert reply.status_code == 403, url
        assert "is not on this loadtester's allow-list (127.0.0.1/32, *.shop.svc.cluster.local)" in reply.json()[
            "summary"]
    assert target.received == []


async def test_bad_metadata_and_bodies_are_400_with_the_reason(loadtester, target):
    lt = await loadtester(limits=spec.Limits(max_rate=50, max_duration=60))
    outcome = await call_webhook(hook(lt, {"url": target.url, "rate": "500"}), PAYLOAD)
    assert (outcome.ok, outcome.status_code, outcome.attempts) == (False, 400, 1)
    assert outcome.reason == "HTTP 400: rate 500 exceeds this loadtester's bound --max-rate 50"
    too_long = await post(lt, {"url": target.url, "duration": "2m"})
    assert too_long.status_code == 400 and "--max-duration 1m" in too_long.json()["summary"]
    async with httpx.AsyncClient(trust_env=False) as client:
        for body in (b"not json", b"[]", b'{"name": "web", "namespace": "shop"}'):
            reply = await client.post(lt + "/", content=body)
            assert reply.status_code == 400, body
    assert target.received == []


async def test_with_a_secret_only_signed_calls_run(loadtester, target):
    lt = await loadtester(secret=b"k3y")
    load = {"url": target.url, "rate": "10", "duration": "500ms"}
    assert (await post(lt, load)).status_code == 401
    assert (await post(lt, load, secret="wrong")).status_code == 401
    assert target.received == []
    outcome = await call_webhook(hook(lt, load), PAYLOAD, secret="k3y")
    assert outcome.ok, outcome.reason


async def test_the_number_of_runs_is_capped(loadtester, target):
    lt = await loadtester(max_running=1)
    assert (await post(lt, {"url": target.url, "rate": "1", "duration": "1m"})).status_code == 200
    busy = await post(lt, {"url": target.url, "rate": "2", "duration": "1m"})
    assert busy.status_code == 429
    assert "1 load runs in progress" in busy.json()["summary"]


async def test_health_and_metrics(loadtester, target, all_finished):
    lt = await loadtester()
    target.status = 404
    await post(lt, {"url": target.url, "rate": "10", "duration": "500ms"})
    await post(lt, {"url": target.url, "rate": "1000"})
    await all_finished(lt)
    async with httpx.AsyncClient(trust_env=False) as client:
        assert (await client.get(lt + "/healthz")).status_code == 200
        text = (await client.get(lt + "/metrics")).text
    assert 'routeshift_loadtester_requests_total{name="web",namespace="shop",result="4xx"} 5.0' in text
    assert 'routeshift_loadtester_request_duration_seconds_count{name="web",namespace="shop"} 5.0' in text
    assert 'routeshift_loadtester_hook_calls_total{answer="started"} 1.0' in text
    assert 'routeshift_loadtester_hook_calls_total{answer="bad_request"} 1.0' in text
