"""Routeshift: progressive delivery for the Kubernetes Gateway API.

This package holds the application shell around the three core packages (``rollouts``,
``analysis``, ``gateway_proxy``): the ``routeshift`` command, the demo, the Kubernetes
API emulator and the helpers that tests and the demo use to run real components. The
core packages never import it.
"""

__version__ = "0.1.0"
