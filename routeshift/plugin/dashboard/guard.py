"""Who may read the dashboard and who may press its buttons.

The dashboard acts with the user's own kubeconfig, so a request it accepts is a request
the user's credentials make. Three threats come from the browser the user has open on
other sites, and each has its check here:

- DNS rebinding: a page on ``evil.example`` whose name is made to resolve to 127.0.0.1
  becomes "same-origin" with the dashboard and could read it. Every request must carry a
  ``Host`` naming the loopback address and port the dashboard listens on.
- Cross-site request forgery: any page may POST to 127.0.0.1 (a form submits without
  CORS). An operation needs the per-run token, sent in the ``X-Routeshift-Token`` header;
  a custom header cannot be sent cross-origin without a CORS preflight, which the server
  never grants, and the token itself is known only to the person who started the command
  (it is printed in the URL's fragment, which browsers never send to a server).
- Browsers that say where a request comes from (``Origin``, ``Sec-Fetch-Site``) must
  say it comes from the dashboard itself.

Without ``--allow-actions`` there is no token and every operation is refused (403):
the dashboard is then read-only whatever the request carries. Pure functions, no I/O.
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
from collections.abc import Mapping

TOKEN_HEADER = "X-Routeshift-Token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


@dataclasses.dataclass(frozen=True)
class Refusal:
    """An HTTP status and the one line that explains it."""

    status: int
    message: str


def new_token() -> str:
    return secrets.token_urlsafe(24)


@dataclasses.dataclass(frozen=True)
class Guard:
    """The checks for a dashboard listening on 127.0.0.1:``port``; ``token`` None: read-only."""

    port: int
    token: str | None = None

    @property
    def actions_allowed(self) -> bool:
        return self.token is not None

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(f"http://{name}:{self.port}" for name in LOOPBACK_NAMES)

    def check_request(self, headers: Mapping[str, str]) -> Refusal | None:
        """Any request: the Host must be the dashboard's own loopback address."""
        host = (headers.get("Host") or "").strip().lower()
        if host not in {f"{name}:{self.port}" for name in LOOPBACK_NAMES}:
            return Refusal(421, f"unexpected Host {host!r}: open the dashboard at http://127.0.0.1:{self.port}/")
        return None

    def check_action(self, headers: Mapping[str, str]) -> Refusal | None:
        """An operation: allowed by the flag, carrying the token, and not sent from another site."""
        if self.token is None:
            return Refusal(403, "the dashboard is read-only: start it with --allow-actions to use operations")
        refused = self.check_request(headers)
        if refused is not None:
            return refused
        origin = headers.get("Origin")
        if origin is not None and origin not in self.origins:
            return Refusal(403, f"operation refused: request from another origin ({origin})")
        site = headers.get("Sec-Fetch-Site")
        if site is not None and site not in ("same-origin", "none"):
            return Refusal(403, f"operation refused: request from another site (Sec-Fetch-Site: {site})")
        sent = headers.get(TOKEN_HEADER) or ""
        if not hmac.compare_digest(sent.encode(), self.token.encode()):
            return Refusal(403, "operation refused: missing or wrong token; open the URL the dashboard printed "
                                "(it carries the token after #)")
        return None
