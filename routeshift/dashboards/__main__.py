"""``python -m routeshift.dashboards [--out DIR ...] [--check]``: write or verify the dashboard JSON.

Without ``--out`` it writes to both places the JSON is shipped from: the Helm chart and
``examples/grafana``. ``--check`` writes nothing and exits 1 when a file is stale.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from routeshift.dashboards import render


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m routeshift.dashboards", description=__doc__.splitlines()[0])
    parser.add_argument("--out", action="append", type=Path, metavar="DIR",
                        help="output directory (repeatable); default: the chart's dashboards/ and examples/grafana/")
    parser.add_argument("--check", action="store_true", help="exit 1 if any file differs from a fresh rendering")
    args = parser.parse_args(argv)
    directories = args.out or list(render.DEFAULT_OUTPUTS)
    if args.check:
        problems = [f"{directory / name}" for directory in directories for name in render.stale(directory)]
        for problem in problems:
            print(f"stale: {problem} (run python -m routeshift.dashboards)", file=sys.stderr)
        return 1 if problems else 0
    for directory in directories:
        for path in render.write(directory):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
