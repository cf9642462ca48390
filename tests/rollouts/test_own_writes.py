"""The echo of a Canary's own status write reaches kopf as a BOOKMARK; every other event as it came."""

from __future__ import annotations

import pytest

from rollouts.echoes import RECENT_WRITES, OwnWrites, as_bookmark

GROUP, KIND = "routeshift.dev", "Canary"


def event(type_="MODIFIED", version="7", name="web", namespace="default", kind=KIND,
          api_version="routeshift.dev/v1alpha1"):
    return {"type": type_, "object": {"apiVersion": api_version, "kind": kind, "metadata": {
        "name": name, "namespace": namespace, "resourceVersion": version}, "status": {"phase": "Progressing"}}}


def wrote(*versions, name="web"):
    own = OwnWrites()
    for version in versions:
        own.record("default", name, version)
    return own


def test_the_echo_of_a_status_write_is_a_bookmark_at_its_version():
    assert as_bookmark(event(version="7"), wrote("7"), group=GROUP, kind=KIND) == {
        "type": "BOOKMARK", "object": {"apiVersion": "routeshift.dev/v1alpha1", "kind": "Canary",
                                       "metadata": {"resourceVersion": "7"}}}


@pytest.mark.parametrize("incoming, why", [
    (event(version="8"), "someone else's change, after our write"),
    (event(version="6"), "a change before our write"),
    (event(name="api"), "another Canary at the same version"),
    (event(namespace="prod"), "a Canary of the same name elsewhere"),
    (event(type_="ADDED"), "an add is never an echo"),
    (event(type_="DELETED"), "a delete is never an echo"),
    (event(kind="Deployment", api_version="apps/v1"), "another kind"),
    (event(api_version="other.example/v1"), "a Canary of another API group"),
    ({"type": "ERROR", "object": {"code": 410}}, "a watch error"),
    ([1, 2], "not an event at all"),
])
def test_anything_else_is_handed_on_unchanged(incoming, why):
    assert as_bookmark(incoming, wrote("7"), group=GROUP, kind=KIND) is incoming, why


def test_only_the_last_few_writes_are_recognised():
    versions = [str(v) for v in range(1, RECENT_WRITES + 2)]
    own = wrote(*versions)
    assert as_bookmark(event(version=versions[0]), own, group=GROUP, kind=KIND)["type"] == "MODIFIED"
    assert all(as_bookmark(event(version=v), own, group=GROUP, kind=KIND)["type"] == "BOOKMARK"
               for v in versions[1:])


def test_a_forgotten_canary_has_no_echoes():
    own = wrote("7")
    own.forget("default", "web")
    assert as_bookmark(event(version="7"), own, group=GROUP, kind=KIND)["type"] == "MODIFIED"
    assert len(own) == 0


def test_a_write_without_a_version_is_not_recorded():
    own = wrote(None, "")
    assert len(own) == 0
    assert as_bookmark(event(version=None), own, group=GROUP, kind=KIND)["type"] == "MODIFIED"
