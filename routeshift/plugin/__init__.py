"""``kubectl canary``: the kubectl plugin people and pipelines use to watch and steer rollouts.

kubectl finds the executable ``kubectl-canary`` (console script ``routeshift.plugin:main``)
on PATH. Modules, each with one job:

- ``cli``: argument parsing and one small function per command
- ``cluster``: kubeconfig/in-cluster access; reads and merge/JSON patches of Canaries
- ``canaries``: a lenient read-only view of a served Canary
- ``requesting``: manual operations as annotation patches, refused when they cannot apply
- ``waiting``: ``wait`` and its exit codes
- ``streaming``: list+watch in a thread, for ``--watch`` and ``wait``
- ``live`` and ``rendering``: the rich views
- ``linting``: offline validation against the CRD schema and the controller's models
- ``completion``: bash, zsh and kubectl plugin completion
- ``dashboard``: ``kubectl canary dashboard``, a live web page on 127.0.0.1 (a subpackage)
"""

from routeshift.plugin.cli import main

__all__ = ["main"]
