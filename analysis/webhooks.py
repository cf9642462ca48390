"""Call a rollout webhook and report whether it said yes.

The controller gates steps on webhooks (pre-rollout, rollout, confirm-promotion,
post-rollout, rollback, event; see :class:`analysis.model.WebhookType`). A webhook
"says yes" by answering 2xx; anything else — including never answering — is a no, and
the controller decides what a no means for that hook type. This function therefore never
raises for HTTP trouble: it returns a :class:`WebhookOutcome` with the reason.

The request is a POST with a JSON body (keys sorted, compact) containing at least::

    {"name": <Canary name>, "namespace": <Canary namespace>, "phase": <phase>,
     "weight": <canary weight>, "step": <step index>, "type": <hook type>,
     "metadata": {<the hook's metadata, then the caller's>}}

Headers: ``Content-Type: application/json``, ``X-Routeshift-Webhook: <hook name>`` and,
when a secret is given, ``X-Routeshift-Signature: sha256=<hex HMAC-SHA256 of the exact
body bytes>`` (the GitHub convention, so existing verifiers work). Transient failures
(connect errors, timeouts, HTTP 5xx and 429) are retried with tenacity; a 4xx is final.

The reply's body becomes :attr:`WebhookOutcome.detail`, one bounded, printable line that
the controller shows in the decision log: a JSON object's string ``summary`` when it has
one (the loadtester's results, for instance), otherwise the body's text.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

import httpx
import tenacity

from analysis import durations, model
from analysis.tls import default_context

SIGNATURE_HEADER = "X-Routeshift-Signature"
HOOK_HEADER = "X-Routeshift-Webhook"
REQUIRED_KEYS = ("name", "namespace", "phase", "weight", "step")
DETAIL_LIMIT = 240  # characters of a reply kept for the decision log
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@dataclasses.dataclass(frozen=True)
class WebhookOutcome:
    """Whether the hook approved (2xx), its last status code, why, and what its reply said."""

    ok: bool
    status_code: int | None
    reason: str
    attempts: int = 1
    detail: str = ""  # the reply summarised by summarise_reply; also part of reason


class _Transient(Exception):
    """A failure worth retrying; carries the outcome to report if retries run out."""

    def __init__(self, outcome: WebhookOutcome):
        super().__init__(outcome.reason)
        self.outcome = outcome


def build_payload(hook: model.WebhookSpec, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON document sent to ``hook``: the caller's fields plus type and metadata."""
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        # The payload is a documented contract; a caller omitting fields is a bug.
        raise ValueError(f"webhook payload lacks {missing}")
    body = dict(payload)
    body["type"] = hook.type.value
    body["metadata"] = {**hook.metadata, **dict(payload.get("metadata") or {})}
    return body


def encode(body: Mapping[str, Any]) -> bytes:
    """Canonical bytes of the body: what is sent and what is signed."""
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign(body: bytes, secret: str | bytes) -> str:
    """The signature header value for ``body``: ``sha256=<hex digest>``."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str | bytes, signature: str) -> bool:
    """Check a signature in constant time (for receivers, and for our tests)."""
    return hmac.compare_digest(sign(body, secret), signature)


def summarise_reply(body: str) -> str:
    """One line of at most :data:`DETAIL_LIMIT` printable characters saying what a reply said.

    A JSON object with a string ``summary`` is represented by it; any other body by its
    text. Control characters and runs of whitespace become one space, so a reply can
    neither break the decision log into lines nor grow it without bound.
    """
    text = body.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if isinstance(document, dict) and isinstance(document.get("summary"), str):
            text = document["summary"]
    line = " ".join(_UNPRINTABLE.sub(" ", text).split())
    return line if len(line) <= DETAIL_LIMIT else line[: DETAIL_LIMIT - 1].rstrip() + "…"


async def call_webhook(
    hook: model.WebhookSpec,
    payload: Mapping[str, Any],
    *,
    secret: str | bytes | None = None,
    client: httpx.AsyncClient | None = None,
    backoff: float = 0.2,
) -> WebhookOutcome:
    """POST the payload to the hook; ok when it answers 2xx, retrying transient failures.

    ``secret`` is the HMAC key the caller read from ``hook.secret_ref``; ``client`` lets
    the controller reuse connections (its TLS settings apply).
    """
    body = encode(build_payload(hook, payload))
    headers = {"Content-Type": "application/json", HOOK_HEADER: hook.name}
    if secret is not None:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    timeout = durations.seconds(hook.timeout)
    owned = client is None
    http = client or httpx.AsyncClient(verify=default_context())
    attempts = 0
    retrying = tenacity.AsyncRetrying(
        stop=tenacity.stop_after_attempt(hook.retries + 1),
        wait=tenacity.wait_exponential(multiplier=backoff, max=2.0),
        retry=tenacity.retry_if_exception_type(_Transient),
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                attempts += 1
                return await _post(http, hook, body, headers, timeout, attempts)
    except _Transient as error:
        return dataclasses.replace(error.outcome, reason=f"{error.outcome.reason} after {attempts} attempts")
    finally:
        if owned:
            await http.aclose()
    raise AssertionError("unreachable: tenacity returns or reraises")


async def _post(
    http: httpx.AsyncClient, hook: model.WebhookSpec, body: bytes, headers: dict[str, str], timeout: float, attempts: int
) -> WebhookOutcome:
    try:
        response = await http.post(hook.url, content=body, headers=headers, timeout=timeout)
    except httpx.TransportError as error:
        # Unreachable or too slow: maybe a restarting receiver, so try again.
        raise _Transient(WebhookOutcome(False, None, f"{type(error).__name__}: {error}", attempts)) from error
    status = response.status_code
    detail = summarise_reply(response.text)
    if 200 <= status < 300:
        return WebhookOutcome(True, status, f"approved (HTTP {status})" + (f": {detail}" if detail else ""),
                              attempts, detail)
    reason = f"HTTP {status}" + (f": {detail}" if detail else "")
    if status >= 500 or status == 429:
        # The receiver is failing or throttling us, not answering "no": retry.
        raise _Transient(WebhookOutcome(False, status, reason, attempts, detail))
    # A 4xx (or a 1xx/3xx we do not follow) is the receiver's answer: final.
    return WebhookOutcome(False, status, reason, attempts, detail)
