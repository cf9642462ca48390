"""Watch-fed caches: what the controller reads of routes, Services and Deployments, without asking.

Why: a rollout that dwells on a step used to GET its route and both Services on every poll,
so a controller holding hundreds of Canaries spent most of its time re-reading objects
that had not changed, and a step's next write came seconds late. Here one list+watch per
kind (shared by every Canary) keeps a local copy of each object with its resourceVersion;
reconciliations read the copy, route patches still carry that resourceVersion as their
precondition, and a change wakes exactly the Canaries that depend on the object.

- :mod:`.store`: the pure part, a keyed copy that applies a list or a watch event;
- :mod:`.kinds`: which resources are cached and where they are listed;
- :mod:`.informer`: the list-then-watch loop over HTTP, relisting after a 410 or a broken stream;
- :mod:`.interest`: which Canaries to wake for which object;
- :mod:`.cached_cluster`: the API client that answers reads from the caches when they are synced.
"""
