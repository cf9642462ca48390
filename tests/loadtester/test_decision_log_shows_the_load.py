"""What the loadtester answered reaches the Canary's decision log, one bounded line per hook.

The path is the controller's: ``analysis.call_webhook`` against a real loadtester (which
loads a real local target), its outcome turned into the ``GateOutcome`` the reconciler
builds from it (name, type, ok, reason), and the state machine deciding on it.
"""

from __future__ import annotations

import pytest

from analysis import WebhookSpec, call_webhook, webhooks
from canary_builders import SUCCESS, Driver, gate, spec

PAYLOAD = {"name": "web", "namespace": "shop", "phase": "Progressing", "weight": 5, "step": 0}


def _canary(hook: WebhookSpec):
    return spec(analysis={"interval": "10s", "webhooks": [hook.model_dump(by_alias=True, exclude_none=True)],
                          "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}}]})


def _gate(hook: WebhookSpec, outcome: webhooks.WebhookOutcome):
    # What rollouts/reconciler.py builds from every gating call.
    return gate(hook.name, hook.type.value, outcome.ok, outcome.reason)


def _at_first_judgement(hook: WebhookSpec) -> Driver:
    driver = Driver(_canary(hook))
    driver.tick()
    driver.tick()
    assert driver.world.weights() == (95, 5)
    return driver


async def test_a_passing_load_hook_leaves_its_results_in_the_decision_log(loadtester, target, all_finished):
    lt = await loadtester()
    hook = WebhookSpec(name="load-test", type="rollout", url=lt + "/",
                       metadata={"url": target.url, "rate": "20", "duration": "500ms"})
    first = await call_webhook(hook, PAYLOAD)
    assert first.ok and first.detail == "started 20 req/s for 0.5s"
    await all_finished(lt)
    outcome = await call_webhook(hook, PAYLOAD)  # the next interval's call
    driver = _at_first_judgement(hook)
    driver.tick(10, gates=(_gate(hook, outcome),), verdict=SUCCESS)
    reasons = [decision.reason for decision in driver.status.decisions]
    (entry,) = [reason for reason in reasons if "rollout webhooks passed" in reason]
    assert entry.startswith("weight 5%: rollout webhooks passed: load-test: approved (HTTP 200): "
                            "started 20 req/s for 0.5s; last run: 10/10 sent; 2xx 10; ")
    assert driver.world.weights() == (90, 10), "the step completed on the verdict after the hook passed"


async def test_a_failed_smoke_test_holds_the_step_and_says_why(loadtester, target):
    lt = await loadtester()
    target.status = 503
    hook = WebhookSpec(name="smoke", type="rollout", url=lt + "/",
                       metadata={"url": target.url, "rate": "10", "duration": "500ms", "mode": "blocking"})
    outcome = await call_webhook(hook, PAYLOAD)
    assert (outcome.ok, outcome.status_code) == (False, 422)
    driver = _at_first_judgement(hook)
    driver.tick(10, gates=(_gate(hook, outcome),), verdict=SUCCESS)
    assert driver.world.weights() == (95, 5)
    assert outcome.reason.startswith("HTTP 422: finished 0.5s: 5/5 sent; 5xx 5; ")
    assert outcome.reason.endswith("; failed: error rate 100.0% > maxErrorRate 0%")
    assert driver.status.decisions[-1].reason == f"weight 5%: rollout webhook smoke failed: {outcome.reason}"


async def test_a_passed_pre_rollout_smoke_test_is_logged_with_its_results(loadtester, target):
    lt = await loadtester()
    hook = WebhookSpec(name="smoke", type="pre-rollout", url=lt + "/",
                       metadata={"url": target.url, "rate": "10", "duration": "500ms", "mode": "blocking"})
    outcome = await call_webhook(hook, PAYLOAD)
    driver = Driver(_canary(hook))
    driver.tick(gates=(_gate(hook, outcome),))
    assert driver.world.weights() == (95, 5)
    (entry,) = [d.reason for d in driver.status.decisions if "webhooks passed" in d.reason]
    assert entry.startswith("pre-rollout webhooks passed: smoke: approved (HTTP 200): finished 0.5s: 5/5 sent; "
                            "2xx 5; ")


@pytest.mark.parametrize(("body", "detail"), [
    pytest.param("", "", id="empty"),
    pytest.param('{"summary": "10/10 sent; 2xx 10", "results": {"sent": 10}}', "10/10 sent; 2xx 10",
                 id="json-summary"),
    pytest.param('{"results": {"sent": 10}}', '{"results": {"sent": 10}}', id="json-without-summary"),
    pytest.param('{"summary": 3}', '{"summary": 3}', id="summary-not-a-string"),
    pytest.param("  line one\r\nline two\x1b[31m red\u2028 ", "line one line two [31m red", id="one-line"),
    pytest.param('{"summary": "a\\nb"}', "a b", id="newline-in-summary"),
    pytest.param("x" * 1000, "x" * (webhooks.DETAIL_LIMIT - 1) + "…", id="bounded"),
])
def test_a_reply_is_summarised_on_one_bounded_line(body, detail):
    assert webhooks.summarise_reply(body) == detail
    assert len(webhooks.summarise_reply(body)) <= webhooks.DETAIL_LIMIT
