"""Copy the repository's CRDs into the Helm chart, or check that the copy is exact.

Helm installs whatever sits in a chart's ``crds/`` directory, but the CRDs are generated
from the controller's pydantic models into the top-level ``crds/`` (``python -m
rollouts.crd --out-dir crds``). The chart must carry exactly those files, byte for
byte, and nothing else; this script is the one way they get there::

    python charts/sync_crds.py           # copy (and remove CRDs that no longer exist)
    python charts/sync_crds.py --check   # exit 1 and name the files on drift

An empty or missing source is an error, never "nothing to do": a chart without its
CRDs installs a controller that cannot start.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCE = REPO_ROOT / "crds"
TARGET = REPO_ROOT / "charts" / "routeshift" / "crds"
PATTERN = "*.yaml"


class NoCRDs(RuntimeError):
    """The top-level crds/ directory holds no CRD YAML to ship."""


def source_files(source: Path = SOURCE) -> dict[str, bytes]:
    files = {path.name: path.read_bytes() for path in sorted(source.glob(PATTERN))} if source.is_dir() else {}
    if not files:
        raise NoCRDs(f"{source} holds no {PATTERN}: generate the CRDs first (python -m rollouts.crd --out-dir crds)")
    return files


def drift(source: Path = SOURCE, target: Path = TARGET) -> list[str]:
    """Human-readable differences between the chart's CRDs and the source; empty when in sync."""
    wanted = source_files(source)
    present = {path.name: path.read_bytes() for path in sorted(target.glob(PATTERN))} if target.is_dir() else {}
    problems = [f"missing in chart: {name}" for name in sorted(wanted.keys() - present.keys())]
    problems += [f"not in {source.name}/ (stale): {name}" for name in sorted(present.keys() - wanted.keys())]
    problems += [f"differs: {name}" for name in sorted(wanted.keys() & present.keys()) if wanted[name] != present[name]]
    return problems


def sync(source: Path = SOURCE, target: Path = TARGET) -> list[str]:
    """Make ``target`` an exact copy of the CRD files in ``source``; return what changed."""
    changes = drift(source, target)
    target.mkdir(parents=True, exist_ok=True)
    wanted = source_files(source)
    for path in target.glob(PATTERN):
        if path.name not in wanted:
            path.unlink()
    for name in wanted:
        shutil.copyfile(source / name, target / name)
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report drift; exit 1 when there is any")
    args = parser.parse_args(argv)
    try:
        changes = drift() if args.check else sync()
    except NoCRDs as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for change in changes:
        print(change, file=sys.stderr if args.check else sys.stdout)
    return 1 if args.check and changes else 0


if __name__ == "__main__":
    sys.exit(main())
