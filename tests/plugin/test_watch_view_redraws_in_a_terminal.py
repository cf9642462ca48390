"""``get --watch`` and ``list --watch`` in a pseudo-terminal: the view redraws in place as status moves.

The plugin runs through the real kubectl with its stdout on a pty, so rich draws a live
display; the test writes new status (playing the controller) and reads the terminal
until the new weights and metric values are drawn. Redrawing in place means cursor-up
and erase-line sequences instead of a second copy of the view appended below.
"""

import signal

from plugin_world import ANSI, Terminal, metric, status
from routeshift.testing.polling import until

CURSOR_UP = "\x1b[1A"
ERASE_LINE = "\x1b[2K"


def test_get_watch_redraws_weights_and_metric_values(world):
    world.set_status(status("Progressing", step=0, canary_weight=10,
                            metrics=[metric(None, "Inconclusive", samples=12, reason="insufficient traffic 12/50")]))
    terminal = Terminal([str(world.kubectl.binary), "canary", "get", "web", "--watch"], world.kubectl.env)
    try:
        terminal.wait_for("Progressing", "step 1/3", "insufficient traffic 12/50", "12/50")
        terminal.wait_for_pattern(r"stable\s+web-v1\s+█{27}░{3}\s+90%")
        terminal.wait_for_pattern(r"canary\s+web-v2\s+█{3}░{27}\s+10%")
        drawn_before = len(terminal.raw)
        world.set_status(status("Progressing", step=1, canary_weight=50,
                                metrics=[metric(99.87, "Successful", samples=640)]))
        terminal.wait_for_pattern(r"canary\s+web-v2\s+█{15}░{15}\s+50%", since=drawn_before)
        terminal.wait_for_pattern(r"request-success-rate\s+99\.87\s+>= 99\s+640/50\s+Successful",
                                  since=drawn_before)
        assert "step 2/3" in ANSI.sub("", terminal.raw[drawn_before:])
    finally:
        code = terminal.interrupt()
    redraw = terminal.raw[drawn_before:]
    assert CURSOR_UP in redraw and ERASE_LINE in redraw  # drawn over the old view, not below it
    assert code == 0


def test_list_watch_redraws_the_table(world):
    world.create_canary("api")
    world.set_status(status("Progressing", step=0, canary_weight=10))
    terminal = Terminal([str(world.kubectl.binary), "canary", "list", "--watch"], world.kubectl.env)
    try:
        terminal.wait_for("NAME", "api", "web", "Progressing", "10%")
        drawn_before = len(terminal.raw)
        world.set_status(status("Failed", canary_weight=0, result="failed"), name="api")
        terminal.wait_for("Failed")
    finally:
        code = terminal.interrupt()
    assert CURSOR_UP in terminal.raw[drawn_before:]
    assert code == 0


def test_get_watch_into_a_pipe_appends_a_block_per_change(world):
    world.set_status(status("Progressing", step=0, canary_weight=10))
    watcher = world.start_plugin("get", "web", "--watch")
    try:
        until(lambda: any("step 1/3" in line for line in watcher.stdout), 15, description="first block")
        world.set_status(status("Progressing", step=1, canary_weight=50))
        until(lambda: any("step 2/3" in line for line in watcher.stdout), 15, description="second block")
    finally:
        watcher.process.send_signal(signal.SIGINT)
        code = watcher.finish()
    out = "".join(watcher.stdout)
    assert "\x1b[" not in out and out.count("kubectl canary get web --watch") == 2
    assert code == 0
