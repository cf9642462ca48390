"""A workload-form Canary (``targetRef``) shows what runs where: target, revisions, images, replicas, failures.

The table tests render plain data (a Canary as served, the live Deployments' replicas) to
text, as ``get`` and ``status`` print it off a terminal; the last tests run the real
plugin through kubectl against the emulator, with the Canary, its status (the controller
played by the test) and the Deployments created directly.
"""

import datetime
import io
import json
import signal

import pytest
import yaml
from rich.console import Console

from plugin_world import DEPLOYMENTS, ROUTES, status
from rollouts import workloads
from routeshift.plugin import canaries, rendering
from routeshift.testing.polling import until

NOW = datetime.datetime(2026, 1, 1, 0, 5, tzinfo=datetime.timezone.utc)
V1, V2, V3 = "ghcr.io/stefanprodan/podinfo:6.0.0", "ghcr.io/stefanprodan/podinfo:6.0.1", "ghcr.io/stefanprodan/podinfo:6.0.2"
REV1, REV2, REV3 = "7f6d5c4b3a", "5c1e9f0a7b", "0d9e8f7a6b"
FAILED_REASON = ("analysis failed at weight 10%: consecutive failure limit reached (2/2 in a row): "
                 "request-success-rate: 89.47 below min 99")


def workload_canary(status_body=None):
    raw = {"metadata": {"name": "podinfo", "namespace": "default", "generation": 1,
                        "creationTimestamp": "2026-01-01T00:00:00Z"},
           "spec": {"routeRef": {"name": "podinfo"}, "targetRef": {"name": "podinfo"}, "service": {"port": 9898},
                    "strategy": {"progressive": {"steps": [10, 50]}}}}
    if status_body is not None:
        raw["status"] = status_body
    return canaries.Canary(raw)


def workload_status(phase, *, release, step=0, canary_weight=0, failed=None, **workload):
    body = status(phase, step=step, canary_weight=canary_weight, release=release)
    body["workload"] = {"revision": REV1, "images": {"podinfo": V1}, "replicas": 2, **workload}
    if failed:
        body["workload"]["failed"] = failed
    return body


FAILED_V3 = {"revision": REV3, "images": {"podinfo": V3}, "reason": FAILED_REASON, "time": "2026-01-01T00:02:00Z"}
LIVE = {"podinfo-primary": canaries.Replicas(2, 2, ""), "podinfo": canaries.Replicas(1, 2, "")}
SCALED_DOWN = {"podinfo-primary": canaries.Replicas(2, 2, ""), "podinfo": canaries.Replicas(0, 0, "")}
MISSING = {"podinfo-primary": canaries.Replicas(problem="not found"), "podinfo": canaries.Replicas(0, 2, "")}


def text(renderable) -> str:
    console = Console(file=io.StringIO(), width=200, highlight=False)
    rendering.emit(console, renderable)
    return console.file.getvalue()


@pytest.mark.parametrize("status_body, replicas, shown, not_shown", [
    pytest.param(
        None, MISSING,
        ["Phase:     Pending",
         "Target:    Deployment podinfo   (Services podinfo-primary, podinfo-canary)",
         "Primary:   podinfo-primary  revision -",
         "Canary:    podinfo  no rollout",
         "Replicas:  primary not found, canary 0/2  (ready/desired)",
         "  no weights set yet"],
        ["Release:", "Failed:"], id="before-the-controller-saw-it"),
    pytest.param(
        {"phase": "Initializing", "message": "initializing: creating podinfo-primary"}, MISSING,
        ["Phase:     Initializing   step 1/3", "Primary:   podinfo-primary  revision -",
         "Replicas:  primary not found, canary 0/2  (ready/desired)"],
        ["Release:", "Failed:"], id="initializing-without-workload-status"),
    pytest.param(
        workload_status("Progressing", release=REV2, step=1, canary_weight=50, canaryImages={"podinfo": V2},
                        canaryReady=True), LIVE,
        [f"Primary:   podinfo-primary  revision {REV1}  podinfo={V1}",
         f"Canary:    podinfo  revision {REV2}  podinfo={V2}  (rolling out)",
         "Replicas:  primary 2/2, canary 1/2  (ready/desired)",
         "stable  podinfo-primary  ███████████████░░░░░░░░░░░░░░░   50%",
         "canary  podinfo-canary   ███████████████░░░░░░░░░░░░░░░   50%"],
        ["Release:", "Failed:"], id="rolling-out"),
    pytest.param(
        workload_status("Failed", release=REV3, canaryImages={"podinfo": V3}, failed=FAILED_V3), SCALED_DOWN,
        [f"Canary:    podinfo  revision {REV3}  podinfo={V3}  (rolled back)",
         "Replicas:  primary 2/2, canary 0/0  (ready/desired)",
         f"Failed:    revision {REV3}  podinfo={V3}  rolled back 3m0s ago\n           {FAILED_REASON}"],
        ["rolling out"], id="rolled-back"),
    pytest.param(
        workload_status("Succeeded", release=REV1, canaryImages={"podinfo": V1}, failed=FAILED_V3), SCALED_DOWN,
        [f"Primary:   podinfo-primary  revision {REV1}  podinfo={V1}", "Canary:    podinfo  no rollout",
         f"Failed:    revision {REV3}  podinfo={V3}  rolled back 3m0s ago"],
        ["rolling out", "(rolled back)"], id="promoted-after-an-earlier-failure"),
])
def test_get_shows_target_revisions_images_replicas_and_the_failed_revision(status_body, replicas, shown, not_shown):
    out = text(rendering.detail(workload_canary(status_body), replicas=replicas, now=NOW))
    for line in shown:
        assert line in out, out
    for fragment in not_shown:
        assert fragment not in out, out


