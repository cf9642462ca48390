"""Which events a rollout notifies, who subscribed to them, and where the URL comes from."""

from __future__ import annotations

import pytest

from canary_builders import FAILURE, SUCCESS, Driver, spec
from chat_receiver import notify, provider, secret
from rollouts import actions
from rollouts.model import Phase
from rollouts.notifications import events
from rollouts.notifications.model import Notification, NotificationEvent as E, parse_subscription, parse_subscriptions
from rollouts.notifications.notifier import recipients

ANALYSIS = {"interval": "10s", "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}}]}


def _notified(driver: Driver) -> list[tuple[str, int]]:
    return [(a.event.value, a.weight) for d in driver.history for a in d.actions if isinstance(a, actions.Notify)]


def test_a_promoted_rollout_notifies_start_each_step_and_the_promotion():
    driver = Driver(spec(analysis=ANALYSIS, strategy={"progressive": {"steps": [10, 50]}}))
    driver.run_until(Phase.SUCCEEDED, verdict=SUCCESS)
    assert _notified(driver) == [("started", 0), ("step", 10), ("step", 50), ("promoted", 100)]


def test_a_failed_analysis_notifies_the_failure_then_the_rollback():
    driver = Driver(spec(analysis=ANALYSIS, strategy={"progressive": {"steps": [10, 50]}}))
    driver.tick()
    driver.tick()
    driver.run_until(Phase.FAILED, verdict=FAILURE)
    notices = [a for d in driver.history for a in d.actions if isinstance(a, actions.Notify)]
    assert [(n.event.value, n.reason, n.warning) for n in notices] == [
        ("started", "RolloutStarted", False), ("failed", "RollingBack", True), ("rolledBack", "RolledBack", True)]
    assert "analysis failed" in notices[1].message


def test_an_abort_is_a_rollback_not_a_failure():
    driver = Driver(spec(analysis=ANALYSIS, strategy={"progressive": {"steps": [10, 50]}}))
    driver.tick()
    driver.tick()
    driver.tick(annotations=driver.annotate("abort", "1"))
    driver.run_until(Phase.FAILED, annotations=driver.annotate("abort", "1"))
    assert [event for event, _ in _notified(driver)] == ["started", "rolledBack"]


@pytest.mark.parametrize(("reason", "result", "event"), [
    pytest.param("RolloutStarted", None, E.STARTED, id="started"),
    pytest.param("StepCompleted", None, E.STEP, id="step"),
    pytest.param("Paused", None, E.PAUSED, id="paused"),
    pytest.param("AnalysisHoldExpired", None, E.PAUSED, id="hold-expired-pauses"),
    pytest.param("Succeeded", "succeeded", E.PROMOTED, id="promoted"),
    pytest.param("RollingBack", "failed", E.FAILED, id="failed"),
    pytest.param("RollingBack", "aborted", None, id="abort-is-not-a-failure"),
    pytest.param("RolledBack", "aborted", E.ROLLED_BACK, id="rolled-back"),
    pytest.param("Initialized", None, None, id="not-notified"),
    pytest.param("InvalidSpec", None, None, id="invalid-spec-stays-an-event"),
])
def test_recorded_reasons_map_to_notified_events(reason, result, event):
    assert events.of(reason, result=result) == event


def _rule(name, *kinds, namespace=None):
    ref = {"name": name} | ({"namespace": namespace} if namespace else {})
    return Notification.model_validate({"providerRef": ref, "events": [k.value for k in kinds]})


@pytest.mark.parametrize(("rules", "cluster_wide", "event", "expected"), [
    pytest.param([_rule("team")], [], E.STEP, [("shop", "team")], id="no-list-means-all"),
    pytest.param([_rule("team", E.PROMOTED, E.FAILED)], [], E.STEP, [], id="filtered-out"),
    pytest.param([_rule("team", E.PROMOTED, E.FAILED)], [], E.FAILED, [("shop", "team")], id="filtered-in"),
    pytest.param([_rule("ops", namespace="infra")], [], E.STARTED, [("infra", "ops")], id="other-namespace"),
    pytest.param([], ["infra/ops:failed,rolledBack"], E.FAILED, [("infra", "ops")], id="cluster-wide"),
    pytest.param([], ["infra/ops:failed,rolledBack"], E.PROMOTED, [], id="cluster-wide-filtered"),
    pytest.param([_rule("ops", E.PROMOTED, namespace="infra")], ["infra/ops:failed"], E.FAILED,
                 [("infra", "ops")], id="either-subscription-suffices"),
    pytest.param([_rule("ops", namespace="infra")], ["infra/ops"], E.STEP, [("infra", "ops")],
                 id="one-message-per-provider"),
])
def test_who_hears_an_event(rules, cluster_wide, event, expected):
    subscriptions = [parse_subscription(s) for s in cluster_wide]
    assert recipients(rules, subscriptions, namespace="shop", event=event) == expected


def test_cluster_wide_subscriptions_from_flags_and_environment():
    assert parse_subscriptions(["infra/slack:promoted,failed"], "infra/teams  ops/hook:rolledBack;") == [
        (("infra", "slack"), frozenset({E.PROMOTED, E.FAILED})), (("infra", "teams"), frozenset()),
        (("ops", "hook"), frozenset({E.ROLLED_BACK}))]
    with pytest.raises(ValueError, match="events must be among"):
        parse_subscription("infra/slack:promotion")
    with pytest.raises(ValueError, match="NAMESPACE/NAME"):
        parse_subscription("slack")


async def test_per_canary_subscriptions_are_filtered_by_event(api, setup, receiver):
    provider(api, "team", type="webhook", address=f"{receiver.url}/team")
    provider(api, "ops", namespace="default", type="webhook", address=f"{receiver.url}/ops")
    canary = spec(notifications=[{"providerRef": {"name": "team"}, "events": ["promoted"]},
                                 {"providerRef": {"name": "ops"}}])
    await setup.send(canary, notify(E.STARTED, reason="RolloutStarted"), notify(E.PROMOTED))
    assert [r.json["event"] for r in receiver.at("/team")] == ["promoted"]
    assert [r.json["event"] for r in receiver.at("/ops")] == ["started", "promoted"]


async def test_the_url_is_read_from_the_providers_secret(api, setup, receiver):
    secret(api, "slack-url", address=f"{receiver.url}/from-secret")
    provider(api, "team", type="slack", secretRef={"name": "slack-url"})
    await setup.send(spec(notifications=[{"providerRef": {"name": "team"}}]), notify())
    assert len(receiver.at("/from-secret")) == 1
    assert setup.events.posted == []


async def test_a_rotated_secret_applies_to_the_next_message(api, setup, receiver):
    secret(api, "url", hook=f"{receiver.url}/old")
    provider(api, "team", type="discord", secretRef={"name": "url", "key": "hook"})
    canary = spec(notifications=[{"providerRef": {"name": "team"}}])
    await setup.send(canary, notify())
    api.patch("v1/secrets", "default", "url", {"stringData": {"hook": f"{receiver.url}/new"}})
    await setup.send(canary, notify())
    assert (len(receiver.at("/old")), len(receiver.at("/new"))) == (1, 1)


@pytest.mark.parametrize(("prepare", "reason", "words"), [
    pytest.param(lambda api, url: None, "NotificationProviderNotFound",
                 "NotificationProvider default/team not found", id="missing-provider"),
    pytest.param(lambda api, url: provider(api, "team", type="slack", secretRef={"name": "nowhere"}),
                 "NotificationProviderInvalid", "Secret default/nowhere not found", id="missing-secret"),
    pytest.param(lambda api, url: (secret(api, "url", other=url),
                                   provider(api, "team", type="slack", secretRef={"name": "url"})),
                 "NotificationProviderInvalid", "has no key 'address'", id="missing-key"),
])
async def test_an_unusable_provider_is_reported_once_as_a_warning_event(api, setup, receiver, prepare, reason,
                                                                         words):
    prepare(api, receiver.url)
    provider(api, "ops", type="webhook", address=f"{receiver.url}/ops")
    canary = spec(notifications=[{"providerRef": {"name": "team"}}, {"providerRef": {"name": "ops"}}])
    await setup.send(canary, notify(E.STARTED, reason="RolloutStarted"), notify(E.STEP, reason="StepCompleted"))
    ((kind, posted_reason, message),) = setup.events.posted
    assert (kind, posted_reason) == ("Warning", reason)
    assert words in message and "the rollout goes on" in message
    assert setup.counter("failed", "default/team") == 2
    assert [r.json["event"] for r in receiver.at("/ops")] == ["started", "step"], "other providers still hear"


@pytest.mark.parametrize(("argv", "environment"), [
    pytest.param(["--notification-provider", "slack"], None, id="flag-without-namespace"),
    pytest.param([], "ops/slack:promotion", id="environment-with-unknown-event"),
])
def test_the_controller_refuses_a_malformed_subscription_before_it_starts(monkeypatch, capsys, argv, environment):
    from rollouts import operator

    if environment is not None:
        monkeypatch.setenv(operator.NOTIFICATION_PROVIDERS_ENV, environment)
    with pytest.raises(SystemExit) as exit_:
        operator.main(argv)
    assert exit_.value.code == 2
    assert "--notification-provider" in capsys.readouterr().err
