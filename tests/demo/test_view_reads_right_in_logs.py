"""The demo's live view and ``--plain`` lines, rendered into a buffer as a log or a pipe receives them.

Two things a new user was misled by: the observed split did not say which traffic it
described (after a rollback the frozen last frame still showed the canary's share), and
the release's closing line continued the panel's last decision line when the output was
not a terminal. The views are rendered by rich exactly as the runner drives them: a
``Live`` display (or the plain printer) on a console, then the closing line printed on the
same console.
"""

import io
import re
import time

from rich.console import Console
from rich.live import Live

from routeshift.demo import view

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CLOSING = "release v3: rolled back after 41s, as expected: rolled back"
ROLLED_BACK = {
    "spec": {"stable": {"name": "podinfo-blue"}, "canary": {"name": "podinfo-green"}},
    "status": {"phase": "Failed", "release": "v3", "stepProgress": "1/5", "weights": {"stable": 100, "canary": 0},
               "decisions": [
                   {"time": "2026-01-01T10:00:01Z", "phase": "RollingBack",
                    "reason": "analysis failed at weight 10%: request-success-rate: 94.8 below min 99",
                    "metrics": [{"metric": "request-success-rate", "value": 94.8, "bound": ">= 99",
                                 "sampleSize": 300, "verdict": "Failed"}]},
                   {"time": "2026-01-01T10:00:02Z", "phase": "Failed",
                    "reason": "rolled back: podinfo-blue serves all traffic (failed)"}]},
}


def snapshot(**traffic) -> view.Snapshot:
    figures = {"observed": {"v2": 0.9, "v3": 0.1}, "observed_rps": 150.0, "error_share": 0.0} | traffic
    return view.from_canary(ROLLED_BACK, scenario="errors", release="v3", started=time.monotonic(), **figures)


def console(*, terminal: bool = False, width: int = 80) -> Console:
    return Console(file=io.StringIO(), width=width, highlight=False, force_terminal=terminal)


def test_the_live_view_says_which_window_the_observed_split_covers():
    out = console()
    out.print(view.render(snapshot(window_seconds=30)))
    assert "observed at the gateway (last 30 s): v2 90%, v3 10%  (150 req/s, 0.0% 5xx)" in out.file.getvalue()


def test_the_plain_traffic_line_says_its_window_and_error_share():
    out = console(width=200)
    view.PlainPrinter(out, traffic_every=0).update(snapshot(window_seconds=30, error_share=0.005))
    assert ("[v3] Failed step 1/5 set canary 0% | observed (last 30 s) v2 90%, v3 10% at 150 req/s, 0.5% 5xx | "
            "request-success-rate=94.8 (Failed, n=300)") in out.file.getvalue()


def test_a_view_not_told_its_window_calls_the_figures_recent_rather_than_current():
    out = console()
    out.print(view.render(snapshot()))
    assert "observed at the gateway (recent): v2 90%, v3 10%" in out.file.getvalue()


def test_the_closing_line_starts_a_line_of_its_own_after_the_live_view_in_a_log():
    out = console()
    with Live(console=out, refresh_per_second=4, transient=False) as live:
        live.update(view.render(snapshot()))
    out.print(CLOSING, markup=False)
    lines = out.file.getvalue().splitlines()
    assert CLOSING in lines, lines[-3:]
    assert lines[lines.index(CLOSING) - 1].endswith("Failed: rolled back: podinfo-blue serves all traffic (failed)")


def test_on_a_terminal_the_live_view_still_ends_right_above_the_closing_line():
    out = console(terminal=True)
    with Live(console=out, refresh_per_second=4, transient=False) as live:
        live.update(view.render(snapshot()))
    out.print(CLOSING, markup=False)
    text = ANSI.sub("", out.file.getvalue())
    assert "Failed: rolled back: podinfo-blue serves all traffic (failed)\n" + CLOSING in text


def test_plain_lines_are_whole_lines_whatever_the_console_width():
    out = console(width=80)
    printer = view.PlainPrinter(out, traffic_every=0)
    printer.update(snapshot())
    out.print(CLOSING, markup=False, soft_wrap=True)
    lines = out.file.getvalue().splitlines()
    assert lines[0] == "[v3] 10:00:01 RollingBack: analysis failed at weight 10%: request-success-rate: 94.8 below min 99"
    assert lines[1] == "[v3] 10:00:02 Failed: rolled back: podinfo-blue serves all traffic (failed)"
    assert lines[2].startswith("[v3] Failed step 1/5 set canary 0% | observed ")
    assert lines[3] == CLOSING and len(lines) == 4


def _workload_canary(phase, **workload):
    return {"spec": {"targetRef": {"name": "podinfo"}},
            "status": {"phase": phase, "release": "b2", "weights": {"stable": 80, "canary": 20},
                       "workload": {"revision": "a1", "images": {"app": "demo-app:v1"},
                                    "canaryImages": {"app": "demo-app:v2"}, **workload}}}


def _deployment(ready, desired):
    return {"spec": {"replicas": desired}, "status": {"readyReplicas": ready}}


def test_a_workload_canary_shows_revisions_images_and_replicas_of_both_sides():
    snap = view.from_canary(_workload_canary("Progressing"), scenario="default", release="v2", observed={},
                            observed_rps=0, error_share=0, started=0,
                            deployments={"podinfo-primary": _deployment(2, 2), "podinfo": _deployment(1, 2)})
    assert (snap.stable_name, snap.canary_name) == ("podinfo-primary", "podinfo-canary")
    primary, canary = snap.workloads
    assert "podinfo-primary" in primary and "revision a1" in primary and "v1" in primary and "2/2 ready" in primary
    assert "revision b2" in canary and "v2" in canary and "1/2 ready" in canary


def test_after_a_rollback_the_view_names_the_failed_revision():
    canary = _workload_canary("Failed", failed={"revision": "b2", "images": {"app": "demo-app:v3"}})
    snap = view.from_canary(canary, scenario="default", release="v3", observed={}, observed_rps=0, error_share=0,
                            started=0, deployments={"podinfo-primary": _deployment(2, 2), "podinfo": _deployment(0, 0)})
    assert "revision -" in snap.workloads[1], "no canary revision between rollouts"
    assert snap.workloads[-1] == "rolled back: revision b2 (v3)"


def test_a_grpc_view_counts_failed_calls_rather_than_5xx():
    # Failed gRPC calls arrive as HTTP 200: a "0.0% 5xx" next to UNAVAILABLE answers would mislead.
    out = console(width=200)
    view.PlainPrinter(out, traffic_every=0).update(snapshot(window_seconds=4, error_share=0.012,
                                                            failure_label="failed"))
    assert "v2 90%, v3 10% at 150 req/s, 1.2% failed | request-success-rate=94.8" in out.file.getvalue()
