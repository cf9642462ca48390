"""Make the shared builders (``canary_builders``, ``integration/operator_harness``) importable.

The suite runs with ``--import-mode=importlib``, which does not put test directories on
``sys.path``; the builders are plain functions used inside ``pytest.param`` tables, so
they must be importable at collection time rather than provided as fixtures.
"""

import pathlib
import sys

for _directory in (pathlib.Path(__file__).parent, pathlib.Path(__file__).parent / "integration"):
    if str(_directory) not in sys.path:
        sys.path.insert(0, str(_directory))
