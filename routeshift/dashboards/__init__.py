"""Routeshift's Grafana dashboards, generated from code.

Dashboards written by hand in Grafana drift from the metrics they chart and cannot be
reviewed. These are built with grafana-foundation-sdk, rendered to JSON by
``python -m routeshift.dashboards`` into the Helm chart (``charts/routeshift/dashboards``,
shipped as sidecar ConfigMaps) and ``examples/grafana``, and every panel's PromQL is run
against a real Prometheus in ``tests/dashboards``.
"""
