"""Pick the hot-path build once, at import: compiled when available, pure Python otherwise.

Callers write ``from gateway_proxy import hotpath`` and use ``hotpath.impl``; both builds stay
importable by name (``_hotpath_c``, ``_hotpath_py``) so tests can run each. The fallback is logged
in one line because a silently slow proxy is worse than a loud one.
"""

from __future__ import annotations

import logging
import os
from types import ModuleType

from gateway_proxy import _hotpath_py

logger = logging.getLogger("gateway_proxy")

PURE = _hotpath_py


def compiled() -> ModuleType | None:
    """The Cython build, or None when it was not compiled (``_hotpath_c.py`` alone is not a build)."""
    try:
        from gateway_proxy import _hotpath_c
    except ImportError:
        return None
    if (_hotpath_c.__file__ or "").endswith((".py", ".pyc")):
        return None
    return _hotpath_c


def _select() -> tuple[ModuleType, str]:
    if os.environ.get("ROUTESHIFT_NO_EXTENSIONS") == "1":
        return PURE, "ROUTESHIFT_NO_EXTENSIONS=1"
    build = compiled()
    if build is None:
        return PURE, "the compiled extension is not built"
    return build, ""


impl, _reason = _select()
if _reason:
    logger.info("gateway_proxy: pure-Python hot path in use (%s)", _reason)
