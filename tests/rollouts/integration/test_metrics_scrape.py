"""A Prometheus scrape of the controller's /metrics never holds back its Canaries.

The render runs beside the operator's event loop: here it is held in the middle (a collector
registered beside the controller's own waits) while a whole rollout runs, and the scrape
completes once let go, with every series the controller exports.
"""

from __future__ import annotations

import threading
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from operator_harness import CANARIES, ScriptedAnalysis, canary, phase
from routeshift.testing.polling import until


class _HeldRender:
    """A collector that keeps the render it is part of waiting until the test lets it go."""

    def __init__(self) -> None:
        self.rendering, self.released = threading.Event(), threading.Event()

    def describe(self) -> list:
        return []

    def collect(self):
        self.rendering.set()
        self.released.wait(60)  # a bound, so that a render on the loop fails the test instead of hanging it
        return iter(())


def test_a_rollout_runs_to_its_end_while_a_scrape_is_being_rendered(cluster, gateway, start):
    controller, _ = start(ScriptedAnalysis(gateway=gateway), metrics_port=0)
    held = _HeldRender()
    controller.metrics.registry.register(held)
    scraped: dict[str, bytes] = {}
    url = f"http://127.0.0.1:{controller.served_port}/metrics"
    scrape = threading.Thread(target=lambda: scraped.update(body=urllib.request.urlopen(url, timeout=90).read()))
    scrape.start()
    try:
        until(held.rendering.is_set, timeout=20, description="the scrape's render under way")
        cluster.create(CANARIES, canary(), "default")
        until(lambda: phase(cluster) == "Succeeded", timeout=20, description="the rollout done during the render")
        assert not held.released.is_set() and "body" not in scraped  # the scrape is still waiting
    finally:
        held.released.set()
        scrape.join(30)
    families = {family.name for family in text_string_to_metric_families(scraped["body"].decode())}
    assert {"routeshift_canary_phase", "routeshift_rollouts", "routeshift_reconcile_duration_seconds"} <= families
    # The next scrape shows what the rollout left.
    after = urllib.request.urlopen(url, timeout=30).read().decode()
    assert 'routeshift_canary_phase{name="web",namespace="default",phase="Succeeded"} 1.0' in after
    assert 'routeshift_rollouts_total{name="web",namespace="default",result="succeeded"} 1.0' in after