@pytest.mark.parametrize("status_body, replicas, lines", [
    pytest.param(
        {"phase": "Initializing", "message": "initializing"}, MISSING,
        ["target deployment/podinfo: primary podinfo-primary revision -; canary: no rollout",
         "replicas (ready/desired): primary not found, canary 0/2"], id="initializing"),
    pytest.param(
        workload_status("Progressing", release=REV2, canary_weight=10, canaryImages={"podinfo": V2}), LIVE,
        [f"target deployment/podinfo: primary podinfo-primary revision {REV1} (podinfo={V1}); "
         f"canary revision {REV2} (podinfo={V2}), rolling out",
         "replicas (ready/desired): primary 2/2, canary 1/2"], id="rolling-out"),
    pytest.param(
        workload_status("Failed", release=REV3, canaryImages={"podinfo": V3}, failed=FAILED_V3), SCALED_DOWN,
        [f"target deployment/podinfo: primary podinfo-primary revision {REV1} (podinfo={V1}); "
         f"canary revision {REV3} (podinfo={V3}), rolled back",
         "replicas (ready/desired): primary 2/2, canary 0/0",
         f"last failed revision {REV3} (podinfo={V3}) at 2026-01-01T00:02:00Z: {FAILED_REASON}"], id="rolled-back"),
    pytest.param(
        workload_status("Initialized", release=REV1), {},
        [f"target deployment/podinfo: primary podinfo-primary revision {REV1} (podinfo={V1}); canary: no rollout",
         "replicas (ready/desired): primary -, canary -"], id="replicas-not-looked-up"),
])
def test_status_lines_for_a_workload(status_body, replicas, lines):
    assert workload_canary(status_body).workload_lines(replicas) == lines


def test_a_service_form_canary_has_no_workload_facts():
    canary = canaries.Canary({"metadata": {"name": "web"}, "spec": {"stable": {"name": "web-v1"}, "release": "v2"}})
    assert canary.workload() is None and canary.workload_lines() == [] and canary.deployment_names() is None
    assert canary.backend("stable") == "web-v1" and canary.shown_release == "v2"


@pytest.mark.parametrize("deployment, problem, shown", [
    pytest.param({"spec": {"replicas": 3}, "status": {"readyReplicas": 2}}, "", "2/3", id="partly-ready"),
    pytest.param({"spec": {}, "status": {}}, "", "0/1", id="defaults"),
    pytest.param({"spec": {"replicas": 0}}, "", "0/0", id="scaled-down"),
    pytest.param(None, "not found", "not found", id="missing"),
    pytest.param(None, "not readable (HTTP 403)", "not readable (HTTP 403)", id="forbidden"),
])
def test_replicas_read_like_kubectls_ready_column(deployment, problem, shown):
    assert str(canaries.Replicas.of(deployment, problem)) == shown


def test_the_plugin_names_the_objects_as_the_controller_does():
    assert (canaries.PRIMARY_SUFFIX, canaries.CANARY_SUFFIX) == (workloads.PRIMARY_SUFFIX, workloads.CANARY_SUFFIX)


# ---------------------------------------------------------------------- through kubectl


def _workload_route(primary_weight: int, canary_weight: int) -> dict:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "podinfo", "namespace": "default"},
            "spec": {"parentRefs": [{"name": "gw"}], "rules": [
                {"backendRefs": [{"name": "podinfo-primary", "port": 9898, "weight": primary_weight},
                                 {"name": "podinfo-canary", "port": 9898, "weight": canary_weight}]}]}}


ADOPTED = [{"namespace": "default", "name": "podinfo",
            "originalRefs": [{"rule": 0, "index": 0, "ref": {"name": "podinfo", "port": 9898}}]}]


