"""A built-in load generator for Canaries with too little traffic to judge (``routeshift loadtester``).

The controller calls it as a webhook (``rollout`` every analysis interval, ``pre-rollout``
for a smoke test); the hook's metadata says what load to send. Layout: ``spec`` (metadata
→ bounded load spec), ``allowlist`` (where load may go), ``pacing`` and ``stats`` (pure
arithmetic), ``generator`` (one run over httpx), ``runs`` (deduplication), ``server``
(aiohttp endpoints), ``metrics``, ``cli``. See ``docs/load-testing.md``.
"""
