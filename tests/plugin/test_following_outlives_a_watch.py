"""Following a Canary outlives the end of one watch.

The API server ends every watch after its ``timeoutSeconds`` (55 s for the plugin), and
``get --watch``, ``wait`` and the dashboard resume from the last resourceVersion. A watch
that ended that way had already handed its connection back to the pool, and closing it
raised: every view that followed for longer than a minute stopped with "following
canaries failed". Here the watches last one second.
"""

from plugin_world import status

from routeshift.plugin import streaming
from routeshift.plugin.cluster import Cluster, Options
from routeshift.testing.polling import until


def test_a_change_after_the_watch_was_renewed_is_seen(world, kubeconfig, monkeypatch):
    monkeypatch.setattr(streaming, "WATCH_SECONDS", 1)
    cluster = Cluster.connect(Options(kubeconfig=str(kubeconfig), namespace="default"))
    follower = streaming.Follower(cluster, name="web").start()
    phases = []

    def follow() -> str | None:
        snapshot = follower.latest(timeout=0.2)
        if snapshot is not None:
            assert snapshot.error is None, snapshot.error
            phases.append((snapshot.objects[("default", "web")].get("status") or {}).get("phase"))
        return phases[-1] if phases else None

    def watches_ended() -> int:
        follow()
        return sum(1 for method, path, _ in world.api.requests() if method == "GET" and "watch=true" in path)

    try:
        until(lambda: watches_ended() >= 2, timeout=15, description="two watches ended, following goes on")
        world.set_status(status("Progressing", step=1, canary_weight=10))
        until(lambda: follow() == "Progressing", timeout=15, description="the change is seen")
    finally:
        follower.stop()
