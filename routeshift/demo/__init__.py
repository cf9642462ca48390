"""The ``routeshift demo`` stack: every part of the routing loop on one machine."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``routeshift demo``. The runner is imported here, not with the package: the demo
    apps' Pods start as ``python -m routeshift.demo.app`` (or ``.grpc_app``), and loading the
    whole stack first cost each of them about a second of CPU."""
    from routeshift.demo import runner

    return runner.main(argv)


__all__ = ["main"]
