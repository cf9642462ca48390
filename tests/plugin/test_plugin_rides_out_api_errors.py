"""A conflict or a failing API call does not turn into a wrong answer.

An operation re-reads and re-checks the Canary when its patch meets a 409 (the controller
wrote status in between); ``wait`` keeps following through a transient 5xx instead of
reporting an outcome it has not seen.
"""

from plugin_world import status


def test_an_operation_retries_a_conflicting_patch_after_rechecking(world):
    world.set_status(status("Progressing"))
    world.api.faults.inject(method="PATCH", path=r"/canaries/web$", status=409, times=1,
                            message="the object has been modified")
    result = world.plugin("pause", "web")
    assert result.returncode == 0, result.stderr
    assert "routeshift.dev/pause" in world.annotations()
    assert [code for _, _, code in world.plugin_patches()] == [409, 200]


def test_wait_keeps_following_through_an_api_error(world):
    world.set_status(status("Succeeded", step=2, canary_weight=100))
    world.api.faults.inject(method="GET", path=r"/canaries$", status=503, times=1, message="etcd leader changed")
    result = world.plugin("wait", "web", "--timeout", "30s")
    assert result.returncode == 0, result.stderr
    assert "warning: " in result.stderr and "etcd leader changed" in result.stderr and "retrying" in result.stderr
