"""Fixtures shared by every test package: the API emulator, kopf, kubectl and Prometheus."""

pytest_plugins = ["routeshift.testing.kube_fixtures", "routeshift.testing.prometheus_fixtures"]
