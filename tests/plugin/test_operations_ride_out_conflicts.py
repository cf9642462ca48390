"""An operation that meets a Canary whose status the controller keeps writing re-reads, backs off and lands.

Each 409 means the controller wrote status between the plugin's read and its patch; the
plugin plans again from a fresh read (the operation must still apply) and gives up only
after its attempts run out, with the API's own message.
"""

import pytest

from plugin_world import canary_manifest, status
from routeshift.plugin import errors, requesting


class BusyCluster:
    """Answers reads with a fresh resourceVersion each time and refuses the first ``conflicts`` patches."""

    def __init__(self, conflicts: int):
        self.conflicts, self.reads, self.patches = conflicts, 0, []

    def get(self, name):
        self.reads += 1
        body = canary_manifest()
        body["metadata"]["resourceVersion"] = str(100 + self.reads)
        body["status"] = status("Progressing", step=0, canary_weight=10)
        return body

    def patch(self, name, body):
        self.patches.append(body)
        if len(self.patches) <= self.conflicts:
            raise errors.Conflict("Operation cannot be fulfilled on canaries.routeshift.dev \"web\": the object "
                                  "has been modified")
        return body


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(requesting, "_BACKOFF", 0.0)


def test_conflicts_are_retried_from_a_fresh_read():
    cluster = BusyCluster(conflicts=6)
    change = requesting.request(cluster, "web", requesting.Operation.PAUSE)
    assert change.patch is not None and cluster.reads == 7
    assert [p["metadata"]["resourceVersion"] for p in cluster.patches] == [str(101 + n) for n in range(7)]


def test_a_canary_that_never_holds_still_gives_up_with_the_apis_message():
    cluster = BusyCluster(conflicts=100)
    with pytest.raises(errors.Conflict, match="has been modified"):
        requesting.request(cluster, "web", requesting.Operation.PAUSE)
    assert len(cluster.patches) == requesting._ATTEMPTS
