"""The dashboard JSON shipped in the chart and in examples/ is exactly what the code generates.

Editing the JSON by hand (or changing the code without regenerating) fails here; the
fix is always `python -m routeshift.dashboards`.
"""

import importlib

import pytest

from routeshift.dashboards import render

cli = importlib.import_module("routeshift.dashboards.__main__")


@pytest.mark.parametrize("directory", render.DEFAULT_OUTPUTS, ids=lambda path: path.parent.name + "/" + path.name)
def test_committed_dashboards_equal_a_fresh_rendering(directory):
    assert render.stale(directory) == [], "stale dashboard JSON: run python -m routeshift.dashboards"
    assert sorted(path.name for path in directory.glob("*.json")) == sorted(render.rendered()), \
        "a JSON file without a generator (or the reverse)"


def test_check_mode_reports_a_hand_edit(tmp_path, capsys):
    assert cli.main(["--out", str(tmp_path)]) == 0
    assert cli.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "routeshift-canary.json").write_text("{}\n")
    capsys.readouterr()
    assert cli.main(["--check", "--out", str(tmp_path)]) == 1
    stderr = capsys.readouterr().err
    assert "routeshift-canary.json" in stderr
    assert "routeshift-controller.json" not in stderr


def test_rendering_is_deterministic():
    assert render.rendered() == render.rendered()
