"""``kubectl canary dashboard``: a local web page that follows Canaries live, as Argo Rollouts' does.

It serves on 127.0.0.1 with the user's kubeconfig, read-only unless started with
``--allow-actions``. Modules, each with one job:

- ``views``: the JSON document shown for one Canary (pure)
- ``board``: the watched objects, their views, and what changed (pure)
- ``guard``: Host, origin and token checks against DNS rebinding and CSRF (pure)
- ``following``: the Canary and HTTPRoute watches, in threads
- ``pushing``: Server-Sent Events to every open page
- ``server``: the aiohttp application, its JSON API and the operations
- ``static/``: the page itself, plain HTML, CSS and JavaScript (no build step, nothing remote)
"""
