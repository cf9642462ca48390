"""The cache's copy takes lists and watch events in every order a watch can deliver them."""

import pytest

from rollouts.caches.store import Store


def obj(name: str, version: str, namespace: str = "default", **extra) -> dict:
    return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": version, **extra}}


def test_a_list_replaces_the_copy_and_reports_what_vanished_meanwhile():
    store = Store()
    store.replace([obj("a", "1"), obj("b", "2")], "2")
    changes = store.replace([obj("a", "1"), obj("c", "5")], "7")
    assert {(c.key[1], c.before is not None, c.after is not None) for c in changes} == {
        ("b", True, False), ("c", False, True)}, "a is unchanged, b was deleted during the gap, c added"
    assert store.resource_version == "7"
    assert store.get("default", "b") is None and store.get("default", "c")["metadata"]["resourceVersion"] == "5"


@pytest.mark.parametrize(("held", "event", "version", "kept", "changed"), [
    pytest.param("3", "MODIFIED", "4", "4", True, id="newer-modification-taken"),
    pytest.param("4", "MODIFIED", "4", "4", False, id="same-version-is-no-change"),
    pytest.param("5", "MODIFIED", "4", "5", False, id="older-event-after-our-own-write-ignored"),
    pytest.param(None, "ADDED", "4", "4", True, id="added"),
    pytest.param("4", "DELETED", "6", None, True, id="deleted"),
    pytest.param(None, "DELETED", "6", None, False, id="delete-of-unknown-is-no-change"),
])
def test_watch_events(held, event, version, kept, changed):
    store = Store()
    store.replace([obj("a", held)] if held else [], "2")
    change = store.apply(event, obj("a", version))
    assert (change is not None) == changed
    found = store.get("default", "a")
    assert (found["metadata"]["resourceVersion"] if found else None) == kept


def test_the_resume_point_follows_events_and_bookmarks_but_not_our_own_writes():
    store = Store()
    store.replace([obj("a", "3")], "3")
    store.apply("MODIFIED", obj("a", "5"))
    assert store.resource_version == "5"
    assert store.apply("BOOKMARK", {"metadata": {"resourceVersion": "9"}}) is None
    assert store.resource_version == "9"
    store.record(obj("a", "12"))
    assert store.resource_version == "9", "a watch must resume after the last event it saw, not after our write"
    assert store.get("default", "a")["metadata"]["resourceVersion"] == "12"
    assert store.apply("MODIFIED", obj("a", "10")) is None, "the watch's older copy does not undo our write"


def test_managed_fields_are_not_kept():
    store = Store()
    store.replace([obj("a", "1", managedFields=[{"manager": "kubectl"}] * 50, labels={"app": "a"})], "1")
    assert store.get("default", "a")["metadata"] == {"name": "a", "namespace": "default", "resourceVersion": "1",
                                                     "labels": {"app": "a"}}


def test_opaque_versions_are_taken_in_arrival_order():
    store = Store()
    store.replace([obj("a", "x7")], "x7")
    assert store.apply("MODIFIED", obj("a", "b2")) is not None
    assert store.get("default", "a")["metadata"]["resourceVersion"] == "b2"