def test_get_status_and_list_show_the_workload_through_kubectl(bare_world):
    world = bare_world
    world.api.create(ROUTES, _workload_route(90, 10), "default")
    world.create_workload_canary()
    initializing = world.plugin("get", "podinfo")
    assert initializing.returncode == 0, initializing.stderr
    assert "Replicas:  primary not found, canary not found  (ready/desired)" in initializing.stdout
    assert "Primary:   podinfo-primary  revision -" in initializing.stdout

    world.create_deployment("podinfo-primary", V1, ready=2)
    world.create_deployment("podinfo", V2, ready=1)
    world.set_status(workload_status("Progressing", release=REV2, canary_weight=10, canaryImages={"podinfo": V2},
                                     canaryReady=True, adoptedRoutes=ADOPTED), name="podinfo")
    got = world.plugin("get", "podinfo")
    assert got.returncode == 0, got.stderr
    out = got.stdout
    assert "\x1b[" not in out and not any(line.endswith(" ") for line in out.splitlines())
    assert "Target:    Deployment podinfo   (Services podinfo-primary, podinfo-canary)" in out
    assert f"Primary:   podinfo-primary  revision {REV1}  podinfo={V1}" in out
    assert f"Canary:    podinfo  revision {REV2}  podinfo={V2}  (rolling out)" in out
    assert "Replicas:  primary 2/2, canary 1/2  (ready/desired)" in out
    assert "HTTPRoute default/podinfo: podinfo-primary=90 podinfo-canary=10" in out
    assert "Release:" not in out

    summary = world.plugin("status", "podinfo")
    assert summary.returncode == 0, summary.stderr
    assert summary.stdout.splitlines()[:3] == [
        f"podinfo: release {REV2} Progressing at step 1/3, canary 10% / stable 90%: Progressing at canary 10%",
        f"  target deployment/podinfo: primary podinfo-primary revision {REV1} (podinfo={V1}); "
        f"canary revision {REV2} (podinfo={V2}), rolling out",
        "  replicas (ready/desired): primary 2/2, canary 1/2"]

    world.set_status(workload_status("Failed", release=REV2, canaryImages={"podinfo": V2}, canaryReady=False,
                                     failed={**FAILED_V3, "revision": REV2, "images": {"podinfo": V2}}),
                     name="podinfo")
    world.api.patch(DEPLOYMENTS, "default", "podinfo", {"spec": {"replicas": 0}})
    world.api.patch(DEPLOYMENTS, "default", "podinfo", {"status": {"readyReplicas": 0}}, subresource="status")
    failed = world.plugin("status", "podinfo")
    assert f"  last failed revision {REV2} (podinfo={V2}) at 2026-01-01T00:02:00Z: {FAILED_REASON}" in failed.stdout
    assert "  replicas (ready/desired): primary 2/2, canary 0/0" in failed.stdout
    detail = world.plugin("get", "podinfo")
    assert f"Failed:    revision {REV2}  podinfo={V2}  rolled back" in detail.stdout
    assert f"ago\n           {FAILED_REASON}\n" in detail.stdout

    world.create_canary("web")
    listing = world.plugin("list", "-o", "wide")
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["NAME", "PHASE", "STEP", "WEIGHT", "RELEASE", "VERDICT", "AGE", "TARGET", "STABLE",
                                "CANARY", "MESSAGE"]
    assert lines[1].split()[:5] + lines[1].split()[7:10] == [
        "podinfo", "Failed", "1/3", "0%", REV2, "deployment/podinfo", "podinfo-primary", "podinfo-canary"]
    assert lines[2].split()[:2] == ["web", "Pending"] and lines[2].split()[7:10] == ["-", "web-v1", "web-v2"]

    as_json = json.loads(world.plugin("get", "podinfo", "-o", "json").stdout)
    assert as_json["status"]["workload"]["failed"]["revision"] == REV2
    as_yaml = yaml.safe_load(world.plugin("status", "podinfo", "-o", "yaml").stdout)
    assert as_yaml["workload"]["canaryImages"] == {"podinfo": V2} and as_yaml["workload"]["revision"] == REV1


def test_get_watch_follows_a_workload_rollout_into_its_rollback(bare_world):
    world = bare_world
    world.api.create(ROUTES, _workload_route(90, 10), "default")
    world.create_workload_canary()
    world.create_deployment("podinfo-primary", V1, ready=2)
    world.create_deployment("podinfo", V2, ready=2)
    world.set_status(workload_status("Progressing", release=REV2, canary_weight=10, canaryImages={"podinfo": V2},
                                     canaryReady=True), name="podinfo")
    watcher = world.start_plugin("get", "podinfo", "--watch")
    try:
        until(lambda: any("(rolling out)" in line for line in watcher.stdout), 15, description="first block")
        world.set_status(workload_status("Failed", release=REV2, canaryImages={"podinfo": V2},
                                         failed={**FAILED_V3, "revision": REV2, "images": {"podinfo": V2}}),
                         name="podinfo")
        until(lambda: any(FAILED_REASON in line for line in watcher.stdout), 15, description="second block")
    finally:
        watcher.process.send_signal(signal.SIGINT)
        code = watcher.finish()
    out = "".join(watcher.stdout)
    assert f"Canary:    podinfo  revision {REV2}  podinfo={V2}  (rolled back)" in out
    assert out.count("Replicas:  primary 2/2, canary 2/2  (ready/desired)") == 2
    assert code == 0
