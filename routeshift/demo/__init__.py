"""The ``routeshift demo`` stack: every part of the routing loop on one machine."""

from routeshift.demo.runner import main

__all__ = ["main"]
