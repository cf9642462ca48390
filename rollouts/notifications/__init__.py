"""Chat notifications about Canary rollouts: Slack, Microsoft Teams, Discord, Google Chat, webhooks.

The state machine names *what* happened (``actions.Notify``, mapped from the reasons it
already records); this package decides *who hears of it* and *how it looks there*:

- ``model``: the ``NotificationProvider`` resource, the Canary's ``spec.notifications``
  and the controller's cluster-wide subscriptions (pure);
- ``events``: which recorded reasons are notified, and the notice they become (pure);
- ``payloads``: each service's documented message format (pure);
- ``ratelimit``: a sliding-window limit per provider and Canary (pure, clock injected);
- ``delivery``: one HTTP POST with a timeout and retries of transient failures;
- ``notifier``: resolves providers and Secrets and delivers in the background, so a slow
  or failing chat service never delays a reconciliation.

This module imports nothing, so the pure controller core can import the pure modules.
"""
