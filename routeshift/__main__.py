"""``python -m routeshift`` is the ``routeshift`` command."""

import sys

from routeshift.cli import main

sys.exit(main())
