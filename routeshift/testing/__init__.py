"""Helpers that tests and the demo share to run real components: the API emulator,
the kopf operator in a thread, Prometheus, kubectl, and polling with a deadline."""
