"""A flood is cut by the rate limit; slow or failing services are retried, bounded and kept apart."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from canary_builders import spec
from chat_receiver import notify, provider
from rollouts.notifications import ratelimit
from rollouts.notifications.model import NotificationEvent as E
from routeshift.testing.polling import until_async


@pytest.mark.parametrize(("times", "allowed"), [
    pytest.param([0, 1, 2, 3], [True, True, False, False], id="two-per-window"),
    pytest.param([0, 1, 60, 61, 62], [True, True, True, True, False], id="window-slides"),
    pytest.param([0, 59.9, 60, 60.1], [True, True, True, False], id="oldest-leaves-at-the-interval"),
])
def test_sliding_window(times, allowed):
    window = ratelimit.SlidingWindow()
    assert [window.allow("k", now=t, events=2, interval=60).allowed for t in times] == allowed


def test_the_first_refusal_of_a_burst_is_flagged_once_per_burst():
    window = ratelimit.SlidingWindow()
    flags = [window.allow("k", now=t, events=1, interval=10).first_drop for t in (0, 1, 2, 10, 11, 12)]
    assert flags == [False, True, False, False, True, False]
    assert window.allow("other", now=2, events=1, interval=10).allowed, "each (provider, Canary) has its own window"


async def test_notifications_beyond_the_rate_limit_are_dropped_counted_and_logged_once(api, setup, receiver,
                                                                                      caplog):
    provider(api, "team", type="webhook", address=f"{receiver.url}/team", rateLimit={"events": 2, "interval": "1m"})
    canary = spec(notifications=[{"providerRef": {"name": "team"}}])
    with caplog.at_level(logging.WARNING, logger="rollouts.notifications.notifier"):
        await setup.send(canary, *(notify(E.STEP, reason="StepCompleted", step=i) for i in range(5)))
    assert [r.json["step"] for r in receiver.at("/team")] == [0, 1]
    assert setup.counter("dropped", "default/team") == 3
    assert setup.counter("sent", "default/team") == 2
    assert len([r for r in caplog.records if "exceed 2 per 1m" in r.getMessage()]) == 1
    setup.clock.now += 60
    await setup.send(canary, notify())
    assert [r.json["event"] for r in receiver.at("/team")][-1] == "promoted"


async def test_transient_failures_are_retried_until_the_service_takes_the_message(api, setup, receiver):
    receiver.answers["/team"] = [503, 429, 200]
    provider(api, "team", type="slack", address=f"{receiver.url}/team", retries=2)
    await setup.send(spec(notifications=[{"providerRef": {"name": "team"}}]), notify())
    assert len(receiver.at("/team")) == 3
    assert (setup.counter("sent", "default/team"), setup.counter("failed", "default/team")) == (1, 0)


async def test_a_refused_message_is_not_repeated(api, setup, receiver, caplog):
    receiver.answers["/team"] = [400]
    provider(api, "team", type="slack", address=f"{receiver.url}/team", retries=2)
    with caplog.at_level(logging.WARNING, logger="rollouts.notifications.notifier"):
        await setup.send(spec(notifications=[{"providerRef": {"name": "team"}}]), notify())
    assert len(receiver.at("/team")) == 1
    assert setup.counter("failed", "default/team") == 1
    assert any("HTTP 400: invalid_payload" in r.getMessage() for r in caplog.records)


async def test_a_service_that_never_answers_times_out_after_its_retries(api, setup, receiver):
    receiver.held["/silent"] = threading.Event()  # never released during the test
    provider(api, "silent", type="gchat", address=f"{receiver.url}/silent", timeoutSeconds=0.2, retries=1)
    await setup.send(spec(notifications=[{"providerRef": {"name": "silent"}}]), notify())
    assert len(receiver.at("/silent")) == 2
    assert setup.counter("failed", "default/silent") == 1


async def test_a_slow_service_holds_back_only_its_own_later_messages(api, setup, receiver):
    released = receiver.held["/slow"] = threading.Event()
    provider(api, "slow", type="webhook", address=f"{receiver.url}/slow")
    provider(api, "quick", type="webhook", address=f"{receiver.url}/quick")
    canary = spec(notifications=[{"providerRef": {"name": "slow"}}, {"providerRef": {"name": "quick"}}])
    tasks = []
    for event, reason in ((E.STARTED, "RolloutStarted"), (E.STEP, "StepCompleted"), (E.PROMOTED, "Succeeded")):
        # submit is synchronous and starts tasks only: the reconciler never waits for a delivery.
        tasks += setup.notifier.submit(setup.controller, setup.canary, canary, notify(event, reason=reason),
                                       setup.events)
    await until_async(lambda: len(receiver.at("/quick")) == 3 and receiver.waiting == ["/slow"], timeout=15,
                      description="the quick provider has everything while the slow one holds its first message")
    assert [r.json["event"] for r in receiver.at("/slow")] == ["started"]
    released.set()
    await asyncio.gather(*tasks)
    assert [r.json["event"] for r in receiver.at("/slow")] == ["started", "step", "promoted"], "in order"
    assert [r.json["event"] for r in receiver.at("/quick")] == ["started", "step", "promoted"]
